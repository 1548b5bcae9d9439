"""The mock without the web framework: vendors, validators and state, and `handle()` for one request."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import contracts
from contracts import Violation
from mockserver.clock import Clock
from mockserver.config import ConfigError, deep_merge
from mockserver.errors import MockError, ServerFault
from mockserver.exchange import Call, Reply
from mockserver.journal import Journal
from mockserver.masking import mask_data, mask_headers
from mockserver.store import MemoryStore, Store
from mockserver.validation import RawRequest, RequestValidator
from mockserver.vendors import Vendor, vendor_classes
from mockserver.vendors.base import Runtime

log = logging.getLogger("tokenmock.access")


class StartupError(RuntimeError):
    """Contracts and vendor modules disagree, or the configuration is unusable: refuse to start."""


class ResponseDrift(AssertionError):
    """A handler answered something its contract does not allow (raised when validate_responses is on)."""


def readings_for(vendor: str, switches: frozenset[str], settings: Mapping[str, Any]) -> dict[str, str]:
    """Each switch's reading: the register's default, `strict_all`, then explicit `readings`."""
    entries = {e.id: e for e in contracts.register(vendor) if e.switchable}
    if set(entries) != set(switches):
        missing, extra = sorted(set(entries) - switches), sorted(switches - set(entries))
        raise StartupError(f"{vendor}: register switches not implemented {missing}, unknown switches {extra}")
    chosen = {i: ("strict" if settings.get("strict_all") else e.mock) for i, e in entries.items()}
    for key, value in (settings.get("readings") or {}).items():
        if key in entries:
            if value not in ("strict", "lenient"):
                raise ConfigError(f"readings.{key} must be strict or lenient, not {value!r}")
            chosen[key] = value
    return chosen


class TokenMock:
    """Every vendor of the mock, its shared state, and the request pipeline."""

    def __init__(self, settings: Mapping[str, Any], *, clock: Clock | None = None, store: Store | None = None):
        self.settings = settings
        self.clock = clock or Clock()
        self.store: Store = store or MemoryStore()
        self.journal = Journal(int(settings.get("journal_size", 1000)))
        self.validate_responses = bool(settings.get("validate_responses"))
        self.access_log = bool(settings.get("access_log", True))
        runtime = Runtime(self.clock, self.store)
        classes = vendor_classes()
        known_readings = {e.id for e in contracts.register()}
        unknown = sorted(set(settings.get("readings") or {}) - known_readings)
        if unknown:
            raise ConfigError(f"readings name unknown discrepancy ids: {', '.join(unknown)}")
        selected = settings.get("vendor")
        names = contracts.vendors()
        if selected is not None and selected not in names:
            raise ConfigError(f"unknown vendor {selected!r}; choose one of {', '.join(names)}")
        self.vendors: dict[str, Vendor] = {}
        self.validators: dict[tuple[str, str], RequestValidator] = {}
        for name in (selected,) if selected else names:
            cls = classes.get(name)
            if cls is None:
                raise StartupError(f"no mock module for vendor {name}")
            ops = {op.operation_id: op for op in contracts.operations(name)}
            if set(ops) != set(cls.handlers):
                raise StartupError(
                    f"{name}: operations without handler {sorted(set(ops) - set(cls.handlers))}, "
                    f"handlers without operation {sorted(set(cls.handlers) - set(ops))}"
                )
            vendor_settings = deep_merge(cls.defaults, (settings.get("vendors") or {}).get(name, {}))
            vendor = cls(runtime, vendor_settings, readings_for(name, cls.switches, settings))
            self.vendors[name] = vendor
            for op_id, op in ops.items():
                self.validators[(name, op_id)] = RequestValidator(op, vendor)
        self.mounted = {selected: ""} if selected else {name: f"/{name}" for name in names}

    def handle(self, vendor_name: str, operation_id: str, raw: RawRequest) -> Reply:
        """Validate, dispatch, render refusals, check the answer against the contract, journal it."""
        started = time.perf_counter()
        vendor = self.vendors[vendor_name]
        call: Call | None = None
        try:
            call = self.validators[(vendor_name, operation_id)].validate(raw)
            reply = vendor.handler(operation_id)(call)
        except MockError as error:
            reply = vendor.render_error(error, call, self.vendor_path(vendor_name, raw.path))
        except Exception:
            if self.validate_responses:
                raise
            logging.getLogger("tokenmock").exception("handler %s.%s failed", vendor_name, operation_id)
            fault = ServerFault("the mock failed; see its log")
            reply = vendor.render_error(fault, call, self.vendor_path(vendor_name, raw.path))
        if self.validate_responses:
            self.check(vendor_name, operation_id, reply)
        self.record(vendor_name, operation_id, raw, call, reply, started)
        return reply

    def refuse(self, vendor_name: str, error: MockError, raw: RawRequest) -> Reply:
        """Answer a request that matched no operation (unknown path, wrong method, oversize body)."""
        started = time.perf_counter()
        reply = self.vendors[vendor_name].render_error(error, None, self.vendor_path(vendor_name, raw.path))
        self.record(vendor_name, None, raw, None, reply, started)
        return reply

    def vendor_path(self, vendor_name: str, path: str) -> str:
        """The request path as the vendor would see it (without the `/<vendor>` mount prefix)."""
        prefix = self.mounted.get(vendor_name, "")
        return path[len(prefix) :] or "/" if prefix and path.startswith(prefix) else path

    @staticmethod
    def check(vendor_name: str, operation_id: str, reply: Reply) -> None:
        """Raise ResponseDrift when a reply breaks the operation's contract."""
        try:
            contracts.validate_response(
                vendor_name, operation_id, reply.status, reply.body, reply.headers, reply.media_type
            )
        except Violation as violation:
            raise ResponseDrift(str(violation)) from None

    def record(
        self,
        vendor_name: str | None,
        operation_id: str | None,
        raw: RawRequest,
        call: Call | None,
        reply: Reply,
        started: float,
        fault: str | None = None,
    ) -> None:
        """Journal the exchange (masked) and write one masked log line."""
        elapsed_ms = (time.perf_counter() - started) * 1000
        self.journal.record(
            {
                "time": self.clock.now(),
                "vendor": vendor_name,
                "operation": operation_id,
                "method": raw.method,
                "path": raw.path,
                "query": mask_data(dict(raw.query)),
                "headers": mask_headers(dict(raw.headers)),
                "body": mask_data(call.body) if call is not None else {"unparsed_bytes": len(raw.body)},
                "status": reply.status,
                "fault": fault,
                "duration_ms": round(elapsed_ms, 3),
            }
        )
        if self.access_log:
            log.info(
                "%s %s -> %d %s.%s %.1fms",
                raw.method,
                raw.path,
                reply.status,
                vendor_name or "-",
                operation_id or "-",
                elapsed_ms,
            )

    def reset(self) -> None:
        """Forget state: refresh tokens, revocations, runtime clients, journal; the clock back to real time."""
        self.store.reset()
        self.journal.clear()
        self.clock.reset()
