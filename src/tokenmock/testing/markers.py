"""`@pytest.mark.tokenmock(...)`: settings, faults, sequences, chaos, clock, clients and claims for one test.

    @pytest.mark.tokenmock(fault={"kind": "documented", "vendor": "clickview", "status": 401})
    def test_the_client_reports_a_refused_login(tokenmock_server): ...

Keys (each optional; a marker on a class or module applies to its tests, the closest settings win):
    settings   the mock's settings for this test, over `tokenmock_settings` (the mock is rebuilt)
    fault      a fault, or a list: {"kind", "vendor", "operation", "times", "probability", "seed", **params}
    sequence   a sequence, or a list: {"vendor", "operation", "steps": [{"kind": "documented", ...}, ...]}
    chaos      a seed, or {"seed", "exclude"}
    clock      {"freeze": True | timestamp, "set": timestamp, "advance": seconds}
    clients    a runtime client, or a list: {"vendor", **credentials}
    claims     claims for the next tokens, or a list: {"vendor", "claims", "client_id", "times", "kid"}

Faults are armed from the farthest marker to the closest, every fault before any sequence, and answer
one request each in that order (oldest first), so a module's fault takes a test's first matching request.

`plan()` checks a marker's arguments without a mock (a mistake fails the test before it runs);
`apply()` arms them through any controller with `MockController`'s methods. Everything is undone after
the test (the mock is reset, its settings restored).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

KEYS = ("settings", "fault", "sequence", "chaos", "clock", "clients", "claims")
CLAIMS_OPTIONS = ("vendor", "claims", "client_id", "times", "kid")
FAULT_OPTIONS = ("vendor", "operation", "times", "probability", "seed")
CLOCK_MOVES = ("freeze", "set", "advance")


class MarkerError(ValueError):
    """A `tokenmock` marker's arguments are not ones it takes."""


@dataclass
class Plan:
    """What the markers of one test arm, checked."""

    settings: dict[str, Any] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    sequences: list[dict[str, Any]] = field(default_factory=list)
    chaos: dict[str, Any] | None = None
    clock: dict[str, Any] = field(default_factory=dict)
    clients: list[dict[str, Any]] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        armed = self.faults or self.sequences or self.chaos or self.clock or self.clients or self.claims
        return bool(self.settings or armed)


def plan(markers: Iterable[tuple[tuple[Any, ...], Mapping[str, Any]]]) -> Plan:
    """The plan of a test's markers, given as (args, kwargs), closest first (pytest's `iter_markers`)."""
    result = Plan()
    for args, kwargs in reversed(list(markers)):  # farthest first, so the closest settings win
        if args:
            raise MarkerError("tokenmock takes keyword arguments only: " + ", ".join(KEYS))
        unknown = sorted(set(kwargs) - set(KEYS))
        if unknown:
            raise MarkerError(f"tokenmock has no argument {', '.join(unknown)}; it takes {', '.join(KEYS)}")
        result.settings.update(_mapping(kwargs.get("settings", {}), "settings"))
        result.faults += [_fault(f) for f in _many(kwargs.get("fault"), "fault")]
        result.sequences += [_sequence(s) for s in _many(kwargs.get("sequence"), "sequence")]
        if "chaos" in kwargs:
            result.chaos = _chaos(kwargs["chaos"])
        result.clock.update(_clock(kwargs.get("clock", {})))
        result.clients += [_client(c) for c in _many(kwargs.get("clients"), "clients")]
        result.claims += [_claims(c) for c in _many(kwargs.get("claims"), "claims")]
    return result


def apply(armed: Plan, controller: Any) -> None:
    """Arm the plan (all but its settings) through `controller` (a `MockController` or alike)."""
    clock = armed.clock
    if clock.get("set") is not None:
        controller.clock.set(clock["set"])
    if clock.get("freeze") is not None and clock["freeze"] is not False:
        controller.clock.freeze(None if clock["freeze"] is True else clock["freeze"])
    if clock.get("advance") is not None:
        controller.clock.advance(clock["advance"])
    for client in armed.clients:
        credentials = {k: v for k, v in client.items() if k != "vendor"}
        controller.add_client(client["vendor"], **credentials)
    for fault in armed.faults:
        options = {k: fault[k] for k in ("times", "probability", "seed") if k in fault}
        params = {k: v for k, v in fault.items() if k not in (*FAULT_OPTIONS, "kind")}
        controller.fault(fault.get("vendor"), fault.get("operation"), fault["kind"], **options, **params)
    for sequence in armed.sequences:
        controller.sequence(sequence.get("vendor"), sequence.get("operation"), list(sequence["steps"]))
    for claims in armed.claims:
        shaping = {k: claims[k] for k in ("client_id", "times", "kid") if k in claims}
        controller.claims(claims["vendor"], claims["claims"], **shaping)
    if armed.chaos is not None:
        controller.chaos(armed.chaos["seed"], exclude=armed.chaos.get("exclude", ()))


def _mapping(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise MarkerError(f"tokenmock {name} must be a mapping, not {type(value).__name__}")
    return dict(value)


def _many(value: Any, name: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    items = [value] if isinstance(value, Mapping) else value
    if not isinstance(items, list | tuple):
        raise MarkerError(f"tokenmock {name} must be a mapping or a list of mappings")
    return [_mapping(item, name) for item in items]


def _fault(fault: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(fault.get("kind"), str):
        raise MarkerError('a tokenmock fault needs a "kind" (e.g. "documented", "status", "connection_reset")')
    if fault["kind"] == "sequence":
        raise MarkerError('arm a sequence with sequence={"vendor", "operation", "steps"}')
    return fault


def _sequence(sequence: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(sequence.get("steps"), list | tuple) or not sequence["steps"]:
        raise MarkerError('a tokenmock sequence needs "steps": a list of {"kind": ...} steps')
    unknown = sorted(set(sequence) - {"vendor", "operation", "steps"})
    if unknown:
        raise MarkerError(f"a tokenmock sequence takes vendor, operation and steps, not {', '.join(unknown)}")
    return sequence


def _chaos(value: Any) -> dict[str, Any]:
    chaos = {"seed": value} if isinstance(value, int) and not isinstance(value, bool) else _mapping(value, "chaos")
    if not isinstance(chaos.get("seed"), int) or isinstance(chaos.get("seed"), bool):
        raise MarkerError("tokenmock chaos needs a whole-number seed")
    return chaos


def _clock(value: Any) -> dict[str, Any]:
    clock = _mapping(value, "clock")
    unknown = sorted(set(clock) - set(CLOCK_MOVES))
    if unknown:
        raise MarkerError(f"tokenmock clock takes {', '.join(CLOCK_MOVES)}, not {', '.join(unknown)}")
    return clock


def _client(client: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(client.get("vendor"), str) or len(client) < 2:
        raise MarkerError('a tokenmock client needs "vendor" and its credentials (e.g. client_id, client_secret)')
    return client


def _claims(claims: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(claims.get("vendor"), str) or not isinstance(claims.get("claims"), Mapping):
        raise MarkerError('tokenmock claims need "vendor" and "claims" (a mapping), e.g. {"vendor": "clickview", '
                          '"claims": {"tenant": "acme"}}')
    unknown = sorted(set(claims) - set(CLAIMS_OPTIONS))
    if unknown:
        raise MarkerError(f"tokenmock claims take {', '.join(CLAIMS_OPTIONS)}, not {', '.join(unknown)}")
    return claims
