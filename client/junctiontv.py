"""JunctionTV: Basic client credentials POSTed to the UMS OAuth URL; errors are `{result, message, reason}`.

Source: 000_5dbfd55030ae46b2.txt. No refresh flow: the document's loop is "on 401, get a new token",
which `auth()` does once per failed call (JTV-13 strict reading).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from tokenmock.client.base import TokenClient
from tokenmock.client.flow import Flow

TOKEN_PATH = "/ums/2.0/oauth/"  # with its trailing slash, as documented (JTV-05)


def basic_header(client_id: str, client_secret: str) -> str:
    """`Basic base64(client_id:client_secret)` of the UTF-8 bytes, parts not URL-encoded (JTV-01, JTV-02).

    Built here rather than by requests, which encodes str credentials as Latin-1.
    """
    raw = f"{client_id}:{client_secret}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


class JunctionTVClient(TokenClient):
    """Fetches JunctionTV access tokens (opaque, `expires_in` seconds, no `token_type`: bearer assumed)."""

    vendor = "junctiontv"
    default_base_url = "https://cloud.junctiontv.net"
    credential_codes = frozenset({"UNAUTHORIZED"})
    secret_attributes = ("_client_secret",)

    def __init__(self, client_id: str, client_secret: str, **options: Any) -> None:
        """`options`: `base_url`, `session`, `timeout`, `leeway`, `store`, `retry` (see `TokenClient`)."""
        super().__init__(**options)
        self.client_id = client_id
        self._client_secret = client_secret

    @property
    def identity(self) -> str:
        return self.client_id

    def _secret_values(self) -> list[str]:
        # The Basic credentials as sent, should a server echo the Authorization header.
        return [*super()._secret_values(), basic_header(self.client_id, self._client_secret).split(" ", 1)[1]]

    def _login(self) -> Flow:
        # The header table requires the form Content-Type although no field is named (JTV-03): an
        # empty form satisfies the strict reading and every lenient server alike.
        payload = yield self.send(
            "getAccessToken",
            "POST",
            TOKEN_PATH,
            headers={
                "Authorization": basic_header(self.client_id, self._client_secret),
                "Content-Type": "application/x-www-form-urlencoded",
            },
            data=b"",
        )
        return self._token_from(payload, "getAccessToken")

    def _error_of(self, payload: Any) -> tuple[str | None, str]:
        """`message` ("UNAUTHORIZED", "NOT_FOUND") is the code, `reason` the message."""
        if isinstance(payload, Mapping):
            code = payload.get("message")
            return (str(code) if code else None, str(payload.get("reason") or code or "refused"))
        return None, "refused"
