"""Prometheus metrics of the mock, served at `/__mock/metrics` (issue 17).

A CI farm running the mock behind a load balancer wants request rates, statuses and fault counts per
vendor the way it watches everything else. `prometheus_client` does the bookkeeping; each app has its own
registry (no module-level state, so two mocks in one test process count apart). Under gunicorn
`tokenmock serve` points `PROMETHEUS_MULTIPROC_DIR` at a private (0700) directory of its own
(`enable_multiprocess`): every worker then writes its counts to memory-mapped files there, and a scrape of any
worker adds up all of them (the library's multiprocess mode).

Per request the pipeline calls `observe()` once. The label children are looked up once per
(vendor, operation, status) and kept, so the common case is two increments and one histogram observation.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

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
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def enable_multiprocess(directory: str) -> None:
    """Count in files under `directory` from now on, as prometheus_client does when its variable is set
    before it is first imported (`serve` decides after importing it); call before building the app."""
    os.environ[MULTIPROC_ENV] = directory
    values.ValueClass = values.MultiProcessValue()


class Metrics:
    """The mock's counters and latency histogram, in a registry of their own."""

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
        self._children: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}

    def observe(
        self, vendor: str | None, operation: str | None, status: int, seconds: float, fault: str | None
    ) -> None:
        """Count one answered request (`fault` as journaled: a kind, `sequence:n:kind` or `chaos:n:kind`)."""
        key = (vendor or "-", operation or "-", status)
        children = self._children.get(key)
        if children is None:
            vendor_label, op_label = key[0], key[1]
            token_op = (vendor_label, op_label) in self._token_ops
            outcome = None
            if token_op and status == 200:
                outcome = self.issued.labels(vendor_label, op_label)
            elif token_op and 400 <= status < 500:
                outcome = self.refused.labels(vendor_label, op_label)
            children = (
                self.requests.labels(vendor_label, op_label, str(status)),
                self.duration.labels(vendor_label, op_label),
                outcome,
            )
            self._children[key] = children
        counted, timed, outcome = children
        counted.inc()
        timed.observe(seconds)
        if outcome is not None:
            outcome.inc()
        if fault is not None:
            source, _, kind = fault.rpartition(":")
            (self.chaos if source.startswith("chaos") else self.faults).labels(kind).inc()

    def exposition(self) -> bytes:
        """The text format for a scrape: this process's counts, or every worker's under gunicorn."""
        if self._multiprocess:
            merged = CollectorRegistry()
            MultiProcessCollector(merged)
            return generate_latest(merged)
        return generate_latest(self.registry)


def add_route(admin: Blueprint, metrics: Metrics) -> None:
    """`GET /__mock/metrics` on the admin blueprint: the admin API's access rules apply (loopback, or the
    admin token, which Prometheus sends with `authorization: {credentials: ...}` in its scrape config)."""

    def scrape() -> Response:
        return Response(metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    admin.add_url_rule("/metrics", endpoint="metrics", view_func=scrape, methods=["GET"])
