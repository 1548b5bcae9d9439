"""Fixtures shared by every suite: a controllable clock, the app factory, and a live server on loopback."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, settings
from werkzeug.serving import make_server

from tokenmock.mockserver import create_app
from tokenmock.mockserver.controls.clock import Clock

settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("dev", max_examples=20, deadline=None)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# A fixed start so token timestamps in tests are reproducible (2026-01-01T00:00:00Z).
EPOCH = 1_767_225_600.0


@pytest.fixture
def clock() -> Clock:
    """The mock's clock, frozen at EPOCH; tests move it with advance() instead of sleeping."""
    c = Clock()
    c.freeze(EPOCH)
    return c


@pytest.fixture
def make_app(clock: Clock) -> Callable[..., Flask]:
    """Build an app with response validation on and the test clock injected: make_app(vendor="clickview")."""

    def factory(**settings_: Any) -> Flask:
        return create_app({"validate_responses": True, "access_log": False, "clock": clock, **settings_})

    return factory


class LiveServer:
    """A WSGI app served on 127.0.0.1 in a thread (real sockets, real HTTP)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def serve() -> Iterator[Callable[[Flask], LiveServer]]:
    """Serve apps over HTTP for the test's duration: `base = serve(make_app()).url`."""
    servers: list[LiveServer] = []

    def start(app: Flask) -> LiveServer:
        server = LiveServer(app)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
