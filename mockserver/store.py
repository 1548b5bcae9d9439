"""Mutable server state behind one interface: refresh-token families, revocations, runtime clients.

Tokens are signed, so checking them needs no state; what does need state (a refresh token already
used, a revoked token, a client registered at runtime) lives here, so a shared implementation can
replace the in-memory one when several processes serve together.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol


class RefreshUse(Enum):
    """The outcome of presenting a refresh token."""

    FRESH = "fresh"  # first use: rotate it
    REUSED = "reused"  # already rotated: a replay; the whole family is now revoked
    REVOKED = "revoked"  # its family or itself was revoked
    UNKNOWN = "unknown"  # never issued by this server (or forgotten after a reset)


@dataclass(frozen=True)
class RefreshRecord:
    """What the server remembers of an issued refresh token."""

    family: str
    expires_at: float


class Store(Protocol):
    """All mutable state of the mock."""

    def remember_refresh(self, token_id: str, family: str, expires_at: float) -> None:
        """Record an issued refresh token as usable."""

    def use_refresh(self, token_id: str) -> RefreshUse:
        """Atomically consume a refresh token; a second use revokes its whole family."""

    def revoke(self, token_id: str) -> None:
        """Revoke one token (access or refresh) by its id, or a whole family by its id."""

    def is_revoked(self, *token_ids: str) -> bool:
        """Whether any of the ids (token id, family id) was revoked."""

    def add_client(self, vendor: str, client: Mapping[str, Any]) -> None:
        """Register credentials at runtime."""

    def clients(self, vendor: str) -> list[dict[str, Any]]:
        """Credentials registered at runtime for a vendor."""

    def reset(self) -> None:
        """Forget everything."""


class MemoryStore:
    """The in-process store: one lock, plain dicts, pruned of expired refresh tokens as it goes."""

    def __init__(self, max_refresh: int = 200_000) -> None:
        self._lock = threading.Lock()
        self._refresh: dict[str, RefreshRecord] = {}
        self._used: dict[str, RefreshRecord] = {}
        self._revoked: set[str] = set()
        self._clients: dict[str, list[dict[str, Any]]] = {}
        self._max_refresh = max_refresh

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
                self._revoked.add(used.family)
                return RefreshUse.REUSED
            if token_id in self._revoked or record.family in self._revoked:
                self._refresh[token_id] = record
                return RefreshUse.REVOKED
            self._used[token_id] = record
            return RefreshUse.FRESH

    def revoke(self, token_id: str) -> None:
        with self._lock:
            self._revoked.add(token_id)

    def is_revoked(self, *token_ids: str) -> bool:
        revoked = self._revoked
        return any(t in revoked for t in token_ids if t)

    def add_client(self, vendor: str, client: Mapping[str, Any]) -> None:
        with self._lock:
            self._clients.setdefault(vendor, []).append(dict(client))

    def clients(self, vendor: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self._clients.get(vendor, [])]

    def reset(self) -> None:
        with self._lock:
            self._refresh.clear()
            self._used.clear()
            self._revoked.clear()
            self._clients.clear()
