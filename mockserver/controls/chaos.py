"""Chaos mode: each request answered by a draw from `tokenmock.contracts.strategies`, reproducible from a seed.

`tokenmock serve --chaos SEED` (or `PUT /__mock/chaos`) fuzzes clients written in any language over HTTP.
Request number n (counted across every worker, from 0 when chaos starts or the mock resets) gets draw n:
its kind comes from `random.Random(f"{seed}:{n}")`, its reply from a pool of replies Hypothesis generated
for that vendor, operation and kind under the same seed. Two runs that send the same requests in the
same order therefore get the same answers, and the journal names each draw (`fault: "chaos:<n>:<kind>"`)
so a failing exchange can be found and replayed.

The kinds, weighted so a client sees every family often:
- `real`: the server's own answer (a genuine token, so a client gets on to the protected resources);
- `success`: a 200 the contract allows, generated from it (a well-formed token no resource accepts);
- `documented_error`: an error status the operation documents, in the vendor's shape;
- each of `tokenmock.contracts.strategies.HOSTILE_KINDS`: a body that breaks the contract, a wrong content type,
  HTML, a redirect, or a transfer that fails (truncated, stalled, dripped, silent, reset, not HTTP).
Connections that stall or stay silent are let go when the client hangs up, or after HOLD_SECONDS.
"""

from __future__ import annotations

import functools
import hashlib
import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tokenmock.mockserver.pipeline.exchange import Reply

if TYPE_CHECKING:
    from tokenmock.contracts import strategies
    from tokenmock.mockserver.stores import Store

# The store document: {"seed": int, "exclude": [kind, ...], "drawn": int}; absent or None when off.
CHAOS_DOC = "chaos"
# Replies generated per vendor, operation and kind: enough variety, cheap to make on first use.
POOL_SIZE = 8
# The most a stalled or silent draw holds a connection (and a worker thread).
HOLD_SECONDS = 30.0
# Relative weights: the server's answer and hostile replies most often, a generated success least.
WEIGHTS = {"real": 3.0, "success": 1.0, "documented_error": 2.0, "hostile": 3.0}
# How each failed delivery of `strategies.Reply` is played: a wire fault and its parameters.
DELIVERIES: dict[str, tuple[str, dict[str, Any]]] = {
    "truncated": ("truncated_body", {}),
    "stall": ("stalled_body", {"seconds": HOLD_SECONDS}),
    "drip": ("slow_drip", {"chunk_bytes": 1, "interval_ms": 50}),
    "silent": ("no_answer", {"seconds": HOLD_SECONDS}),
    "reset": ("connection_reset", {}),
    "garbage": ("not_http", {}),
}


class ChaosError(ValueError):
    """A chaos setting is invalid (seed not a whole number, unknown kind to exclude).

    Excluding every kind is allowed: the server then gives its own answers, journaled as draws."""


def kinds() -> tuple[str, ...]:
    """Every kind a draw can be (the names `exclude` takes)."""
    from tokenmock.contracts.strategies import HOSTILE_KINDS

    return ("real", "success", "documented_error", *HOSTILE_KINDS)


