"""Issue 22, item 1: revocations are bounded on every store. Anyone can add one without the admin API (log
in, refresh, replay the old refresh token: its family is revoked), and they were never pruned. Now a store
keeps at most MAX_REVOKED, forgetting those that expire first; the newest revocations still hold."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask

from tests.redis_server import PrivateRedis, redis_binary
from tests.security.flows import flask_http, login, refresh, tokens_of
from tokenmock.mockserver.stores import MemoryStore, Store
from tokenmock.mockserver.stores.base import MAX_REVOKED
from tokenmock.mockserver.stores.redis import RedisStore
from tokenmock.mockserver.stores.sqlite import SQLiteStore

STORES = ("memory", "sqlite", "redis")
CAP = 40
REPLAYS = 100
# Cases: the replays on each store.
CASE_COUNT = REPLAYS * len(STORES)


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    server = PrivateRedis(redis_binary(), tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(params=STORES)
def capped(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Callable[[], int]]]:
    if request.param == "memory":
        memory = MemoryStore(max_revoked=CAP)
        yield memory, lambda: len(memory._revoked)
    elif request.param == "sqlite":
        sqlite = SQLiteStore(tmp_path / "state.db", max_revoked=CAP)
        sqlite._prune_revoked_every = 1
        yield sqlite, lambda: int(sqlite._db().execute("SELECT count(*) FROM revoked").fetchone()[0])
        sqlite.close()
    else:
        server: PrivateRedis = request.getfixturevalue("private_redis")
        store = RedisStore(server.url(), max_revoked=CAP)
        client = redis.Redis(host="127.0.0.1", port=server.port)
        yield store, lambda: int(client.scard(store._key["revoked"]))
        client.close()
        store.close()


def test_replayed_refresh_tokens_leave_a_bounded_number_of_revocations(
    make_app: Callable[..., Flask], capped: tuple[Store, Callable[[], int]]
) -> None:
    store, rows = capped
    http = flask_http(make_app(store=store).test_client())
    most = 0
    last_new = ""
    for _ in range(REPLAYS):
        _, first = tokens_of("divetv", login("divetv", http))
        assert first is not None
        _, last_new_or_none = tokens_of("divetv", refresh("divetv", http, first))
        last_new = last_new_or_none or ""
        assert refresh("divetv", http, first).status in (400, 401)  # the replay: its family is revoked
        most = max(most, rows())
    print(f"{type(store).__name__}: {REPLAYS} families revoked, at most {most} revocations kept (cap {CAP})")
    assert most <= CAP + 1, most
    assert refresh("divetv", http, last_new).status in (400, 401)  # the newest revocation still holds


def test_the_default_cap() -> None:
    assert MAX_REVOKED == 100_000
