"""Issue 22, item 3: SQLite faults look like a Redis outage. A database that is full, read-only or locked
by another program answers the vendor's 503 with Retry-After (a Dive login, which writes a refresh
token), the admin API's 503, health 503, and the log says so once, without a traceback (it answered 500
with tracebacks while health said ok)."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.security.flows import flask_http, login
from tokenmock.mockserver.stores.sqlite import SQLiteStore

FAULTS = ("full", "read-only", "locked")
ATTEMPTS = 5  # failing requests per fault: still one log line
# Cases: per fault, the logins, an admin write, health.
CASE_COUNT = len(FAULTS) * (ATTEMPTS + 2)


def _fill(db: sqlite3.Connection) -> None:
    """Make the database full for this connection (SQLite's own "database or disk is full")."""
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    db.execute(f"PRAGMA max_page_count = {pages}")
    failures = 0
    for _ in range(200_000):  # bounded; full long before
        try:
            db.execute(
                "INSERT INTO refresh (token_id, family, expires_at) VALUES (?, 'f', 4e9)", (os.urandom(12).hex(),)
            )
            failures = 0
        except sqlite3.OperationalError as exc:
            assert "full" in str(exc)
            failures += 1
            if failures == 50:
                return
    raise AssertionError("the database never filled")


@pytest.fixture
def faulty(
    request: pytest.FixtureRequest, make_app: Callable[..., Flask], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    monkeypatch.setattr(SQLiteStore, "BUSY_TIMEOUT", 0.1)
    path = tmp_path / "state.db"
    app = make_app(store=f"sqlite://{path}")
    store = app.extensions["tokenmock"].store
    if hasattr(store, "_breaker"):
        store._breaker.probe_every = 3600  # no probe during the test: every operation sees the outage
    db = store._db()  # this thread's connection: Flask's test client runs requests on this thread
    holder = None
    if request.param == "full":
        _fill(db)
    elif request.param == "read-only":
        db.execute("PRAGMA query_only = ON")  # SQLite's "attempt to write a readonly database"
    else:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
    yield app
    if holder is not None:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.mark.parametrize("faulty", FAULTS, indirect=True)
def test_a_sqlite_fault_is_a_503_with_retry_after_logged_once(faulty: Flask, caplog: pytest.LogCaptureFixture) -> None:
    http = faulty.test_client()
    with caplog.at_level(logging.WARNING):
        for _ in range(ATTEMPTS):
            answer = login("divetv", flask_http(http))
            assert answer.status == 503, answer.body
            assert int(answer.headers["Retry-After"]) >= 1
            assert b"Traceback" not in answer.body
        client = {"client_id": "c", "client_secret": "s"}
        admin = http.post("/__mock/clients", json={"vendor": "clickview", "client": client})
        assert admin.status_code == 503 and admin.headers["Retry-After"]
        assert admin.get_json()["error"] == "temporarily_unavailable"
        health = http.get("/__mock/health")
        assert health.status_code == 503 and health.get_json()["store"]["reachable"] is False
    store_lines = [r for r in caplog.records if r.name == "tokenmock.store"]
    assert len(store_lines) == 1, [r.getMessage() for r in store_lines]
    assert "cannot be written" in store_lines[0].getMessage()
    assert all(r.exc_info is None for r in caplog.records), [r.getMessage() for r in caplog.records if r.exc_info]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_reads_still_work_while_writes_fail(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    app = make_app(store=f"sqlite://{tmp_path}/state.db")
    http = app.test_client()
    assert login("clickview", flask_http(http)).status == 200  # issues a token: no write
    app.extensions["tokenmock"].store._db().execute("PRAGMA query_only = ON")
    assert login("clickview", flask_http(http)).status == 200
    assert http.get("/__mock/health").status_code == 503
