"""Fault injection: misbehaviour armed for a vendor and operation, for the next N requests or at random.

Three families, applied at different depths of the pipeline:
- before the handler: `latency` (then the normal answer) and `status` (any 5xx or 429, with Retry-After);
- after the handler, on the body: the quirks real servers show (`token_type_case`, `expires_in_string`,
  `missing_expires_in`, `extra_field`, `malformed_json`, `wrong_content_type`) and `expired_token`, which
  runs the handler on a clock set two days back so the token it signs is already expired;
- on the wire (see tokenmock.mockserver.serving.wire): `connection_reset`, `empty_response`, `truncated_body`,
  `slow_drip`, `stalled_body` (half the body, then nothing), `no_answer` (nothing at all) and `not_http` (bytes that are
  no HTTP response, then close); the two that hold a connection let go when the client hangs up or after
  `seconds`, so a fault cannot keep a worker thread for ever.

And, for clients the tester cannot change (a third-party SDK, a binary), answers armed from outside that
`Prefer` would otherwise need the client to ask for:
- `documented`: one of the operation's documented responses (`status`, or `example` by name), rendered
  as the contract shows it, headers included;
- `sequence`: a list of steps run one per matching request, each a documented response, another fault or
  `real` (the server's own answer), e.g. a 401 then a real token (WireMock's scenarios).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokenmock.mockserver.stores import Store

BEFORE = frozenset({"latency", "status"})
BODY = frozenset(
    {"token_type_case", "expires_in_string", "missing_expires_in", "extra_field", "malformed_json",
     "wrong_content_type", "expired_token"}
)
WIRE = frozenset(
    {"connection_reset", "empty_response", "truncated_body", "slow_drip", "stalled_body", "no_answer", "not_http"}
)
# Answers taken from the contract instead of the handler.
SCRIPTED = frozenset({"documented", "sequence"})
KINDS = BEFORE | BODY | WIRE | SCRIPTED
# A sequence step that lets the request through to the handler.
REAL = "real"
MAX_STEPS = 100


class FaultError(ValueError):
    """A fault definition is invalid (unknown kind, bad count or probability)."""


@dataclass
class Fault:
    """One armed fault. `remaining` None means unlimited (with `probability` deciding each request)."""

    id: int
    kind: str
    vendor: str | None = None
    operation: str | None = None
    remaining: int | None = None
    probability: float = 1.0
    seed: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    applied: int = 0
    # How many matching requests rolled the dice: with a seed, roll k is the same in every process.
    draws: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)
    # What the journal names the applied fault (a sequence's step: "sequence:2:documented"); not stored.
    label: str | None = field(default=None, compare=False)

    def matches(self, vendor: str, operation: str | None) -> bool:
        return (self.vendor in (None, vendor)) and (self.operation in (None, operation))

    def step(self) -> Fault:
        """What this fault does to the request it was just drawn for: itself, or a sequence's current step."""
        if self.kind != "sequence":
            return self
        number = self.applied  # counted already: step 1 is the first request's
        step = dict(self.params["steps"][number - 1])
        kind = step.pop("kind")
        return Fault(self.id, kind, self.vendor, self.operation, params=step, seed=self.seed,
                     applied=number, rng=self.rng, label=f"sequence:{number}:{kind}")

    def to_dict(self) -> dict[str, Any]:
        """The admin API's view."""
        return {
            "id": self.id,
            "kind": self.kind,
            "vendor": self.vendor,
            "operation": self.operation,
            "remaining": self.remaining,
            "probability": self.probability,
            "seed": self.seed,
            "params": self.params,
            "applied": self.applied,
        }

    def to_record(self) -> dict[str, Any]:
        """What the store keeps (JSON-able)."""
        return {**self.to_dict(), "draws": self.draws}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Fault:
        """A fault from the store; its random source is seeded per application, so it replays alike."""
        fields = {k: record[k] for k in (*FIELDS, "draws") if k in record}
        fault = cls(**fields)
        if fault.seed is not None:
            fault.rng = random.Random(f"{fault.seed}:{fault.applied}")
        return fault

    def fires(self) -> bool:
        """Roll this fault's dice for one matching request (counted in `draws`)."""
        if self.probability >= 1.0:
            return True
        roll = random.Random(f"{self.seed}/{self.draws}") if self.seed is not None else random
        self.draws += 1
        return roll.random() < self.probability


