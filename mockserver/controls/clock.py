"""The mock's clock: real time plus an offset, or frozen; tokens are issued and checked against it.

Tests move it instead of sleeping (`clock.advance(3600)` expires a one-hour token at once). Once a
`TokenMock` binds it to its store, the offset and the frozen instant live there, so every worker
process (and host) sharing the store reads the same time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokenmock.mockserver.stores import Store

# A per-request shift (context-local, so concurrent requests do not see each other's): the
# `expired_token` fault runs one handler in the past without moving everyone's clock.
_skew: ContextVar[float] = ContextVar("tokenmock_clock_skew", default=0.0)

# The clock's shared document: {"offset": seconds added to real time, "frozen_at": epoch or None}.
CLOCK_DOC = "clock"
REAL_TIME: dict[str, Any] = {"offset": 0.0, "frozen_at": None}

Change = Callable[[dict[str, Any], float], dict[str, Any]]


def _advanced(seconds: float) -> Change:
    def change(state: dict[str, Any], real: float) -> dict[str, Any]:
        if state["frozen_at"] is not None:
            return {**state, "frozen_at": state["frozen_at"] + seconds}
        return {**state, "offset": state["offset"] + seconds}

    return change


def _set_to(timestamp: float) -> Change:
    def change(state: dict[str, Any], real: float) -> dict[str, Any]:
        if state["frozen_at"] is not None:
            return {**state, "frozen_at": timestamp}
        return {**state, "offset": timestamp - real}

    return change


def _frozen(at: float | None) -> Change:
    def change(state: dict[str, Any], real: float) -> dict[str, Any]:
        current = state["frozen_at"] if state["frozen_at"] is not None else real + state["offset"]
        return {**state, "frozen_at": current if at is None else at}

    return change


def _unfrozen(state: dict[str, Any], real: float) -> dict[str, Any]:
    if state["frozen_at"] is None:
        return state
    return {"offset": state["frozen_at"] - real, "frozen_at": None}


def _real_time(state: dict[str, Any], real: float) -> dict[str, Any]:
    return dict(REAL_TIME)


class Clock:
    """Controllable time source: `now()` is real time shifted by `offset`, unless frozen."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self._state: dict[str, Any] = dict(REAL_TIME)
        self._store: Store | None = None
        self._lock = threading.Lock()

    def bind(self, store: Store) -> None:
        """Keep the clock's state in `store` from now on.

        A clock already moved (a test's frozen clock) imposes its state on the store; a clock at real
        time adopts the store's, so a worker or host joining a running farm does not reset its time.
        """
        current = dict(self._read())  # a clock moving from one store to another keeps its time
        if current != REAL_TIME:
            store.update(CLOCK_DOC, lambda _shared: (current, None))
        self._state, self._store = current, store

    def _read(self) -> dict[str, Any]:
        store = self._store
        if store is None:
            return self._state
        return store.read(CLOCK_DOC) or REAL_TIME

    def _apply(self, change: Change) -> float:
        store = self._store
        if store is None:
            with self._lock:
                self._state = change(self._state, self._source())
        else:

            def update(shared: Any) -> tuple[dict[str, Any], None]:
                return change(shared or dict(REAL_TIME), self._source()), None

            store.update(CLOCK_DOC, update)
        return self.now()

    def now(self) -> float:
        """Current mock time in seconds since the epoch."""
        state = self._read()
        frozen = state["frozen_at"]
        return (frozen if frozen is not None else self._source() + state["offset"]) + _skew.get()

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
        return self._apply(_advanced(float(seconds)))

    def set(self, timestamp: float) -> float:
        """Jump to an absolute time; a frozen clock stays frozen there."""
        return self._apply(_set_to(float(timestamp)))

    def freeze(self, at: float | None = None) -> float:
        """Stop time (at `at`, or now) until `unfreeze`."""
        return self._apply(_frozen(None if at is None else float(at)))

    def unfreeze(self) -> float:
        """Let time run again from where it was frozen."""
        return self._apply(_unfrozen)

    def reset(self) -> None:
        """Back to real time."""
        self._apply(_real_time)

    @property
    def frozen(self) -> bool:
        """Whether time is stopped."""
        return self._read()["frozen_at"] is not None

    def state(self) -> dict[str, float | bool]:
        """A JSON-able view for the admin API (read afresh from a shared store)."""
        if self._store is not None:
            self._store.sync()
        state = self._read()
        return {"now": self.now(), "offset": state["offset"], "frozen": state["frozen_at"] is not None}
