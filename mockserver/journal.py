"""The request journal: what clients sent (secrets masked), what the mock answered, in bounded memory.

`Journal` is the in-process ring of the memory store; the SQLite and Redis stores keep the same
records in the shared store behind the same three methods (`JournalLike`).
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
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