FIELDS = ("id", "kind", "vendor", "operation", "remaining", "probability", "seed", "params", "applied")


def _number(params: Mapping[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise FaultError(f"{name} must be a number from {low:g} to {high:g}")
    return float(value)


def check_params(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and complete a fault's parameters; bounded so a fault cannot wedge the server."""
    if kind not in KINDS:
        raise FaultError(f"unknown fault kind {kind!r}; choose one of {', '.join(sorted(KINDS))}")
    checked: dict[str, Any] = {}
    if kind == "latency":
        checked["ms"] = _number(params, "ms", 500, 0, 30_000)
        checked["jitter_ms"] = _number(params, "jitter_ms", 0, 0, 30_000)
    elif kind == "status":
        status = int(_number(params, "status", 503, 429, 599))
        if status != 429 and status < 500:
            raise FaultError("status must be 429 or a 5xx")
        checked["status"] = status
        if "retry_after" in params or status in (429, 503):
            checked["retry_after"] = int(_number(params, "retry_after", 1, 0, 3600))
    elif kind == "slow_drip":
        checked["chunk_bytes"] = int(_number(params, "chunk_bytes", 8, 1, 65536))
        checked["interval_ms"] = _number(params, "interval_ms", 200, 0, 10_000)
    elif kind in ("stalled_body", "no_answer"):
        checked["seconds"] = _number(params, "seconds", 30, 0, 300)
    elif kind == "token_type_case":
        case = params.get("case", "lower")
        if case not in ("lower", "upper", "title"):
            raise FaultError("case must be lower, upper or title")
        checked["case"] = case
    elif kind == "wrong_content_type":
        checked["content_type"] = _header_value(params.get("content_type", "text/html; charset=utf-8"))
    elif kind == "documented":
        checked.update(_documented_params(params))
    elif kind == "sequence":
        checked["steps"] = _steps(params.get("steps"))
    return checked


# The longest Content-Type a `wrong_content_type` fault sends (budgets: docs/security.md).
MAX_CONTENT_TYPE = 256


def _header_value(value: Any) -> str:
    """A value a header can carry as it is: Latin-1 text without controls (checked when the fault is armed,
    so answering it cannot fail), at most MAX_CONTENT_TYPE characters."""
    if not isinstance(value, str) or not value or len(value) > MAX_CONTENT_TYPE:
        raise FaultError(f"content_type must be text of 1 to {MAX_CONTENT_TYPE} characters")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise FaultError("content_type must be Latin-1 text (a header cannot carry other characters)") from None
    if any(ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 for char in value):
        raise FaultError("content_type must not hold control characters")
    return value


def _documented_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """`status` (a documented status) and/or `example` (a documented example's name); at least one."""
    checked: dict[str, Any] = {}
    if params.get("status") is not None:
        checked["status"] = int(_number(params, "status", 200, 100, 599))
    example = params.get("example")
    if example is not None:
        if not isinstance(example, str) or not example:
            raise FaultError("example must be the name of a documented example")
        checked["example"] = example
    if not checked:
        raise FaultError("a documented response needs status or example")
    return checked


def _steps(steps: Any) -> list[dict[str, Any]]:
    """A sequence's steps, each `{"kind": <fault kind or "real">, ...params}`, checked like faults."""
    if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS:
        raise FaultError(f"steps must be a list of 1 to {MAX_STEPS} steps")
    checked = []
    for number, step in enumerate(steps, 1):
        if not isinstance(step, Mapping) or not isinstance(step.get("kind"), str):
            raise FaultError(f"step {number} must be an object with a kind")
        kind = step["kind"]
        if kind == REAL:
            checked.append({"kind": REAL})
            continue
        if kind == "sequence":
            raise FaultError(f"step {number}: a sequence cannot hold a sequence")
        try:
            params = check_params(kind, {k: v for k, v in step.items() if k != "kind"})
        except FaultError as exc:
            raise FaultError(f"step {number}: {exc}") from None
        checked.append({"kind": kind, **params})
    return checked


# The store document holding every armed fault: {"next_id": int, "faults": [record, ...]}.
FAULTS_DOC = "faults"
NO_FAULTS: dict[str, Any] = {"next_id": 1, "faults": []}


def _draw(vendor: str, operation: str | None) -> Any:
    """The store update that picks the first matching fault that fires and counts it."""

    def change(doc: Any) -> tuple[dict[str, Any], Fault | None]:
        doc = doc or NO_FAULTS
        records = [dict(r) for r in doc["faults"]]
        chosen: Fault | None = None
        for index, record in enumerate(records):
            fault = Fault.from_record(record)
            if not fault.matches(vendor, operation):
                continue
            fired = fault.fires()
            records[index] = fault.to_record()
            if not fired:
                continue
            fault.applied += 1
            if fault.remaining is not None:
                fault.remaining -= 1
            records[index] = fault.to_record()
            if fault.remaining == 0:
                del records[index]
            chosen = Fault.from_record(fault.to_record())
            break
        return {**doc, "faults": records}, chosen

    return change


class FaultBook:
    """The armed faults, kept in the store so every worker process and host counts them once.

    `draw()` is cheap when nothing matches: it looks at the store's cached document first and only
    takes the store's lock (a transaction for SQLite and Redis) when an armed fault could apply.
    """

    def __init__(self, store: Store, check: Callable[[Fault], None] | None = None) -> None:
        self._store = store
        # The mock's check that a fault fits its vendor and operation (a documented response must be one
        # the operation documents); raises FaultError.
        self._check = check

    def arm(
        self,
        kind: str,
        *,
        vendor: str | None = None,
        operation: str | None = None,
        times: int | None = None,
        probability: float | None = None,
        seed: int | None = None,
        **params: Any,
    ) -> Fault:
        """Arm a fault for the next `times` matching requests, or for each with `probability`."""
        checked = check_params(kind, params)
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
            raise FaultError("times must be a whole number of at least 1")
        chance = 1.0 if probability is None else probability
        if isinstance(chance, bool) or not isinstance(chance, int | float) or not 0 < chance <= 1:
            raise FaultError("probability must be more than 0 and at most 1")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise FaultError("seed must be a whole number")
        if kind == "sequence":
            if times is not None:
                raise FaultError("a sequence runs once through its steps: leave out times")
            times = len(checked["steps"])
        if times is None and probability is None:
            times = 1  # an unbounded fault must be asked for explicitly (probability=1)
        if self._check is not None:
            self._check(Fault(0, kind, vendor, operation, times, float(chance), seed, checked))

        def add(doc: Any) -> tuple[dict[str, Any], Fault]:
            doc = doc or NO_FAULTS
            fault = Fault(doc["next_id"], kind, vendor, operation, times, float(chance), seed, checked)
            return {"next_id": fault.id + 1, "faults": [*doc["faults"], fault.to_record()]}, fault

        return self._store.update(FAULTS_DOC, add)

    def draw(self, vendor: str, operation: str | None) -> Fault | None:
        """The fault to apply to this request, if any (consumes one of its `times`; a sequence's step)."""
        doc = self._store.read(FAULTS_DOC)
        if not doc or not doc["faults"]:
            return None
        if not any(r["vendor"] in (None, vendor) and r["operation"] in (None, operation) for r in doc["faults"]):
            return None
        fault: Fault | None = self._store.update(FAULTS_DOC, _draw(vendor, operation))
        return None if fault is None else fault.step()

    def list(self) -> list[dict[str, Any]]:
        """Every armed fault (the admin API's view), read afresh."""
        self._store.sync()
        doc = self._store.read(FAULTS_DOC) or NO_FAULTS
        return [Fault.from_record(r).to_dict() for r in doc["faults"]]

    def remove(self, fault_id: int) -> bool:
        """Disarm one fault; False when no fault has that id."""

        def drop(doc: Any) -> tuple[dict[str, Any], bool]:
            doc = doc or NO_FAULTS
            kept = [r for r in doc["faults"] if r["id"] != fault_id]
            return {**doc, "faults": kept}, len(kept) != len(doc["faults"])

        return self._store.update(FAULTS_DOC, drop)

    def clear(self) -> None:
        """Disarm every fault (ids keep counting up)."""
        self._store.update(FAULTS_DOC, lambda doc: ({**(doc or NO_FAULTS), "faults": []}, None))
