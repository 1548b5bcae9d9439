"""Fixtures for the shared stores: a real redis-server on a free loopback port, a fresh store per app,
and `make_app` overridden so suites imported here run against SQLite and Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.redis_server import GENEROUS_STORE_TIMEOUT, PrivateRedis, redis_binary
from tokenmock.mockserver import create_app
from tokenmock.mockserver.controls.clock import Clock
from tokenmock.mockserver.stores import Store, open_store

SHARED_KINDS = ("sqlite", "redis")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    """redis-server from the Debian package; CI installs it (.ci/run), so there it must be present."""
    server = PrivateRedis(redis_binary(), tmp_path_factory.mktemp("redis"))
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
    """Open stores by URL (two on one URL are two processes sharing state); closed after the test.

    With a generous timeout: these tests are about sharing state, not outages (test_store_outage.py)."""
    opened: list[Store] = []

    def open_(url: str) -> Store:
        store = open_store(url, journal_size=5, timeout=GENEROUS_STORE_TIMEOUT)
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
                "store_timeout": GENEROUS_STORE_TIMEOUT,  # not an outage test: a slow reply is no outage
                **settings,
            }
        )
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["tokenmock"].store.close()
