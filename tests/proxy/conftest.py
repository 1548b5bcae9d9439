"""A `tokenmock proxy` in this process, in front of whatever upstream a test starts."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tokenmock.mockserver.proxy import ClientBudget, Proxy, ProxyServer, Upstream


@dataclass
class Proxied:
    """A running proxy: its URL and the `Proxy` (report, observations, journal)."""

    url: str
    proxy: Proxy
    server: ProxyServer

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxied() -> Iterator[Callable[..., Proxied]]:
    """Start a proxy on a kernel-chosen loopback port: `proxied(vendor, upstream_url, **Proxy options)`."""
    started: list[Proxied] = []

    def start(
        vendor: str, upstream: str, *, ca_file: str | None = None, max_connections: int = 64, **options: Any
    ) -> Proxied:
        proxy = Proxy(vendor, Upstream.parse(upstream, ca_file), **options)
        budget = ClientBudget(max_body=proxy.max_body, request_seconds=proxy.seconds, max_connections=max_connections)
        server = ProxyServer("127.0.0.1", 0, proxy, budget)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        running = Proxied(f"http://127.0.0.1:{server.server_address[1]}", proxy, server)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
