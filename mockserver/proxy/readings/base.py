"""Observers of readings: which side of a discrepancy register entry an upstream takes, seen on the wire.

Each vendor module registers one small observer per entry whose reading an exchange can show: a function
of the exchange (and of `Memory`, fingerprints of tokens seen before) that returns "strict", "lenient",
or None when the exchange says nothing about the entry. `Observations` gathers the verdicts with the ids
of the exchanges that showed them; an entry with verdicts both ways is "conflicting", one with none
"not observed". Observers see the real values in memory; only masked exchanges and fingerprints are kept.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tokenmock.mockserver.proxy.exchange import Exchange

STRICT, LENIENT = "strict", "lenient"
Verdict = str | None
Read = Callable[[Exchange, "Memory"], Verdict]
# Exchange ids kept as evidence per reading of an entry.
MAX_EVIDENCE = 20


@dataclass(frozen=True)
class Observer:
    """How one register entry shows on the wire: the exchange that shows it, and the function that reads it."""

    entry: str
    shows: str
    read: Read


Lifetime = Callable[[Exchange], "int | None"]


class Observers:
    """One vendor's observers, registered by decorator; `lifetime` reads the access-token lifetime an
    answer shows (the mock's `token_lifetime` setting)."""

    def __init__(self, vendor: str) -> None:
        self.vendor = vendor
        self.by_entry: dict[str, Observer] = {}
        self.lifetime: Lifetime | None = None

    def lifetime_from(self, read: Lifetime) -> Lifetime:
        """Register the vendor's lifetime reader."""
        self.lifetime = read
        return read

    def on(self, entry: str, shows: str) -> Callable[[Read], Read]:
        """Register `read` as the observer of `entry`; `shows` says which exchange reveals the reading."""

        def register(read: Read) -> Read:
            self.by_entry[entry] = Observer(entry, shows, read)
            return read

        return register


class Memory:
    """Fingerprints (SHA-256) of values seen in earlier exchanges, by kind; bounded, never the values."""

    LIMIT = 4096

    def __init__(self) -> None:
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _print(value: str) -> str:
        return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()

    def remember(self, kind: str, value: Any) -> None:
        """Note that `value` was seen as `kind` (e.g. "refresh_used")."""
        if isinstance(value, str) and value:
            with self._lock:
                self._seen[(kind, self._print(value))] = None
                while len(self._seen) > self.LIMIT:
                    self._seen.popitem(last=False)

    def seen(self, kind: str, value: Any) -> bool:
        """Whether `value` was seen as `kind` before."""
        return isinstance(value, str) and (kind, self._print(value)) in self._seen


def ok(exchange: Exchange) -> bool:
    """A 2xx answer."""
    return 200 <= exchange.status < 300


def answer_member(exchange: Exchange, name: str) -> Any:
    """A top-level member of the JSON answer, or None."""
    data = exchange.response_data
    return data.get(name) if isinstance(data, dict) else None


class Observations:
    """Verdicts gathered per register entry, with the exchanges that showed them."""

    def __init__(self, observers: Observers) -> None:
        self.observers = observers
        self.memory = Memory()
        self.evidence: dict[str, dict[str, list[int]]] = {}
        self.lifetimes: dict[int, list[int]] = {}  # lifetime seen -> exchanges that showed it
        self._lock = threading.Lock()

    def observe(self, exchange: Exchange) -> list[tuple[str, str]]:
        """Run every observer on an exchange; the (entry, verdict) pairs it showed."""
        found: list[tuple[str, str]] = []
        if exchange.failure is not None:
            return found
        for entry, observer in self.observers.by_entry.items():
            verdict = observer.read(exchange, self.memory)
            if verdict in (STRICT, LENIENT):
                found.append((entry, verdict))
        lifetime = self.observers.lifetime(exchange) if self.observers.lifetime else None
        with self._lock:
            if isinstance(lifetime, int) and not isinstance(lifetime, bool) and lifetime > 0:
                ids = self.lifetimes.setdefault(lifetime, [])
                if len(ids) < MAX_EVIDENCE:
                    ids.append(exchange.id)
            for entry, verdict in found:
                ids = self.evidence.setdefault(entry, {}).setdefault(verdict, [])
                if len(ids) < MAX_EVIDENCE:
                    ids.append(exchange.id)
        return found

    def reading(self, entry: str) -> str:
        """strict, lenient, conflicting, not observed, or "not visible" (no observer for the entry)."""
        if entry not in self.observers.by_entry:
            return "not visible"
        seen = self.evidence.get(entry) or {}
        if len(seen) > 1:
            return "conflicting"
        return next(iter(seen), "not observed")

    def observed(self) -> dict[str, str]:
        """The entries whose reading was observed one way only: {entry: strict|lenient}."""
        return {
            entry: reading for entry in self.observers.by_entry if (reading := self.reading(entry)) in (STRICT, LENIENT)
        }

    def token_lifetime(self) -> int | None:
        """The access-token lifetime to configure: the longest seen (a token answered from a cache shows
        less); None when no answer showed one."""
        return max(self.lifetimes) if self.lifetimes else None
