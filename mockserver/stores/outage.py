"""A circuit breaker for a store across the network: fail fast while it is down, log once per outage.

Without it a stopped Redis made every request wait for its own connection error and write its own
traceback (thousands a second), and a frozen one held every request for the full socket timeout. With
it, the first operation that fails marks the store down and raises `StoreUnavailable` (rendered by each
vendor as its 503 with Retry-After); later operations fail at once, except one probe per `probe_every`
seconds that tries the store again. The first success ends the outage. One warning marks its start,
one its end.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tokenmock.mockserver.errors import StoreUnavailable

log = logging.getLogger("tokenmock.store")


class Breaker:
    """Tracks one store's outages; `with breaker.guard(): ...` around every operation on it."""

    def __init__(
        self,
        where: str,
        failures: tuple[type[BaseException], ...],
        *,
        probe_every: float = 0.5,
        retry_after: int = 1,
        clock: Callable[[], float] = time.monotonic,
        describe: Callable[[BaseException], str] = lambda exc: type(exc).__name__,
        state: str = "unreachable",
    ) -> None:
        self.where = where  # what the log line names (no password)
        self.describe = describe  # the failure in the log line (a type name; SQLite's own words)
        self.state = state  # what the store is while down, in the log line
        self.failures = failures
        self.probe_every = probe_every
        self.retry_after = retry_after
        self.clock = clock
        self.down_since: float | None = None
        self.outages = 0
        self._next_probe = 0.0
        self._probing = False
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        """Whether the store is taken to be unreachable now."""
        return self.down_since is not None

    def _refusal(self) -> StoreUnavailable:
        return StoreUnavailable(
            "the mock's state store is unreachable; retry shortly", retry_after=self.retry_after
        )

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Run one store operation: refused at once during an outage unless it is the turn of a probe."""
        probe = False
        if self.down_since is not None:
            with self._lock:
                if self.down_since is not None:
                    if self._probing or self.clock() < self._next_probe:
                        raise self._refusal()
                    self._probing = probe = True
        try:
            yield
        except self.failures as exc:
            self._failed(exc)
            raise self._refusal() from None
        finally:
            if probe:
                with self._lock:
                    self._probing = False
        if self.down_since is not None:
            self._recovered()

    def _failed(self, exc: BaseException) -> None:
        with self._lock:
            self._next_probe = self.clock() + self.probe_every
            if self.down_since is not None:
                return
            self.down_since = self.clock()
            self.outages += 1
        log.warning("store %s %s (%s); answering 503 until it is back", self.where, self.state, self.describe(exc))

    def _recovered(self) -> None:
        with self._lock:
            since, self.down_since = self.down_since, None
        if since is not None:
            log.warning("store %s reachable again after %.1f s", self.where, self.clock() - since)
