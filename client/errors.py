"""The reference client's errors: one root, every failure typed.

    TokenError                 vendor, status, code, message, payload
    ├── AuthenticationError    the server refused the credentials (client, user, refresh token, cookie)
    ├── RequestRejected        the server refused the request for another documented reason
    ├── ContractViolation      the response breaks the vendor's documented contract
    └── TransportError         no usable response: connection failure, timeout, 5xx or 429 after retries

Messages never carry secrets; `payload` keeps the decoded response body for inspection and is left out of
`str()` and `repr()`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AuthenticationError", "ContractViolation", "RequestRejected", "TokenError", "TransportError"]


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
