"""The mock without the web framework: vendors, validators and state, and `handle()` for one request."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Mapping
from typing import Any

from tokenmock import contracts
from tokenmock.contracts import Violation
from tokenmock.mockserver.config import ConfigError, deep_merge
from tokenmock.mockserver.controls.chaos import Chaos, Draw
from tokenmock.mockserver.controls.claims import ClaimBook
from tokenmock.mockserver.controls.clock import Clock
from tokenmock.mockserver.controls.faults import BODY, REAL, WIRE, Fault, FaultBook, FaultError
from tokenmock.mockserver.controls.journal import JournalLike
from tokenmock.mockserver.controls.masking import (
    KnownSecrets,
    known_secrets,
    mask_data,
    mask_headers,
    mask_text,
    printable,
)
from tokenmock.mockserver.controls.metrics import Metrics
from tokenmock.mockserver.controls.scenarios import (
    PreferUnavailable,
    apply_quirk,
    documented_reply,
    named_examples,
    parse_prefer,
    preferred,
    token_object,
)
from tokenmock.mockserver.errors import MockError, ServerFault, StoreUnavailable
from tokenmock.mockserver.pipeline.exchange import Call, Reply
from tokenmock.mockserver.pipeline.validation import RawRequest, RequestValidator, journal_body
from tokenmock.mockserver.stores import Store, open_store, provide_keys
from tokenmock.mockserver.vendors import Vendor, vendor_classes
from tokenmock.mockserver.vendors.base import Runtime

log = logging.getLogger("tokenmock.access")


# Which process answered (journal `worker`): several hosts and workers may share one journal.
_HOST = socket.gethostname()

# How far back the `expired_token` fault runs the handler: past every vendor's access-token lifetime.
EXPIRED_TOKEN_SKEW = 2 * 86400


def injected_status(fault: Fault) -> Reply:
    """A 5xx or 429 answer for the `status` fault, with Retry-After where asked."""
    status = int(fault.params["status"])
    headers = {"Retry-After": str(fault.params["retry_after"])} if "retry_after" in fault.params else {}
    body = {
        "error": "temporarily_unavailable" if status in (429, 503) else "server_error",
        "error_description": f"injected fault: status {status}",
    }
    return Reply(status, body, headers)


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
    chosen: dict[str, str] = {i: ("strict" if settings.get("strict_all") else e.mock) for i, e in entries.items()}
    for key, value in (settings.get("readings") or {}).items():
        if key in entries:
            if value not in ("strict", "lenient"):
                raise ConfigError(f"readings.{key} must be strict or lenient, not {value!r}")
            chosen[key] = value
    return chosen


class TokenMock:
    """Every vendor of the mock, its shared state, and the request pipeline."""

    def __init__(
        self,
        settings: Mapping[str, Any],
        *,
        clock: Clock | None = None,
        store: Store | str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        store = store if store is not None else settings.get("store")
        # A store object is used as given; a URL (`memory`, `sqlite:///...`, `redis://...`) is opened.
        journal_size = int(settings.get("journal_size", 1000))
        timeout = float(settings.get("store_timeout", 0.5))
        self.store: Store = (
            store if isinstance(store, Store) else open_store(store, journal_size=journal_size, timeout=timeout)
        )
        self.clock = clock or Clock()
        self.clock.bind(self.store)
        self.journal: JournalLike = self.store.journal
        self.faults = FaultBook(self.store, check=self.check_fault)
        self.claims = ClaimBook(self.store)
        self.chaos = Chaos(self.store, settings.get("chaos"))
        self.validate_responses = bool(settings.get("validate_responses"))
        self.access_log = bool(settings.get("access_log", True))
        # `Prefer` lets any caller pick an answer (a 200 without a token included): on by default on
        # loopback only, where the caller is the tester; an exposed mock honours it when asked to.
        prefer = settings.get("prefer")
        self.prefer = (not settings.get("exposed")) if prefer is None else bool(prefer)
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
        self.operations: dict[tuple[str, str], contracts.Operation] = {}
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
            provide_keys(self.store, name, cls.defaults, vendor_settings)  # one key per vendor across workers
            vendor = cls(runtime, vendor_settings, readings_for(name, cls.switches, settings))
            self.vendors[name] = vendor
            for op_id, op in ops.items():
                self.validators[(name, op_id)] = RequestValidator(op, vendor)
                self.operations[(name, op_id)] = op
        self.mounted = {selected: ""} if selected else {name: f"/{name}" for name in names}
        token_ops = [key for key, op in self.operations.items() if _issues_tokens(op)]
        # A reload (serve --reload) hands over the running counts with the store and the clock.
        self.metrics: Metrics | None = None
        if settings.get("metrics", True):
            self.metrics = metrics if metrics is not None else Metrics(token_ops)
        admin_token = settings.get("admin_token")
        configured = {str(admin_token)} if admin_token else set()
        self._configured_secrets = frozenset(configured.union(*(v.known_secrets() for v in self.vendors.values())))
        self._known_configured = known_secrets(self._configured_secrets)

    def handle(self, vendor_name: str, operation_id: str, raw: RawRequest) -> Reply:
        """Apply faults and `Prefer`, validate, dispatch, render refusals, check the answer against the
        contract, journal it."""
        started = time.perf_counter()
        vendor = self.vendors[vendor_name]
        path = self.vendor_path(vendor_name, raw.path)
        call: Call | None = None
        answerer: str | None = None
        try:
            self.store.sync()  # another worker may have moved the clock or armed a fault
            draw = self.chaos.draw(vendor_name, operation_id)
            if draw is not None and draw.reply is not None:
                return self._chaos(vendor, operation_id, raw, draw, started)
            fault = self.faults.draw(vendor_name, operation_id) if draw is None else None
            call, reply = self._answer(vendor, operation_id, raw, fault, path)
        except StoreUnavailable as outage:
            # The vendor's own 503 with Retry-After. Not checked against the contract: like an injected
            # `status` fault, it is the mock's infrastructure failing, which no vendor document covers.
            reply = vendor.render_error(outage, call, path)
            outage_label = "store_unavailable"
            self.record(vendor_name, operation_id, raw, call, reply, started, outage_label, answered_by=outage_label)
            return reply
        except MockError as error:  # the request failed validation
            reply = vendor.render_error(error, None, path)
            answerer = "validation"
        except PreferUnavailable as unavailable:
            reply = unavailable.reply
            self.record(vendor_name, operation_id, raw, None, reply, started, answered_by="prefer")
            return reply
        except Exception:
            if self.validate_responses:
                raise
            logging.getLogger("tokenmock").exception("handler %s.%s failed", vendor_name, operation_id)
            reply = vendor.render_error(ServerFault("the mock failed; see its log"), call, path)
            answerer = "handler"
        if fault is not None:
            reply = self._bend(reply, fault)
        elif self.validate_responses:
            self.check(vendor_name, operation_id, reply)
        label = draw.label if draw is not None else (fault.label or fault.kind) if fault is not None else None
        answerer = answerer or _answerer(fault, call)
        self.record(vendor_name, operation_id, raw, call, reply, started, label, answered_by=answerer)
        return reply

    def _chaos(self, vendor: Vendor, operation_id: str, raw: RawRequest, draw: Draw, started: float) -> Reply:
        """Answer with a generated draw; the request is still parsed, so the journal shows what was sent."""
        try:
            call: Call | None = self.validators[(vendor.name, operation_id)].validate(raw)
        except MockError:
            call = None
        reply = draw.to_reply()
        self.record(vendor.name, operation_id, raw, call, reply, started, draw.label, answered_by="chaos")
        return reply

    def _answer(
        self, vendor: Vendor, operation_id: str, raw: RawRequest, fault: Fault | None, path: str
    ) -> tuple[Call | None, Reply]:
        """The call and the reply before body and wire faults: an injected status, a `Prefer`red
        example, or the handler's answer (its refusals rendered in the vendor's shape)."""
        if fault is not None and fault.kind == "latency":
            jitter = fault.rng.uniform(0, fault.params["jitter_ms"]) if fault.params["jitter_ms"] else 0.0
            time.sleep((fault.params["ms"] + jitter) / 1000)
        if fault is not None and fault.kind == "status":
            return None, injected_status(fault)
        if fault is not None and fault.kind == "documented":
            params = fault.params
            op = self.operations[(vendor.name, operation_id)]
            return None, documented_reply(op, vendor, params.get("status"), params.get("example"))
        prefer = parse_prefer(raw.headers.get("Prefer")) if self.prefer else None
        if prefer:
            return None, preferred(self.operations[(vendor.name, operation_id)], vendor, prefer)
        call = self.validators[(vendor.name, operation_id)].validate(raw)
        handler = vendor.handler(operation_id)
        try:
            if fault is not None and fault.kind == "expired_token":
                with self.clock.skewed(-EXPIRED_TOKEN_SKEW):
                    return call, handler(call)
            return call, handler(call)
        except StoreUnavailable:
            raise
        except MockError as error:
            return call, vendor.render_error(error, call, path)

    def check_fault(self, fault: Fault) -> None:
        """Refuse (FaultError) a documented response the fault's operation does not document, at arm time."""
        steps = fault.params["steps"] if fault.kind == "sequence" else [{"kind": fault.kind, **fault.params}]
        for number, step in enumerate(steps, 1):
            if step["kind"] != "documented":
                continue
            where = f"step {number}: " if fault.kind == "sequence" else ""
            if fault.vendor is None or fault.operation is None:
                raise FaultError(f"{where}a documented response is one operation's: give vendor and operation")
            op = self.operations.get((fault.vendor, fault.operation))
            if op is None:
                raise FaultError(f"{where}{fault.vendor} has no operation {fault.operation}")
            try:
                documented_reply(op, self.vendors[fault.vendor], step.get("status"), step.get("example"))
            except PreferUnavailable as unavailable:
                choices = unavailable.reply.body
                raise FaultError(
                    f"{where}{fault.operation} documents no such response; statuses {', '.join(choices['codes'])}, "
                    f"examples {', '.join(choices['examples'])}"
                ) from None

    @staticmethod
    def _bend(reply: Reply, fault: Fault) -> Reply:
        if fault.kind in WIRE:
            reply.wire, reply.wire_params = fault.kind, dict(fault.params)
        elif fault.kind in BODY and fault.kind != "expired_token":
            reply = apply_quirk(reply, fault)
        return reply

    def refuse(self, vendor_name: str, error: MockError, raw: RawRequest) -> Reply:
        """Answer a request that matched no operation (unknown path, wrong method, oversize body)."""
        started = time.perf_counter()
        with contextlib.suppress(StoreUnavailable):  # the refusal does not depend on shared state
            self.store.sync()
        reply = self.vendors[vendor_name].render_error(error, None, self.vendor_path(vendor_name, raw.path))
        self.record(vendor_name, None, raw, None, reply, started, answered_by="refusal")
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
        *,
        answered_by: str = "handler",
    ) -> None:
        """Journal the exchange (masked) and write one masked, escaped log line.

        Every request is journaled whatever answered it (`answered_by`, see `ANSWERERS`); a body no
        validator parsed is read leniently (`journal_body`) and masked the same way."""
        elapsed_ms = (time.perf_counter() - started) * 1000
        if self.metrics is not None:  # first: counted in-process even when a shared journal is down
            self.metrics.observe(vendor_name, operation_id, reply.status, elapsed_ms / 1000, fault)
        path, query, headers = mask_text(raw.path), mask_data(dict(raw.query)), mask_headers(dict(raw.headers))
        body = mask_data(call.body if call is not None else journal_body(raw.body, raw.content_type))
        secrets = self.known_secrets()
        if secrets.found_in(path, query, headers, body):  # a secret outside the fields named like one
            path, query, headers = secrets.mask(path), secrets.mask(query), secrets.mask(headers)
            body = secrets.mask(body)
        shaped = {"claims": reply.shaped} if reply.shaped is not None else {}
        self.journal.record(
            {
                **shaped,  # a token a test shaped on purpose (custom or overridden claims)
                "time": self.clock.now(),
                "vendor": vendor_name,
                "operation": operation_id,
                "method": raw.method,
                "path": path,
                "query": query,
                "headers": headers,
                "body": body,
                "status": reply.status,
                "fault": fault,
                "answered_by": answered_by,
                "duration_ms": round(elapsed_ms, 3),
                "worker": f"{_HOST}:{os.getpid()}",
            }
        )
        if self.access_log:
            log.info(
                "%s %s -> %d %s.%s %.1fms",
                printable(raw.method),
                printable(path),
                reply.status,
                vendor_name or "-",
                operation_id or "-",
                elapsed_ms,
            )

    def known_secrets(self) -> KnownSecrets:
        """Every secret value the mock knows now: configured, registered at runtime, the admin token."""
        runtime = [vendor.runtime_secrets() for vendor in self.vendors.values()]
        if not any(runtime):
            return self._known_configured
        return known_secrets(self._configured_secrets.union(*runtime))

    def reset(self) -> None:
        """Forget state: refresh tokens, revocations, runtime clients, journal, faults; real time again;
        chaos as configured, from its first draw."""
        self.store.reset()
        self.journal.clear()
        self.faults.clear()
        self.claims.clear()
        self.chaos.reset()
        self.clock.reset()


# What answered a journaled request: the operation's handler, the contract validation that refused the
# request before it, a refusal of a request that matched no operation (unknown path, wrong method,
# oversize or unreadable body), an armed fault or sequence step, chaos, a `Prefer`red example, or the
# store being unreachable.
# (`upstream`: a `tokenmock proxy` journals what the vendor behind it answered.)
ANSWERERS = ("handler", "validation", "refusal", "fault", "chaos", "prefer", "store_unavailable", "upstream")


def _answerer(fault: Fault | None, call: Call | None) -> str:
    """Who answered a request that passed chaos and validation (see `ANSWERERS`): a fault other than a
    sequence's `real` step, else the handler, else (no call was parsed) a `Prefer`red example."""
    if fault is not None and fault.kind != REAL:
        return "fault"
    return "handler" if call is not None else "prefer"


def _issues_tokens(op: contracts.Operation) -> bool:
    """Whether an operation's documented success carries an access token (metrics count those as issued)."""
    return any(status == 200 and token_object(value) is not None for _, _, status, _, value in named_examples(op))
