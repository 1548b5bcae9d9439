"""Issue 22, item 1: the journal is bounded in bytes, per record and in total, on every store.

A client within gunicorn's header limits (95 headers of 8 KB) used to add 760 KB to the journal per
request. Now a record holds at most ENTRY_BYTES (what the client sent shortened, with a marker), and a
journal at most TOTAL_BYTES (the oldest records dropped first).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.redis_server import PrivateRedis, redis_binary
from tokenmock.mockserver.controls import journal_size
from tokenmock.mockserver.controls.journal_size import ENTRY_BYTES, TOTAL_BYTES, TRUNCATED
from tokenmock.mockserver.controls.masking import TOO_DEEP

STORES = ("memory", "sqlite", "redis")
HEADERS = 95  # as in the finding: within gunicorn's 100 fields of 8190 bytes
BIG = "v" * 8000
# Cases: a big request per store, the total per store, small records per store, a deep body.
CASE_COUNT = 3 * len(STORES) + 1


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    server = PrivateRedis(redis_binary(), tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/state.db"
    server: PrivateRedis = request.getfixturevalue("private_redis")
    return server.url()


def _hostile(app: Flask, marker: str) -> int:
    headers = {f"X-Filler-{n}": BIG for n in range(HEADERS)}
    answer = app.test_client().post(
        f"/clickview/connect/token?{marker}=1&q={BIG}", headers=headers, data={"grant_type": BIG, "pad": BIG * 4}
    )
    return answer.status_code


def _journal(app: Flask) -> list[dict[str, object]]:
    answer = app.test_client().get("/__mock/requests")
    assert answer.status_code == 200
    return list(answer.get_json()["requests"])


def test_a_big_request_is_journaled_within_the_entry_budget(make_app: Callable[..., Flask], store: str) -> None:
    app = make_app(store=store)
    assert _hostile(app, "first") < 500
    (entry,) = _journal(app)
    size = len(journal_size.dumps({k: v for k, v in entry.items() if k != "id"}))
    assert size <= ENTRY_BYTES, size
    assert entry["truncated"] is True and entry["status"] and entry["operation"] == "requestToken"
    assert TRUNCATED in json.dumps(entry)  # a reader sees that something was left out
    assert entry["path"] == "/clickview/connect/token"


def test_the_journal_keeps_the_newest_records_within_the_total(
    make_app: Callable[..., Flask], store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A total of 16 records' worth (the default's 1,024 would take a thousand 760 KB requests per store).
    budget = 16 * ENTRY_BYTES
    monkeypatch.setattr(journal_size, "TOTAL_BYTES", budget)
    app = make_app(store=store, journal_size=100_000)
    sent = 100  # more big records than the total holds, and past the SQLite store's trim (every 64)
    for n in range(sent):
        _hostile(app, f"m{n}")
    journal = _journal(app)
    total = sum(len(journal_size.dumps({k: v for k, v in e.items() if k != "id"})) for e in journal)
    print(f"{store}: {len(journal)} of {sent} big records kept, {total} bytes")
    assert total <= budget, total
    assert 0 < len(journal) < sent
    kept = [next(iter(e["query"])) for e in journal]  # type: ignore[call-overload]
    assert kept[-1] == f"m{sent - 1}", kept[-3:]  # the newest kept, the oldest dropped first
    assert kept == [f"m{n}" for n in range(sent - len(journal), sent)]


def test_the_default_total_holds_a_full_default_journal_of_full_records() -> None:
    from tokenmock.mockserver.config import DEFAULTS

    assert DEFAULTS["journal_size"] * ENTRY_BYTES <= TOTAL_BYTES


def test_small_records_are_kept_whole(make_app: Callable[..., Flask], store: str) -> None:
    app = make_app(store=store)
    app.test_client().post("/clickview/connect/token", data={"grant_type": "client_credentials"})
    (entry,) = _journal(app)
    assert "truncated" not in entry and entry["body"] == {"grant_type": "client_credentials"}


def test_a_deeply_nested_body_is_journaled_cut_not_a_crash(make_app: Callable[..., Flask]) -> None:
    """A JSON body nested 400 levels parses; journaling it (a fault answered first, so no validator refused
    it) used to exhaust the stack."""
    app = make_app()
    http = app.test_client()
    http.post("/__mock/faults", json={"kind": "status", "vendor": "vision10", "params": {"status": 503}})
    deep = "[" * 400 + "]" * 400
    answer = http.post("/vision10/v1/api/oauth/token", data=deep, headers={"Content-Type": "application/json"})
    assert answer.status_code == 503
    (entry,) = _journal(app)
    assert TOO_DEEP in json.dumps(entry) or TRUNCATED in json.dumps(entry)
