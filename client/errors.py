"""The reference client's errors: one root, every failure typed.

    TokenError                 vendor, status, code, message, payload
    ├── AuthenticationError    the server refused the credentials (client, user, refresh token, cookie)
    ├── RequestRejected        the server refused the request for another documented reason
    ├── ContractViolation      the response breaks the vendor's documented contract
    └── TransportError         no usable response: connection failure, timeout, 5xx or 429 after retries

Messages never carry secrets: every error a client raises passes through `scrub()`, which cuts each
secret out in every form a server may echo it back (raw, form- and percent-encoded, JSON-escaped,
base64 as in a Basic header). `payload` keeps the decoded response body for inspection and is left out
of `str()` and `repr()`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from tokenmock.redaction import MIN_SCRUBBED, secret_forms

__all__ = [
    "MIN_SCRUBBED",
    "AuthenticationError",
    "ContractViolation",
    "RequestRejected",
    "TokenError",
    "TransportError",
    "scrub",
    "secret_forms",
]

REDACTED = "[redacted]"


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every form of every secret (of at least MIN_SCRUBBED characters) replaced by
    `[redacted]`; the one function every client message passes through."""
    forms: set[str] = set()
    for secret in secrets:
        if isinstance(secret, str) and len(secret) >= MIN_SCRUBBED:
            forms |= secret_forms(secret)
    if not forms or not text:
        return text
    pattern = "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True))  # longest first
    return re.sub(pattern, REDACTED, text)


class TokenError(Exception):
    """Root of every error the client raises."""

    def __init__(
        self,
        message: str,
        *,
        vendor: str,
        status: int | None = None,
        code: str | None = None,
        payload: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.vendor = vendor
        self.status = status
        self.code = code
        self.payload = payload

    def __str__(self) -> str:
        parts = [self.vendor]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(self.code)
        return f"{' '.join(parts)}: {self.message}"

    def scrubbed(self, secrets: Iterable[str | None]) -> TokenError:
        """This error with every form of `secrets` cut out of its message (and so of `str()`, `repr()`
        and tracebacks); returns itself so it can be re-raised."""
        self.message = scrub(self.message, secrets)
        self.args = (self.message,)
        return self

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}({self.message!r}, vendor={self.vendor!r}, status={self.status!r}, code={self.code!r})"


class AuthenticationError(TokenError):
    """The credentials (client, user, refresh token or cookie) were refused."""


class RequestRejected(TokenError):
    """The server refused the request with a documented error that is not about credentials."""


class ContractViolation(TokenError):
    """The response breaks the documented contract (not JSON, missing or mistyped fields, odd status...)."""


class TransportError(TokenError):
    """No usable response: connection failure, timeout, or 5xx/429 still failing after the retries."""
