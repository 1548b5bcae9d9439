"""Prometheus metrics of the mock, served at `/__mock/metrics` (issue 17).

A CI farm running the mock behind a load balancer wants request rates, statuses and fault counts per
vendor the way it watches everything else. `prometheus_client` does the bookkeeping; each app has its own
registry (no module-level state, so two mocks in one test process count apart). Under gunicorn
`tokenmock serve` points `PROMETHEUS_MULTIPROC_DIR` at a private (0700) directory of its own
(`enable_multiprocess`): every worker then writes its counts to memory-mapped files there, and a scrape of any
worker adds up all of them (the library's multiprocess mode).

Per request the pipeline calls `observe()` once; see `Metrics` for how that stays cheap.
"""

from __future__ import annotations

import atexit
import bisect
import logging
import os
import struct
import threading
import time
from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

from tokenmock.mockserver.pipeline.exchange import Reply
from tokenmock.mockserver.responses import to_response

# Every metric name this module exports (the README lists them; a test compares).
NAMES = (
    "tokenmock_requests_total",
    "tokenmock_request_duration_seconds",
    "tokenmock_faults_total",
    "tokenmock_chaos_draws_total",
    "tokenmock_tokens_issued_total",
    "tokenmock_tokens_refused_total",
)
# Token endpoints answer in well under a millisecond; faults add up to 30 s of latency.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST
# Fault kinds that answer instead of the handler (with chaos draws other than `real`): their 200s and 4xx
# are not tokens issued or refused.
NOT_THE_HANDLER_S = frozenset({"documented", "status"})
# Reads of every worker's files per scrape before giving up (see `exposition`).
READ_ATTEMPTS = 5
# How late another worker's counts may reach a scrape.
FLUSH_SECONDS = 0.5
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def enable_multiprocess(directory: str) -> None:
    """Count in files under `directory` from now on, as prometheus_client does when its variable is set
    before it is first imported (`serve` decides after importing it); call before building the app."""
    os.environ[MULTIPROC_ENV] = directory
    values.ValueClass = values.MultiProcessValue()


