"""Fault injection: misbehaviour armed for a vendor and operation, for the next N requests or at random.

Three families, applied at different depths of the pipeline:
- before the handler: `latency` (then the normal answer) and `status` (any 5xx or 429, with Retry-After);
- after the handler, on the body: the quirks real servers show (`token_type_case`, `expires_in_string`,
  `missing_expires_in`, `extra_field`, `malformed_json`, `wrong_content_type`) and `expired_token`, which
  runs the handler on a clock set two days back so the token it signs is already expired;
- on the wire: `connection_reset`, `empty_response`, `truncated_body`, `slow_drip` (see mockserver.app).
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

BEFORE = frozenset({"latency", "status"})
BODY = frozenset(
    {"token_type_case", "expires_in_string", "missing_expires_in", "extra_field", "malformed_json",
     "wrong_content_type", "expired_token"}
)
WIRE = frozenset({"connection_reset", "empty_response", "truncated_body", "slow_drip"})
KINDS = BEFORE | BODY | WIRE


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
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def matches(self, vendor: str, operation: str | None) -> bool:
        return (self.vendor in (None, vendor)) and (self.operation in (None, operation))

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
    elif kind == "token_type_case":
        case = params.get("case", "lower")
        if case not in ("lower", "upper", "title"):
            raise FaultError("case must be lower, upper or title")
        checked["case"] = case
    elif kind == "wrong_content_type":
        checked["content_type"] = str(params.get("content_type", "text/html; charset=utf-8"))
    return checked


class FaultBook:
    """The armed faults; `draw()` picks the first that matches and fires, counting it atomically."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

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
        if times is None and probability is None:
            times = 1  # an unbounded fault must be asked for explicitly (probability=1)
        with self._lock:
            fault = Fault(
                next(self._ids), kind, vendor, operation, times, float(chance), seed, checked,
                rng=random.Random(seed),
            )
            self._faults.append(fault)
            return fault

    def draw(self, vendor: str, operation: str | None) -> Fault | None:
        """The fault to apply to this request, if any (consumes one of its `times`)."""
        if not self._faults:
            return None
        with self._lock:
            for fault in self._faults:
                if not fault.matches(vendor, operation):
                    continue
                if fault.probability < 1.0 and fault.rng.random() >= fault.probability:
                    continue
                fault.applied += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                return fault
        return None

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_dict() for f in self._faults]

    def remove(self, fault_id: int) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) != before

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
