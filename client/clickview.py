"""ClickView: OAuth 2.0 client credentials, sent in the form body exactly as the document's curl does.

Source: 001_0e0313c3f1495410.txt (host https://auth.clickviewapp.com, path /connect/token). The body
carries client_id and client_secret (client_secret_post), the one method the document names (CV-02
strict), so the client works against the real server and the mock in either reading. Errors are
RFC 6749 §5.2 JSON, which the shared core already parses; ClickView answers invalid_client with 400
(Duende), hence the error code rather than the status says "credentials refused".
"""

from __future__ import annotations

from typing import Any

from tokenmock.client.base import TokenClient
from tokenmock.client.flow import Flow

TOKEN_PATH = "/connect/token"


class ClickViewClient(TokenClient):
    """Fetches ClickView access tokens; no refresh token is issued, so a new one is requested on expiry."""

    vendor = "clickview"
    default_base_url = "https://auth.clickviewapp.com"
    credential_codes = frozenset({"invalid_client"})
    secret_attributes = ("_client_secret",)

    def __init__(
        self, client_id: str, client_secret: str, scope: str = "smartembed.viewkey", **options: Any
    ) -> None:
        """`options` are TokenClient's: base_url, session, timeout, leeway, store, retry, clock, sleep."""
        super().__init__(**options)
        self.client_id = client_id
        self._client_secret = client_secret
        self.scope = scope

    @property
    def identity(self) -> str:
        return f"{self.client_id}|{self.scope}"

    def _login(self) -> Flow:
        payload = yield self.send(
            "requestToken",
            "POST",
            TOKEN_PATH,
            # requests form-urlencodes the values, so secrets with `+ & % =` survive (CV-04).
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self._client_secret,
                "scope": self.scope,
            },
        )
        return self._token_from(payload, "requestToken")
