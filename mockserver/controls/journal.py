"""The request journal: what clients sent (secrets masked), what the mock answered, in bounded memory.

`Journal` is the in-process ring of the memory store; the SQLite and Redis stores keep the same
records in the shared store behind the same three methods (`JournalLike`).
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol


class JournalLike(Protocol):
    """What the pipeline and the admin API need of a journal."""

    def record(self, entry: dict[str, Any]) -> None:
        """Append one (already masked) record, giving it the next `id`."""

    def entries(self, vendor: str | None = None, operation: str | None = None) -> list[dict[str, Any]]:
        """The last `size` records, oldest first, optionally one vendor's and/or one operation's."""

    def clear(self) -> None:
        """Forget every record."""

    def __len__(self) -> int: ...


def selected(entry: dict[str, Any], vendor: str | None, operation: str | None) -> bool:
    """Whether a record passes the journal's vendor and operation filters."""
    return (vendor is None or entry.get("vendor") == vendor) and (
        operation is None or entry.get("operation") == operation
    )


class GroupWriter:
    """Concurrent requests of one process share one write to a shared journal (group commit).

    `submit()` returns once the entry is written, so a journal read that follows a response always
    finds that response's record; under load, the thread holding the writer's lock writes every entry
    queued meanwhile in one transaction or round trip instead of one each.
    """

    def __init__(self, write_batch: Callable[[list[dict[str, Any]]], None]) -> None:
        self._write_batch = write_batch
        self._queue_lock = threading.Lock()
        self._writer_lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._queued = 0  # sequence number of the last entry queued
        self._written = 0  # ... and of the last one written

    def submit(self, entry: dict[str, Any]) -> None:
        """Queue the entry and return when it (and every entry queued before it) is written."""
        with self._queue_lock:
            self._pending.append(entry)
            self._queued += 1
            mine = self._queued
        with self._writer_lock:
            if self._written >= mine:  # another thread wrote it with its own
                return
            with self._queue_lock:
                batch, self._pending = self._pending, []
                last = self._queued
            self._write_batch(batch)
            self._written = last


class Journal:
    """A ring buffer of request records, newest last; old records drop off when it is full."""

    def __init__(self, size: int = 1000) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=max(1, size))
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        """Append one (already masked) record; O(1)."""
        with self._lock:
            entry["id"] = next(self._ids)
            self._entries.append(entry)

    def entries(self, vendor: str | None = None, operation: str | None = None) -> list[dict[str, Any]]:
        """Records, oldest first, optionally only one vendor's and/or one operation's."""
        with self._lock:
            snapshot = list(self._entries)
        return [e for e in snapshot if selected(e, vendor, operation)]

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
