"""The proxy's budgets on its sockets: a deadline for a whole exchange and a cap on what may arrive, so a
hostile or broken peer cannot hang or flood it.

The limits are `tokenmock verify`'s (`contracts.verify.guard`: the same exchange deadline and body cap);
verify enforces them in a `requests` adapter, the proxy on the h11 sockets it reads itself. A socket
timeout bounds one read; a server that drips a byte a second never trips it. `Deadline` bounds the
exchange (connect, TLS, request, every read) as one span; `BodyCap` counts what arrives and stops at the
cap instead of buffering without end.
"""

from __future__ import annotations

import time

from tokenmock.contracts.verify.guard import EXCHANGE_SECONDS, MAX_BODY

BODY_BYTES = MAX_BODY
HEAD_BYTES = 64 * 1024  # status line and headers together

__all__ = ["BODY_BYTES", "EXCHANGE_SECONDS", "HEAD_BYTES", "BodyCap", "BudgetExceeded", "Deadline"]


class BudgetExceeded(Exception):
    """A server broke a budget: `kind` is "deadline" or "body"; the message says which limit."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Deadline:
    """A point in (monotonic) time an exchange must finish by."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left (for the next socket operation's timeout); `BudgetExceeded` once none are."""
        left = self._end - time.monotonic()
        if left <= 0:
            raise BudgetExceeded("deadline", f"no complete answer within {self.seconds:g} s")
        return left


class BodyCap:
    """Counts body bytes as they arrive; `BudgetExceeded` past `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen = 0

    def take(self, chunk: bytes) -> bytes:
        """Account for a chunk and give it back."""
        self.seen += len(chunk)
        if self.seen > self.limit:
            raise BudgetExceeded("body", f"the body is larger than {self.limit} bytes")
        return chunk
