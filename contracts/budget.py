"""Budgets for talking to a server tokenmock did not write: a deadline for a whole exchange and a cap on
what it may send back, so a hostile or broken server cannot hang or flood the caller.

A socket timeout bounds one read; a server that drips a byte a second never trips it. `Deadline` bounds
the exchange (connect, TLS, request, every read) as one span; `BodyCap` counts what arrives and stops at
the cap instead of buffering without end. Shared by `tokenmock proxy` (and meant for `tokenmock verify`),
which must not depend on each other.
"""

from __future__ import annotations

import time

# Defaults, each overridable by the commands' options.
EXCHANGE_SECONDS = 30.0
BODY_BYTES = 1 << 20  # 1 MiB: token answers are a few hundred bytes
HEAD_BYTES = 64 * 1024  # status line and headers together


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
