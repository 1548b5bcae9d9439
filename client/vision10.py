"""Vision10: client credentials as a JSON body; errors are an array of problem objects.

No host is documented (002_39cd937695dba9c6.txt gives only the path), so `base_url` is required.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tokenmock.client.base import TokenClient
from tokenmock.client.flow import Flow


class Vision10Client(TokenClient):
    """Fetches Vision10 access tokens (no refresh flow: a new token is requested when one expires)."""

    vendor = "vision10"
    default_base_url = None
    credential_codes = frozenset({"240101"})
    secret_attributes = ("_client_secret",)

    def __init__(self, client_id: str, client_secret: str, scope: str = "all", **options: Any) -> None:
        super().__init__(**options)
        self.client_id = client_id
        self._client_secret = client_secret
        self.scope = scope

    @property
    def identity(self) -> str:
        return f"{self.client_id}|{self.scope}"

    def _login(self) -> Flow:
        payload = yield self.send(
            "getAccessToken",
            "POST",
            "/v1/api/oauth/token",
            json={
                "grant_type": "client_credentials",
                "scope": self.scope,
                "client_id": self.client_id,
                "client_secret": self._client_secret,
            },
        )
        return self._token_from(payload, "getAccessToken")

    def _error_of(self, payload: Any) -> tuple[str | None, str]:
        """The first problem's errorCode and its invalid-params text."""
        if isinstance(payload, Sequence) and payload and isinstance(payload[0], Mapping):
            problem = payload[0]
            params = problem.get("invalid-params") or []
            message = "; ".join(str(p) for p in params) or str(problem.get("title") or "refused")
            return str(problem.get("errorCode") or "") or None, message
        return None, "refused"
