"""`Proxy`: forward each request to the upstream untouched, then look at the exchange beside it.

The admin side is the mock's own: a one-vendor mock app (never answering vendor traffic) supplies the
admin API, the journal behind `/__mock/requests` and the control page, under the same access rules (a
proxy bound beyond loopback answers its admin routes only with the admin token). `/__mock/drift` and
`/__mock/readings` are added to that API. Requests under `/__mock/` stay here; everything else goes up.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response
from werkzeug.test import EnvironBuilder, run_wsgi_app

from tokenmock import contracts
from tokenmock.mockserver.controls.masking import printable
from tokenmock.mockserver.pipeline.exchange import Reply
from tokenmock.mockserver.proxy.budget import BODY_BYTES, EXCHANGE_SECONDS
from tokenmock.mockserver.proxy.drift import DriftReport, request_findings, response_findings
from tokenmock.mockserver.proxy.exchange import Exchange, Secrets, curl_line
from tokenmock.mockserver.proxy.listener import Incoming
from tokenmock.mockserver.proxy.readings import OBSERVERS, Observations
from tokenmock.mockserver.proxy.record import Recorder
from tokenmock.mockserver.proxy.render import readings_report
from tokenmock.mockserver.proxy.wire import Answer, Upstream, UpstreamFailure, exchange, returned
from tokenmock.mockserver.responses import to_response

log = logging.getLogger("tokenmock.proxy")
ADMIN = b"/__mock"
_WORKER = f"{socket.gethostname()}:{os.getpid()}"


def _latin1(pairs: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in pairs]


class Proxy:
    """One vendor's upstream behind a local port: forwarding, drift, readings, journal, recording."""

    def __init__(
        self,
        vendor: str,
        upstream: Upstream,
        *,
        admin_token: str | None = None,
        exposed: bool = False,
        seconds: float = EXCHANGE_SECONDS,
        max_body: int = BODY_BYTES,
        record_dir: str | None = None,
        journal_size: int = 1000,
    ) -> None:
        from tokenmock.mockserver import create_app

        self.vendor = vendor
        self.upstream = upstream
        self.seconds = seconds
        self.max_body = max_body
        # The contract's readings, so the request validator holds clients to the contract exactly.
        spec = {e.id: e.spec for e in contracts.register(vendor) if e.switchable}
        settings: dict[str, Any] = {
            "vendor": vendor,
            "readings": spec,
            "exposed": exposed,
            "admin_token": admin_token,
            "access_log": False,
            "metrics": False,
            "journal_size": journal_size,
            "store": "memory",
            "admin_routes": [self._admin_routes],
        }
        self.app = create_app(settings)
        self.mock = self.app.extensions["tokenmock"]
        self.secrets = Secrets({admin_token} if admin_token else None)
        self.report = DriftReport(vendor, upstream.origin + upstream.prefix)
        self.observations = Observations(OBSERVERS[vendor])
        self.recorder = Recorder(record_dir, vendor, upstream.origin + upstream.prefix) if record_dir else None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()  # one exchange examined at a time: the report's order is the ids'

    # Forwarding.

    def __call__(self, incoming: Incoming) -> Answer:
        """Answer one request: the admin API here, anything else from the upstream."""
        path = incoming.target.split(b"?", 1)[0]
        if path == ADMIN or path.startswith(ADMIN + b"/"):
            return self._admin(incoming)
        if not path.startswith(b"/"):  # absolute-form, CONNECT's authority-form, `*`: a forward proxy's work
            return self._refused(400, "send requests to the proxy as to the vendor: a path, not a URL or CONNECT")
        started, clock = time.perf_counter(), time.time()
        failure = None
        try:
            answer = exchange(
                self.upstream,
                incoming.method,
                incoming.target,
                incoming.headers,
                incoming.body,
                framed=incoming.framed,
                seconds=self.seconds,
                max_body=self.max_body,
            )
            client_answer = Answer(
                answer.status,
                answer.reason,
                returned(answer.headers, answer.body, head_request=incoming.method == b"HEAD"),
                answer.body,
            )
        except UpstreamFailure as exc:
            failure = f"{exc.kind}: {exc}"
            answer = client_answer = self._failed(exc)
        record = Exchange(
            id=next(self._ids),
            vendor=self.vendor,
            time=clock,
            method=incoming.method.decode("latin-1"),
            target=incoming.target.decode("latin-1"),
            request_headers=_latin1(incoming.headers),
            request_body=incoming.body,
            status=answer.status,
            reason=answer.reason.decode("latin-1"),
            response_headers=_latin1(answer.headers),
            response_body=answer.body,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            failure=failure,
        )
        try:
            self.examine(record)
        except Exception:  # the client's answer never depends on the bookkeeping beside it
            log.exception("proxy: exchange %d could not be examined", record.id)
        return client_answer

    @staticmethod
    def _refused(status: int, description: str) -> Answer:
        body = json.dumps({"error": "invalid_request", "error_description": description}).encode()
        headers = [(b"Content-Type", b"application/json"), (b"Content-Length", str(len(body)).encode())]
        return Answer(status, b"", headers, body)

    @staticmethod
    def _failed(failure: UpstreamFailure) -> Answer:
        body = json.dumps(
            {"error": "upstream_failed", "error_description": printable(str(failure)), "kind": failure.kind}
        ).encode()
        headers = [
            (b"Content-Type", b"application/json"),
            (b"Content-Length", str(len(body)).encode()),
            (b"X-Tokenmock-Proxy", b"upstream-failed"),
        ]
        return Answer(failure.status, b"", headers, body)

    # Beside the answer.

    def examine(self, record: Exchange) -> None:
        """Learn its secrets, check it against the contract, observe readings, journal and record it."""
        with self._lock:
            self.secrets.learn(record)
            findings = list(response_findings(record)) + list(request_findings(self.mock, record))
            self.observations.observe(record)
            masked = self.secrets.masked(record)
            curl = curl_line(masked, self.upstream.origin + self.upstream.prefix)
            self.report.add(record, findings, masked, curl)
            self.mock.journal.record(
                {
                    "time": record.time,
                    "vendor": self.vendor,
                    "operation": record.operation_id,
                    "method": masked["method"],
                    "path": masked["path"],
                    "query": masked["query"],
                    "headers": masked["headers"],
                    "body": masked["body"],
                    "status": record.status,
                    "fault": None,
                    "answered_by": "upstream",
                    "duration_ms": record.duration_ms,
                    "worker": _WORKER,
                    "upstream": self.report.upstream,
                    "drift": [f"{f.side}: {' '.join(filter(None, (f.rule, f.field)))}: {f.message}" for f in findings],
                }
            )
            if self.recorder is not None:
                self.recorder.record(record, self.secrets)

    # The admin side.

    def _admin_routes(self, admin: Blueprint) -> None:
        def drift() -> Response:
            with self._lock:
                return to_response(Reply(200, self.report.to_json()))

        def readings() -> Response:
            with self._lock:
                return to_response(Reply(200, readings_report(self.observations)))

        admin.add_url_rule("/drift", endpoint="proxy_drift", view_func=drift, methods=["GET"])
        admin.add_url_rule("/readings", endpoint="proxy_readings", view_func=readings, methods=["GET"])

    def _admin(self, incoming: Incoming) -> Answer:
        """Run an admin request through the mock app (WSGI), as its own server would."""
        target = incoming.target.decode("latin-1")
        path, _, query = target.partition("?")
        headers = _latin1(incoming.headers)
        host = next((value for name, value in headers if name.lower() == "host"), "localhost")
        builder = EnvironBuilder(
            path=path,
            base_url=f"http://{host}" if host and "/" not in host and "@" not in host else "http://localhost",
            query_string=query,
            method=incoming.method.decode("latin-1"),
            headers=[(k, v) for k, v in headers if k.lower() not in ("host", "content-length")],
            data=incoming.body,
            environ_base={"REMOTE_ADDR": incoming.peer},
        )
        try:
            environ = builder.get_environ()
        except ValueError:
            return Answer(400, b"", [(b"Content-Length", b"0")], b"")
        finally:
            builder.close()
        app_iter, status, response_headers = run_wsgi_app(self.app, environ, buffered=True)
        body = b"".join(app_iter)
        code = int(status.split(" ", 1)[0])
        pairs = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in response_headers.items()
            if k.lower() != "content-length"
        ]
        return Answer(code, b"", [*pairs, (b"Content-Length", str(len(body)).encode())], body)

    def report_json(self) -> Mapping[str, Any]:
        """The drift report with the readings, as written by --json and on exit."""
        with self._lock:
            return {
                **self.report.to_json(),
                "readings": readings_report(self.observations),
                "token_lifetime": self.observations.token_lifetime(),
            }
