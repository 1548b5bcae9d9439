"""What a handler receives (`Call`) and what it returns (`Reply`): plain data, no Flask.

Keeping handlers off the web framework (as Authlib's core is) makes them testable on their own and
lets the WSGI layer stay a thin adapter.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tokenmock.mockserver.errors import InvalidClient, InvalidRequest

# A Host header fit to put in a URL: a DNS name or IPv4 address, or a bracketed IPv6 address, and a port.
_HOST = re.compile(r"(?:[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?|\[[0-9a-f:.]{2,45}\])(?::[0-9]{1,5})?")

TOKEN_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True)
class BasicCredentials:
    """Credentials from an `Authorization: Basic` header; the secret never appears in repr()."""

    username: str
    password: str = field(repr=False)


def decode_basic_rfc7617(value: str) -> BasicCredentials:
    """Decode `base64(user:password)` (RFC 7617), refusing bad base64, bad UTF-8 and a missing colon."""
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise InvalidClient("the Basic credentials are not valid base64 of UTF-8 text", via_basic=True) from None
    username, colon, password = decoded.partition(":")
    if not colon:
        raise InvalidClient("the Basic credentials have no ':' between id and secret", via_basic=True)
    return BasicCredentials(username, password)


@dataclass
class Call:
    """A request that matched an operation, parsed and validated against the contract."""

    vendor: str
    operation_id: str
    method: str
    path: str
    path_params: Mapping[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    cookies: Mapping[str, str]
    media_type: str = ""
    body: Any = None
    scheme: str = "http"
    basic_decoder: Callable[[str], BasicCredentials] = field(default=decode_basic_rfc7617, repr=False)

    @property
    def authorization(self) -> tuple[str, str] | None:
        """(scheme lower-cased, credentials) of the Authorization header, or None when absent."""
        value = self.headers.get("Authorization")
        if value is None:
            return None
        scheme, _, credentials = value.strip().partition(" ")
        return scheme.lower(), credentials.strip()

    @property
    def basic(self) -> BasicCredentials | None:
        """Decoded Basic credentials (vendor's decoding rules), None when none were sent.

        Raises `InvalidClient` when a Basic header is present but cannot be decoded.
        """
        auth = self.authorization
        if auth is None or auth[0] != "basic":
            return None
        return self.basic_decoder(auth[1])

    @property
    def bearer(self) -> str | None:
        """The bearer token, or None when no bearer credentials were sent."""
        auth = self.authorization
        if auth is None or auth[0] != "bearer" or not auth[1]:
            return None
        return auth[1]

    def base_url(self, own_path: str) -> str:
        """The URL the client used, up to where the vendor's paths start: scheme, Host (lower-cased, as
        Duende infers its issuer) and any mount prefix. `own_path` is the operation's contract path.

        Raises `InvalidRequest` when the Host header is not a host name (it would end up in URLs)."""
        host = (self.headers.get("Host") or "localhost").lower()
        if not _HOST.fullmatch(host):
            raise InvalidRequest("the Host header is not a host name with an optional port", field="Host")
        path = self.path.rstrip("/")
        prefix = path[: -len(own_path)] if own_path and path.endswith(own_path) else ""
        return f"{self.scheme}://{host}{prefix}"

    def field(self, name: str) -> str | None:
        """A body field as a string (form bodies) or its JSON value when it is a string; else None."""
        if isinstance(self.body, Mapping):
            value = self.body.get(name)
            return value if isinstance(value, str) else None
        return None


@dataclass
class Reply:
    """A response: status, a JSON-able body (or raw bytes), headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"
    # A wire-level fault for the WSGI adapter to play (tokenmock.mockserver.controls.faults.WIRE), and its parameters.
    wire: str | None = None
    wire_params: dict[str, Any] = field(default_factory=dict)
    # The journal's mark on an access token a test shaped (tokenmock.mockserver.controls.claims.Shaped.note).
    shaped: dict[str, Any] | None = None

    @classmethod
    def token(cls, body: Any, *, media_type: str = "application/json", shaped: dict[str, Any] | None = None) -> Reply:
        """A 200 carrying tokens: RFC 6749 §5.1 forbids caching it."""
        return cls(200, body, dict(TOKEN_HEADERS), media_type, shaped=shaped)
