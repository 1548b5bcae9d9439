"""What the fuzz suites share: every route of the mock, the check that a refusal is well-formed, case counts."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tokenmock import contracts

# Cases tried per suite, reported at the end of the run (tests/security/conftest.py).
CASES: Counter[str] = Counter()

# A value for each path parameter that names something the demo data has.
PATH_VALUES = {"profile_id": "84eb61a9-75d4-42c7-8c15-84c3d7776227", "channel_id": "demo-channel"}


@dataclass(frozen=True)
class Route:
    """One contract operation as mounted on the all-vendor mock."""

    vendor: str
    operation_id: str
    method: str
    template: str  # the contract's path, with {parameters}

    @property
    def path(self) -> str:
        """The mounted path with demo values in its parameters."""
        return self.with_params(PATH_VALUES)

    def with_params(self, values: Mapping[str, str]) -> str:
        path = self.template
        for name, value in values.items():
            path = path.replace("{" + name + "}", value)
        return f"/{self.vendor}{path}"

    @property
    def params(self) -> list[str]:
        return [name for name in PATH_VALUES if "{" + name + "}" in self.template]

    @property
    def takes_body(self) -> bool:
        return bool(contracts.operation(self.vendor, self.operation_id).request_media_types)

    @property
    def takes_input(self) -> bool:
        """Whether the operation reads anything of the request: a body, parameters or credentials. One
        that reads nothing (a published key set, discovery metadata) answers whatever else comes with it."""
        op = contracts.operation(self.vendor, self.operation_id)
        return bool(op.request_media_types or op.parameters or any(op.security))

    def __str__(self) -> str:
        return f"{self.vendor}.{self.operation_id}"


ROUTES = [
    Route(vendor, op.operation_id, op.method, op.path)
    for vendor in contracts.vendors()
    for op in contracts.operations(vendor)
]


def shape_operation(route: Route, status: int) -> str:
    """The operation whose contract documents this refusal.

    An oversize body is refused before routing reads it, also on operations that take no body; their
    contracts do not list 413 yet (test_contracts_document_413_everywhere), so such a 413 is checked
    against the vendor's own 413 on another operation: same vendor, same error shape.
    """
    if status in contracts.operation(route.vendor, route.operation_id).statuses or status != 413:
        return route.operation_id
    return next(op.operation_id for op in contracts.operations(route.vendor) if 413 in op.statuses)


def assert_refusal(route: Route, status: int, body: bytes, headers: Any, *, oversize: bool = False) -> None:
    """A 4xx (413 when oversize) in the vendor's documented error shape: JSON, never HTML, contract-valid.

    An operation that reads nothing of the request may instead answer with its documented success."""
    if not route.takes_input and 200 <= status < 300:
        contracts.validate_response(route.vendor, route.operation_id, status, json.loads(body), dict(headers))
        return
    assert 400 <= status < 500, f"{route}: {status} {body[:200]!r}"
    if oversize:
        assert status == 413, f"{route}: oversize body answered {status}"
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    assert "json" in content_type, f"{route}: {status} answered as {content_type!r}"
    assert not body.lstrip().startswith(b"<"), f"{route}: {body[:200]!r}"
    json.loads(body)
    contracts.validate_response(route.vendor, shape_operation(route, status), status, body, dict(headers))


def assert_vendor_refusal(vendor: str, status: int, body: bytes, headers: Any) -> None:
    """A 4xx in the vendor's error shape, for a request that may match none of its operations (a mangled
    path): the body is one of the vendor's documented refusals (a path outside every operation has no
    documented status of its own)."""
    assert 400 <= status < 500, f"{vendor}: {status} {body[:200]!r}"
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    assert "json" in content_type, f"{vendor}: {status} answered as {content_type!r}: {body[:200]!r}"
    documented = [(op.operation_id, s) for op in contracts.operations(vendor) for s in op.statuses if 400 <= s < 500]
    ranked = sorted(documented, key=lambda case: case[1] != status)  # the same status first
    problems = []
    for operation_id, documented_status in ranked:
        try:
            contracts.validate_response(vendor, operation_id, documented_status, body, None, content_type)
            return
        except contracts.Violation as violation:
            problems.append(str(violation))
    raise AssertionError(f"{vendor}: {status} {body[:200]!r} is none of its documented refusals: {problems}")
