"""The in-process store: the default for unit tests and a single worker."""

from __future__ import annotations

import heapq
import math
import threading
from collections.abc import Callable
from typing import Any

from tokenmock.mockserver.controls.journal import Journal
from tokenmock.mockserver.stores.base import MAX_REVOKED, Change, R, RefreshRecord, RefreshUse, Store


class MemoryStore(Store):
    """The in-process store: one lock, plain dicts, pruned of expired refresh tokens as it goes."""

    def __init__(self, max_refresh: int = 200_000, journal_size: int = 1000, max_revoked: int = MAX_REVOKED) -> None:
        self._lock = threading.Lock()
        self._refresh: dict[str, RefreshRecord] = {}
        self._used: dict[str, RefreshRecord] = {}
        self._revoked: dict[str, float] = {}  # id -> when the revocation stops mattering
        self._max_revoked = max_revoked
        self._docs: dict[str, Any] = {}
        self._keys: dict[str, str] = {}
        self._max_refresh = max_refresh
        self.journal = Journal(journal_size)

    def remember_refresh(self, token_id: str, family: str, expires_at: float) -> None:
        with self._lock:
            if len(self._refresh) + len(self._used) >= self._max_refresh:
                self._prune_oldest()
            self._refresh[token_id] = RefreshRecord(family, expires_at)

    def _prune_oldest(self) -> None:
        """Bound memory: drop the tenth of records that expire first (a refused token is then UNKNOWN)."""
        for table in (self._used, self._refresh):
            victims = sorted(table, key=lambda k: table[k].expires_at)[: max(1, len(table) // 10)]
            for key in victims:
                del table[key]

    def use_refresh(self, token_id: str) -> RefreshUse:
        with self._lock:
            record = self._refresh.pop(token_id, None)
            if record is None:
                used = self._used.get(token_id)
                if used is None:
                    return RefreshUse.UNKNOWN
                self._add_revoked(used.family, used.expires_at)
                return RefreshUse.REUSED
            if token_id in self._revoked or record.family in self._revoked:
                self._refresh[token_id] = record
                return RefreshUse.REVOKED
            self._used[token_id] = record
            return RefreshUse.FRESH

    def revoke(self, token_id: str, expires_at: float | None = None) -> None:
        with self._lock:
            self._add_revoked(token_id, math.inf if expires_at is None else expires_at)

    def _add_revoked(self, token_id: str, expires_at: float) -> None:
        """Record a revocation (under the lock); past the cap, drop the tenth that expire first."""
        self._revoked[token_id] = max(expires_at, self._revoked.get(token_id, expires_at))
        if len(self._revoked) > self._max_revoked:
            victims = heapq.nsmallest(max(1, len(self._revoked) // 10), self._revoked.items(), key=lambda kv: kv[1])
            for key, _ in victims:
                del self._revoked[key]

    def is_revoked(self, *token_ids: str) -> bool:
        revoked = self._revoked
        return any(t in revoked for t in token_ids if t)

    def read(self, name: str) -> Any:
        return self._docs.get(name)

    def update(self, name: str, change: Change[R]) -> R:
        with self._lock:
            value, result = change(self._docs.get(name))
            self._docs[name] = value
            return result

    def shared_key(self, name: str, make: Callable[[], str]) -> str:
        with self._lock:
            if name not in self._keys:
                self._keys[name] = make()
            return self._keys[name]

    def forget_tokens(self) -> None:
        with self._lock:
            self._refresh.clear()
            self._used.clear()
            self._revoked.clear()