def checked(seed: Any, exclude: Iterable[Any] = ()) -> dict[str, Any]:
    """A chaos document from user input, or ChaosError saying what is wrong."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ChaosError("seed must be a whole number")
    if isinstance(exclude, str | bytes) or not isinstance(exclude, Iterable):
        raise ChaosError("exclude must be a list of kinds")
    excluded = sorted({str(kind) for kind in exclude})
    if unknown := [kind for kind in excluded if kind not in kinds()]:
        raise ChaosError(f"unknown kinds {unknown}; choose from {', '.join(kinds())}")
    return {"seed": seed, "exclude": excluded, "drawn": 0}


def from_setting(value: Any) -> dict[str, Any] | None:
    """The chaos document the `chaos` setting asks for: None (off), a seed, or {seed, exclude}."""
    if value is None or value is False:
        return None
    if isinstance(value, Mapping):
        return checked(value.get("seed"), value.get("exclude") or ())
    return checked(value)


@dataclass(frozen=True)
class Draw:
    """What request `number` gets: a kind, and the reply (None: the server's own answer)."""

    number: int
    kind: str
    reply: strategies.Reply | None = None

    @property
    def label(self) -> str:
        """The journal's `fault` for this request."""
        return f"chaos:{self.number}:{self.kind}"

    def to_reply(self) -> Reply:
        """The mock's reply for a generated draw: status, headers and body exactly as drawn."""
        assert self.reply is not None, "a real draw is answered by the server itself"
        drawn = self.reply
        headers = {name: value for name, value in drawn.headers if name.lower() != "content-type"}
        # No Content-Type at all when the draw has none (an empty media type sends no header).
        reply = Reply(drawn.status, drawn.body, headers, drawn.header("Content-Type") or "")
        if drawn.delivery != "complete":
            reply.wire, params = DELIVERIES[drawn.delivery]
            reply.wire_params = dict(params)
        return reply


class Chaos:
    """Chaos state in the store (so every worker draws from one sequence) and the reply pools."""

    def __init__(self, store: Store, setting: Any = None) -> None:
        self._store = store
        self.configured = from_setting(setting)
        if self.configured is not None:
            self._store.update(CHAOS_DOC, lambda _doc: (dict(self.configured or {}), None))

    def state(self) -> dict[str, Any]:
        """{"seed", "exclude", "drawn"} (seed None when off) and every kind (the admin API's view)."""
        self._store.sync()
        doc = self._store.read(CHAOS_DOC) or {"seed": None, "exclude": [], "drawn": 0}
        return {**doc, "kinds": list(kinds())}

    def start(self, seed: Any, exclude: Iterable[Any] = ()) -> dict[str, Any]:
        """Answer every request from now on with draws 0, 1, 2... of `seed`."""
        doc = checked(seed, exclude)
        self._store.update(CHAOS_DOC, lambda _doc: (doc, None))
        return self.state()

    def stop(self) -> None:
        """Answer requests normally again."""
        self._store.update(CHAOS_DOC, lambda _doc: (None, None))

    def reset(self) -> None:
        """Back to the configured chaos (from draw 0), or off when none is configured."""
        self._store.update(CHAOS_DOC, lambda _doc: (dict(self.configured) if self.configured else None, None))

    def draw(self, vendor: str, operation_id: str) -> Draw | None:
        """The draw for this request, or None when chaos is off (one cached read: cheap)."""
        if not self._store.read(CHAOS_DOC):
            return None
        taken = self._store.update(CHAOS_DOC, _take_number)
        if taken is None:  # switched off meanwhile
            return None
        seed, exclude, number = taken
        rng = random.Random(f"{seed}:{number}")
        choices = _weighted_kinds(vendor, operation_id, frozenset(exclude))
        kind = rng.choices([k for k, _ in choices], [w for _, w in choices])[0]
        if kind == "real":
            return Draw(number, kind)
        with _POOLS_LOCK:  # one generation per pool, even when many threads ask at once
            pool = _pool(seed, vendor, operation_id, kind)
        if not pool:  # the strategy could not be satisfied: the server answers instead
            return Draw(number, "real")
        return Draw(number, kind, rng.choice(pool))


def _take_number(doc: Any) -> tuple[Any, tuple[int, list[str], int] | None]:
    if not doc:
        return doc, None
    return {**doc, "drawn": doc["drawn"] + 1}, (doc["seed"], doc["exclude"], doc["drawn"])


@functools.cache
def _weighted_kinds(vendor: str, operation_id: str, exclude: frozenset[str]) -> tuple[tuple[str, float], ...]:
    """The kinds a draw for this operation can be, with their weights (hostile ones share theirs)."""
    from tokenmock.contracts import strategies

    found = [("real", WEIGHTS["real"]), ("success", WEIGHTS["success"])]
    if strategies.error_statuses(vendor, operation_id):
        found.append(("documented_error", WEIGHTS["documented_error"]))
    hostile = strategies.hostile_kinds(vendor, operation_id)
    found += [(kind, WEIGHTS["hostile"] / len(hostile)) for kind in hostile]
    kept = tuple((kind, weight) for kind, weight in found if kind not in exclude)
    return kept or (("real", 1.0),)


_POOLS_LOCK = threading.Lock()


@functools.lru_cache(maxsize=2048)  # every kind of every operation for a few seeds
def _pool(seed: int, vendor: str, operation_id: str, kind: str) -> list[strategies.Reply]:
    """Replies of one kind, generated by Hypothesis under a seed derived from the chaos seed."""
    from tokenmock.contracts import strategies  # Hypothesis loads only when chaos is used

    if kind == "success":
        strategy = strategies.success_replies(vendor, operation_id)
    elif kind == "documented_error":
        strategy = strategies.error_replies(vendor, operation_id)
    else:
        strategy = strategies.hostile_replies(vendor, operation_id, [kind])
    digest = hashlib.sha256(f"{seed}:{vendor}:{operation_id}:{kind}".encode()).digest()
    return strategies.sample(strategy, int.from_bytes(digest[:8], "big"), POOL_SIZE)
