"""Drift: every way an exchange through the proxy breaks the vendor's contract, and the report of them.

Responses are held to the contract in full (status documented, required and well-formed headers, the
media type, every schema error of the body, not only the first): that is the upstream drifting. Requests
are checked with the mock's own request validator under the readings the contract encodes: a request
outside the contract is the client's business, reported apart, never counted as drift. An upstream that
broke a budget (too slow, too large, not HTTP) is drift too.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import Headers
from werkzeug.http import parse_cookie

from tokenmock.contracts.loader import operation
from tokenmock.contracts.validation import FastSchema, compile_fast, describe, pointer
from tokenmock.mockserver.errors import MockError
from tokenmock.mockserver.pipeline.validation import RawRequest

if TYPE_CHECKING:
    from tokenmock.mockserver.pipeline.core import TokenMock
    from tokenmock.mockserver.proxy.exchange import Exchange

# Findings kept in a report (the first ones; later ones are counted, not kept).
MAX_FINDINGS = 1000


@dataclass(frozen=True)
class Finding:
    """One contract violation seen: on which side, of which operation, which rule, where."""

    exchange: int
    side: str  # response | request | upstream
    operation: str | None
    status: int
    rule: str
    field: str
    message: str

    def key(self) -> tuple[str, str, int, str, str]:
        """What identical findings of different exchanges share (the report's table groups by it)."""
        return (self.side, self.operation or "-", self.status, self.rule, self.field)

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON."""
        return asdict(self)


@functools.cache
def _body_schema(vendor: str, operation_id: str, status: int, media_type: str) -> FastSchema:
    response = operation(vendor, operation_id).response(status) or {}
    return compile_fast(((response.get("content") or {}).get(media_type) or {}).get("schema", {}))


@functools.cache
def _header_schema(vendor: str, operation_id: str, status: int, name: str) -> FastSchema:
    response = operation(vendor, operation_id).response(status) or {}
    return compile_fast(((response.get("headers") or {}).get(name) or {}).get("schema") or {})


def response_findings(exchange: Exchange) -> Iterator[Finding]:
    """Every way the upstream's answer breaks the operation's contract."""
    vendor, op_id, status = exchange.vendor, exchange.operation_id, exchange.status

    def finding(rule: str, message: str, where: str = "") -> Finding:
        return Finding(exchange.id, "response", op_id, status, rule, where, message)

    if exchange.failure is not None:
        yield Finding(exchange.id, "upstream", op_id, status, "budget", "", exchange.failure)
        return
    if op_id is None:
        return  # a path the contract does not have: the request's finding says so
    op = operation(vendor, op_id)
    response = op.response(status)
    if response is None:
        yield finding(
            "status_code", f"status {status} is not documented (documented: {', '.join(map(str, op.statuses))})"
        )
        return
    for name, header in (response.get("headers") or {}).items():
        value = exchange.response_header(name)
        if value is None:
            if header.get("required"):
                yield finding("required_header", f"header {name} is required", f"header:{name}")
            continue
        if header.get("schema"):
            for error in _header_schema(vendor, op_id, status, name).iter_errors(value):
                yield finding(f"header_{error.validator}", describe(error), f"header:{name}")
    content = response.get("content") or {}
    if not content:
        return
    media_type = exchange.response_media_type
    if not media_type:
        if exchange.response_body:
            yield finding("content_type", f"no Content-Type; the contract documents {', '.join(content)}")
        media_type = next(iter(content))
    elif media_type not in content:
        yield finding("content_type", f"content type {media_type!r} is not one of {', '.join(content)}")
        return
    data = exchange.response_data
    if "json" in media_type and data is None:
        yield finding("json", "the body is not valid JSON" if exchange.response_body else "the body is empty")
        return
    validator = _body_schema(vendor, op_id, status, media_type)
    if not validator.is_valid(data):
        for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
            yield finding(str(error.validator), describe(error), pointer(error))


def request_findings(mock: TokenMock, exchange: Exchange) -> Iterator[Finding]:
    """How the client's request breaks the contract (the mock's request validator, the contract's readings)."""
    if exchange.operation_id is None:
        yield Finding(
            exchange.id,
            "request",
            None,
            exchange.status,
            "unknown_operation",
            "",
            f"{exchange.method} {exchange.path} is not an operation of the contract",
        )
        return
    headers = Headers(exchange.request_headers)
    raw = RawRequest(
        method=exchange.method,
        path=exchange.path,
        path_params=exchange.path_params,
        query=exchange.query,
        headers=headers,  # type: ignore[arg-type]
        cookies=parse_cookie(headers.get("Cookie", "")),
        body=exchange.request_body,
        content_type=headers.get("Content-Type"),
    )
    try:
        mock.validators[(exchange.vendor, exchange.operation_id)].validate(raw)
    except MockError as error:
        rule = error.rule or type(error).__name__
        yield Finding(
            exchange.id, "request", exchange.operation_id, exchange.status, rule, error.field or "", error.description
        )


class DriftReport:
    """Findings of every exchange, the masked exchange and curl line of each one that has any."""

    def __init__(self, vendor: str, upstream: str) -> None:
        self.vendor = vendor
        self.upstream = upstream
        self.exchanges = 0
        self.findings: list[Finding] = []
        self.dropped = 0
        self.evidence: dict[int, dict[str, Any]] = {}  # exchange id -> {"exchange": masked, "curl": ...}
        self.operations: dict[str, int] = {}  # operationId (or "-") -> exchanges seen

    def add(self, exchange: Exchange, findings: list[Finding], masked: Mapping[str, Any], curl: str) -> None:
        """Count an exchange and keep its findings (bounded)."""
        self.exchanges += 1
        name = exchange.operation_id or "-"
        self.operations[name] = self.operations.get(name, 0) + 1
        if not findings:
            return
        room = MAX_FINDINGS - len(self.findings)
        self.findings += findings[: max(room, 0)]
        self.dropped += max(len(findings) - max(room, 0), 0)
        if room > 0:
            self.evidence[exchange.id] = {"exchange": dict(masked), "curl": curl}

    def drift(self) -> list[Finding]:
        """What the upstream did outside the contract (response and budget findings)."""
        return [f for f in self.findings if f.side != "request"]

    def outside(self) -> list[Finding]:
        """What the clients sent outside the contract."""
        return [f for f in self.findings if f.side == "request"]

    def to_json(self) -> dict[str, Any]:
        """The whole report as JSON (GET /__mock/drift)."""

        def listed(findings: list[Finding]) -> list[dict[str, Any]]:
            return [{**f.to_dict(), **self.evidence.get(f.exchange, {})} for f in findings]

        return {
            "vendor": self.vendor,
            "upstream": self.upstream,
            "exchanges": self.exchanges,
            "operations": dict(self.operations),
            "drift": listed(self.drift()),
            "requests_outside_contract": listed(self.outside()),
            "findings_not_kept": self.dropped,
        }
