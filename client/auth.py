"""`BearerAuth`: requests auth on a TokenClient, with one renew-and-retry on 401 (as HTTPDigestAuth does)."""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from tokenmock.client.token import Token


class TokenSource(Protocol):
    """What BearerAuth needs of a client (a `TokenClient` is one): a valid token, and a way to drop one."""

    def token(self) -> Token: ...

    def invalidate(self, token: Token | None = None) -> None: ...


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str | None) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, default ports made explicit: what must match before a token is sent."""
    parts = urlsplit(url or "")
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port that is no number names no origin a token was meant for
        port = -1
    return scheme, (parts.hostname or "").lower(), port if port is not None else _DEFAULT_PORTS.get(scheme)


class BearerAuth(requests.auth.AuthBase):
    """Sets `Authorization: Bearer <token>`; on a 401 from the API renews the token once and retries once.

    That is JunctionTV's documented loop ("if 401, get a new token"), and right for every vendor. The
    renewal only answers the origin (scheme, host, port) the token was first sent to: requests copies
    this hook onto every redirected request (while dropping the header on a cross-origin hop), so a
    401 from the host a redirect led to would otherwise be handed a fresh token.
    """

    def __init__(self, client: TokenSource) -> None:
        self.client = client

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self.client.token()
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        request.register_hook("response", self._retry_on_401(token, origin(request.url)))
        return request

    def _retry_on_401(self, used: Any, intended: tuple[str, str, int | None]) -> Any:
        def hook(response: requests.Response, **kwargs: Any) -> requests.Response:
            if response.status_code != 401 or getattr(response.request, "_tokenmock_retried", False):
                return response
            if origin(response.request.url) != intended:  # a redirect led elsewhere: not ours to answer
                return response
            self.client.invalidate(used)
            fresh = self.client.token()
            response.content  # noqa: B018 - drain the body so the connection can be reused
            response.close()
            retry = response.request.copy()
            retry.headers["Authorization"] = f"Bearer {fresh.access_token}"
            retry._tokenmock_retried = True  # type: ignore[attr-defined]
            retry.hooks = {"response": []}
            assert response.connection is not None
            second: requests.Response = response.connection.send(retry, **kwargs)
            second.history.append(response)
            second.request = retry
            return second

        return hook

    def __repr__(self) -> str:
        return f"BearerAuth({self.client!r})"
