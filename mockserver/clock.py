"""The mock's clock: real time plus an offset, or frozen; tokens are issued and checked against it.

Tests move it instead of sleeping (`clock.advance(3600)` expires a one-hour token at once).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# A per-request shift (context-local, so concurrent requests do not see each other's): the
# `expired_token` fault runs one handler in the past without moving everyone's clock.
_skew: ContextVar[float] = ContextVar("tokenmock_clock_skew", default=0.0)


class Clock:
    """Controllable time source: `now()` is real time shifted by `offset`, unless frozen."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self._offset = 0.0
        self._frozen_at: float | None = None
        self._lock = threading.Lock()

    def now(self) -> float:
        """Current mock time in seconds since the epoch."""
        frozen = self._frozen_at
        return (frozen if frozen is not None else self._source() + self._offset) + _skew.get()

    @contextmanager
    def skewed(self, seconds: float) -> Iterator[None]:
        """Shift time for the current request only (context-local)."""
        token = _skew.set(_skew.get() + seconds)
        try:
            yield
        finally:
            _skew.reset(token)

    def advance(self, seconds: float) -> float:
        """Move time forward (or back, with a negative value); returns the new time."""
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
            else:
                self._offset += seconds
            return self.now()

    def set(self, timestamp: float) -> float:
        """Jump to an absolute time; a frozen clock stays frozen there."""
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = float(timestamp)
            else:
                self._offset = float(timestamp) - self._source()
            return self.now()

    def freeze(self, at: float | None = None) -> float:
        """Stop time (at `at`, or now) until `unfreeze`."""
        with self._lock:
            self._frozen_at = self.now() if at is None else float(at)
            return self._frozen_at

    def unfreeze(self) -> float:
        """Let time run again from where it was frozen."""
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - self._source()
                self._frozen_at = None
            return self.now()

    def reset(self) -> None:
        """Back to real time."""
        with self._lock:
            self._offset = 0.0
            self._frozen_at = None

    @property
    def frozen(self) -> bool:
        """Whether time is stopped."""
        return self._frozen_at is not None

    def state(self) -> dict[str, float | bool]:
        """A JSON-able view for the admin API."""
        return {"now": self.now(), "offset": self._offset, "frozen": self.frozen}
