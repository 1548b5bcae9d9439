"""Dive: a device_credentials login with a Basic client key and an MD5 password, renewed by refresh token.

The document (003_6e2305840961657a.txt) asks clients to keep the refresh token "in a persistent
location": pass `store=client.FileTokenStore(path)` and a new process renews with the stored refresh
token instead of logging in again. Requests are sent so that both readings of every register switch
accept them: the raw key in `Authorization: Basic` (DIVE-02), a JSON body (DIVE-01), `grant_type` in
the query string (DIVE-03), the lower-case MD5 hex digest (DIVE-04).

    dive = DiveTVClient("my-key", "me", "my-password", store=FileTokenStore("~/.dive-token.json"))
    requests.get("https://rest.dive.tv/v1/...", auth=dive.auth())
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from tokenmock.client.base import TokenClient
from tokenmock.client.flow import Flow
from tokenmock.client.token import Token

TOKEN_PATH = "/v1/token"
# Spring Security OAuth2 echoes the refused token in error_description ("Invalid refresh token: eyJ...").
_JWT_LIKE = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")


class DiveTVClient(TokenClient):
    """Tokens for one Dive user: login, then refresh (rotated or reused), then login again when refused."""

    vendor = "divetv"
    default_base_url = "https://rest.dive.tv"
    secret_attributes = ("_client_key", "_password_md5")

    def __init__(self, client_key: str, username: str, password: str, **options: Any) -> None:
        """`password` is the plain password; the MD5 digest the document asks for is applied here."""
        super().__init__(**options)
        self.username = username
        self._client_key = client_key
        self._password_md5 = hashlib.md5(password.encode("utf-8"), usedforsecurity=False).hexdigest()

    @property
    def identity(self) -> str:
        """The user, and a fingerprint of the client key (tokens are bound to both; the key stays secret)."""
        fingerprint = hashlib.sha256(self._client_key.encode("utf-8")).hexdigest()[:12]
        return f"{self.username}@{fingerprint}"

    def _login(self) -> Flow:
        return self._issue("device_credentials", {"username": self.username, "password": self._password_md5})

    def _refresh(self, token: Token) -> Flow:
        assert token.refresh_token is not None
        return self._issue("refresh_token", {"refresh_token": token.refresh_token})

    def _issue(self, grant_type: str, body: dict[str, str]) -> Flow:
        payload = yield self.send(
            "issueToken",
            "POST",
            TOKEN_PATH,
            params={"grant_type": grant_type},
            json=body,
            headers={"Authorization": f"Basic {self._client_key}", "Accept": "application/json"},
        )
        return self._token_from(payload, "issueToken")

    def _error_of(self, payload: Any) -> tuple[str | None, str]:
        """RFC 6749 §5.2 JSON, with any token the server echoes cut out of the message."""
        code, message = super()._error_of(payload)
        return code, _JWT_LIKE.sub("[token]", message)