class Metrics:
    """The mock's counters and latency histogram, in a registry of their own.

    A request only adds to plain in-process tallies (a lock, a few integer additions, a `bisect`); the
    tallies go into prometheus_client's metrics before every scrape and, under gunicorn (where a scrape
    reaches one worker and reads every worker's files), every FLUSH_SECONDS from a thread of each worker.
    That keeps the per-request cost near a microsecond instead of the 4-8 us that
    four metric updates cost (each a lock, and under gunicorn a write to a memory-mapped file). The price:
    a scrape sees another worker's counts up to FLUSH_SECONDS late (its own are exact).
    """

    def __init__(self, token_operations: Iterable[tuple[str, str]]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # prometheus_client picks its value store when first imported: files only if the variable was set then.
        self._multiprocess = bool(os.environ.get(MULTIPROC_ENV)) and values.ValueClass is not values.MutexValue
        self._token_ops = frozenset(token_operations)
        labels = ("vendor", "operation")
        self.requests = Counter(
            "tokenmock_requests", "Requests answered, by vendor, operation and status",
            (*labels, "status"), registry=self.registry,
        )
        self.duration = Histogram(
            "tokenmock_request_duration_seconds", "Time the mock took to answer, by vendor and operation",
            labels, buckets=BUCKETS, registry=self.registry,
        )
        self.faults = Counter("tokenmock_faults", "Armed faults applied, by kind", ("kind",), registry=self.registry)
        self.chaos = Counter(
            "tokenmock_chaos_draws", "Chaos draws answered, by kind", ("kind",), registry=self.registry
        )
        self.issued = Counter(
            "tokenmock_tokens_issued", "Token requests answered with a token", labels, registry=self.registry
        )
        self.refused = Counter(
            "tokenmock_tokens_refused", "Token requests refused (4xx)", labels, registry=self.registry
        )
        self._lock = threading.Lock()
        # (vendor, operation, status) -> [count, seconds, count per bucket, answered without the handler];
        # fault label -> count.
        self._tallies: dict[tuple[str, str, int], list[Any]] = {}
        self._fault_tallies: dict[str, int] = {}
        self._pid = 0  # the worker whose flusher runs (each forked worker starts its own)

    def observe(
        self, vendor: str | None, operation: str | None, status: int, seconds: float, fault: str | None
    ) -> None:
        """Count one answered request (`fault` as journaled: a kind, `sequence:n:kind` or `chaos:n:kind`)."""
        if self._multiprocess and self._pid != os.getpid():
            self._start_flusher()
        key = (vendor or "-", operation or "-", status)
        bucket = bisect.bisect_left(BUCKETS, seconds)
        with self._lock:
            tally = self._tallies.get(key)
            if tally is None:
                tally = self._tallies[key] = [0, 0.0, [0] * (len(BUCKETS) + 1), 0]
            tally[0] += 1
            tally[1] += seconds
            tally[2][bucket] += 1
            if fault is not None:
                # One tally per source and kind (`chaos:n:kind` has a draw number per request: keyed by
                # it, the tallies would grow by one per request until the next flush).
                kind = fault.rpartition(":")[2]
                label = f"{fault.partition(':')[0]}:{kind}" if ":" in fault else fault
                self._fault_tallies[label] = self._fault_tallies.get(label, 0) + 1
                if kind in NOT_THE_HANDLER_S or (fault.startswith("chaos:") and kind != "real"):
                    tally[3] += 1  # answered instead of the handler: no token was issued or refused

    def flush(self) -> None:
        """Move the tallies into the prometheus_client metrics."""
        with self._lock:
            tallies, self._tallies = self._tallies, {}
            fault_tallies, self._fault_tallies = self._fault_tallies, {}
        for (vendor, operation, status), (count, seconds, buckets, scripted) in tallies.items():
            self.requests.labels(vendor, operation, str(status)).inc(count)
            timed = self.duration.labels(vendor, operation)
            # Histogram.observe() once per request, done in bulk: its sum and the (non-cumulative) bucket counts.
            timed._sum.inc(seconds)
            for index, bucket_count in enumerate(buckets):
                if bucket_count:
                    timed._buckets[min(index, len(timed._buckets) - 1)].inc(bucket_count)
            if (vendor, operation) in self._token_ops and count > scripted:
                if status == 200:
                    self.issued.labels(vendor, operation).inc(count - scripted)
                elif 400 <= status < 500:
                    self.refused.labels(vendor, operation).inc(count - scripted)
        for label, count in fault_tallies.items():
            source, _, kind = label.rpartition(":")
            (self.chaos if source.startswith("chaos") else self.faults).labels(kind).inc(count)

    def _start_flusher(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._tallies, self._fault_tallies = {}, {}  # a forked worker does not count its parent's requests
        threading.Thread(target=self._flush_every, name="tokenmock-metrics", daemon=True).start()
        atexit.register(self.flush)

    def _flush_every(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            try:
                self.flush()
            except Exception:  # a full disk must not end the counting for good
                logging.getLogger("tokenmock").exception("metrics flush failed")

    def exposition(self) -> bytes:
        """The text format for a scrape: this process's counts, or every worker's under gunicorn."""
        self.flush()
        if not self._multiprocess:
            return generate_latest(self.registry)
        for attempt in range(READ_ATTEMPTS):
            try:
                merged = CollectorRegistry()
                MultiProcessCollector(merged)
                return generate_latest(merged)
            except struct.error:
                # Another worker's file caught between its creation and its first write (a window
                # prometheus_client does not lock): read again in a moment.
                if attempt == READ_ATTEMPTS - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")


def add_route(admin: Blueprint, metrics: Metrics) -> None:
    """`GET /__mock/metrics` on the admin blueprint: the admin API's access rules apply (loopback, or the
    admin token, which Prometheus sends with `authorization: {credentials: ...}` in its scrape config)."""

    def scrape() -> Response:
        try:
            return Response(metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})
        except struct.error:
            body = {"error": "temporarily_unavailable", "error_description": "a worker's metrics file is being created"}
            return to_response(Reply(503, body, {"Retry-After": "1"}))

    admin.add_url_rule("/metrics", endpoint="metrics", view_func=scrape, methods=["GET"])
