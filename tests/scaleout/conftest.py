"""Fixtures for the shared stores: a real redis-server on a free loopback port, a fresh store per app,
and `make_app` overridden so suites imported here run against SQLite and Redis."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from tokenmock.mockserver import create_app
from tokenmock.mockserver.controls.clock import Clock
from tokenmock.mockserver.stores import Store, open_store

SHARED_KINDS = ("sqlite", "redis")


def free_port() -> int:
    """A loopback port nobody listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A private redis-server on 127.0.0.1 (no persistence), stopped by the fixture that started it."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.client = redis.Redis(host="127.0.0.1", port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                break
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)  # polling a starting server, not waiting for expiry

    def url(self, prefix: str | None = None) -> str:
        """A store URL on this server; a fresh prefix keeps each test's state apart."""
        return f"redis://127.0.0.1:{self.port}/0?prefix={prefix or 'tm-' + uuid.uuid4().hex[:12]}"

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """redis-server from the Debian package; CI installs it (.ci/run), so there it must be present."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (Debian: apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = RedisServer(binary, tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    """`store_url(kind)`: a fresh store of that kind for each call (one per app, like a new server)."""
    count = iter(range(1_000_000))

    def make(kind: str) -> str:
        if kind == "memory":
            return "memory"
        if kind == "sqlite":
            return f"sqlite://{tmp_path}/state-{next(count)}.db"
        return request.getfixturevalue("redis_server").url()

    return make


@pytest.fixture
def open_stores() -> Iterator[Callable[[str], Store]]:
    """Open stores by URL (two on one URL are two processes sharing state); closed after the test."""
    opened: list[Store] = []

    def open_(url: str) -> Store:
        store = open_store(url, journal_size=5)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture(params=SHARED_KINDS)
def make_app(
    request: pytest.FixtureRequest, clock: Clock, store_url: Callable[[str], str]
) -> Iterator[Callable[..., Flask]]:
    """The suites' app factory, each app on a fresh store of the parametrised kind."""
    apps: list[Flask] = []

    def factory(**settings: Any) -> Flask:
        app = create_app(
            {
                "validate_responses": True,
                "access_log": False,
                "clock": clock,
                "store": store_url(request.param),
                **settings,
            }
        )
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["tokenmock"].store.close()
