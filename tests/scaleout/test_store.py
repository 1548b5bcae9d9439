"""The Store interface, one behavioural suite run against every implementation.

Two store objects opened on one SQLite file or one Redis prefix stand for two worker processes (or
hosts): what one does, the other must see.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import pytest

from tests.redis_server import GENEROUS_STORE_TIMEOUT, PrivateRedis
from tokenmock.mockserver.controls.clock import Clock
from tokenmock.mockserver.controls.faults import FaultBook
from tokenmock.mockserver.stores import MemoryStore, RefreshUse, Store, StoreError, open_store, provide_keys

ALL_KINDS = ("memory", "sqlite", "redis")
EPOCH = 1_767_225_600.0


@pytest.fixture(params=ALL_KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Two processes' view of one store exists only for the shared kinds: the memory store is not run."""
    if "pair" in metafunc.fixturenames:
        metafunc.parametrize("kind", [k for k in ALL_KINDS if k != "memory"])


@pytest.fixture
def url(kind: str, store_url: Callable[[str], str]) -> str:
    return store_url(kind)


@pytest.fixture
def store(url: str, open_stores: Callable[[str], Store]) -> Store:
    return open_stores(url)


@pytest.fixture
def pair(kind: str, url: str, open_stores: Callable[[str], Store]) -> tuple[Store, Store]:
    """Two processes' view of one shared store."""
    return open_stores(url), open_stores(url)


# Refresh tokens: rotation, replay, revocation.


def test_a_refresh_token_rotates_once_and_a_replay_revokes_its_family(store: Store) -> None:
    store.remember_refresh("r1", "fam", EPOCH + 60)
    store.remember_refresh("r2", "fam", EPOCH + 60)
    assert store.use_refresh("r1") is RefreshUse.FRESH
    assert not store.is_revoked("fam")
    assert store.use_refresh("r1") is RefreshUse.REUSED
    assert store.is_revoked("fam")
    assert store.use_refresh("r2") is RefreshUse.REVOKED
    assert store.use_refresh("r2") is RefreshUse.REVOKED  # refused, not consumed


def test_unknown_and_forgotten_refresh_tokens(store: Store) -> None:
    assert store.use_refresh("never") is RefreshUse.UNKNOWN
    store.remember_refresh("r1", "fam", EPOCH + 60)
    store.revoke("other")
    store.reset()
    assert store.use_refresh("r1") is RefreshUse.UNKNOWN
    assert not store.is_revoked("other")


def test_revocation_by_token_or_family_id(store: Store) -> None:
    store.revoke("jti-1")
    assert store.is_revoked("jti-1")
    assert store.is_revoked("", "nope", "jti-1")
    assert not store.is_revoked("", "nope")
    assert not store.is_revoked()
    store.remember_refresh("r1", "fam", EPOCH + 60)
    store.revoke("r1")
    assert store.use_refresh("r1") is RefreshUse.REVOKED


def test_refresh_records_are_bounded(kind: str, url: str) -> None:
    store: Store = (
        MemoryStore(max_refresh=20) if kind == "memory" else open_store(url, timeout=GENEROUS_STORE_TIMEOUT)
    )
    store._max_refresh = 20  # type: ignore[attr-defined]
    store._prune_every = 1  # type: ignore[attr-defined]  # SQLite looks every 1024 inserts by default
    for n in range(40):
        store.remember_refresh(f"r{n}", "fam", EPOCH + n)
    assert store.use_refresh("r0") is RefreshUse.UNKNOWN  # the soonest to expire went first
    assert store.use_refresh("r39") is RefreshUse.FRESH
    store.close()


# Runtime clients and documents.


def test_runtime_clients_are_per_vendor_and_reset(store: Store) -> None:
    store.add_client("divetv", {"client_key": "k1"})
    store.add_client("divetv", {"client_key": "k2"})
    store.add_client("clickview", {"client_id": "c"})
    assert [c["client_key"] for c in store.clients("divetv")] == ["k1", "k2"]
    assert store.clients("vision10") == []
    store.reset()
    assert store.clients("divetv") == []


def test_document_updates_return_their_result(store: Store) -> None:
    assert store.read("counter") is None
    assert store.update("counter", lambda n: ((n or 0) + 1, "first")) == "first"
    assert store.update("counter", lambda n: (n + 1, n)) == 1
    store.sync()
    assert store.read("counter") == 2


def test_another_process_sees_documents_after_sync(pair: tuple[Store, Store]) -> None:
    one, two = pair
    one.add_client("vision10", {"client_id": "ci"})
    two.sync()
    assert two.clients("vision10") == [{"client_id": "ci"}]
    two.update("counter", lambda n: (7, None))
    one.sync()
    assert one.read("counter") == 7


def test_a_reply_slower_than_production_timeout_is_no_outage_here(
    redis_server: PrivateRedis, open_stores: Callable[[str], Store]
) -> None:
    """The stores these tests open wait as long as a busy machine may take (GENEROUS_STORE_TIMEOUT):
    Redis frozen for twice production's 0.5 s answers late, not with StoreUnavailable."""
    store = open_stores(redis_server.url())
    store.update("counter", lambda n: (1, None))
    redis_server.freeze()
    thaw = threading.Timer(2 * 0.5, redis_server.thaw)  # a slow reply, not a wait for expiry
    thaw.start()
    try:
        assert store.update("counter", lambda n: (n + 1, n)) == 1
    finally:
        thaw.join()
        redis_server.thaw()
    assert store.read("counter") == 2


def test_updates_from_two_processes_are_never_lost(pair: tuple[Store, Store]) -> None:
    one, two = pair
    for _ in range(25):
        one.update("counter", lambda n: ((n or 0) + 1, None))
        two.update("counter", lambda n: ((n or 0) + 1, None))
    one.sync()
    assert one.read("counter") == 50


def test_another_process_sees_token_state_at_once(pair: tuple[Store, Store]) -> None:
    one, two = pair
    one.remember_refresh("r1", "fam", EPOCH + 60)
    assert two.use_refresh("r1") is RefreshUse.FRESH
    assert one.use_refresh("r1") is RefreshUse.REUSED
    assert two.is_revoked("fam")


# Signing keys.


def test_the_first_key_made_is_the_one_everybody_gets(pair: tuple[Store, Store]) -> None:
    one, two = pair
    assert one.shared_key("divetv.secret", lambda: "made-by-one") == "made-by-one"
    assert two.shared_key("divetv.secret", lambda: "made-by-two") == "made-by-one"


def test_keys_survive_a_reset(store: Store) -> None:
    first = store.shared_key("clickview.signing_secret", lambda: "k")
    store.reset()
    assert store.shared_key("clickview.signing_secret", lambda: "other") == first


def test_configured_keys_win_and_missing_ones_come_from_the_store(store: Store) -> None:
    defaults = {"secret": None, "private_key_pem": None, "token_lifetime": 60}
    settings = {"secret": "from-config", "private_key_pem": None, "token_lifetime": 60}
    store.shared_key("v.private_key_pem", lambda: "-----BEGIN PRIVATE KEY-----stored")
    provide_keys(store, "v", defaults, settings)
    assert settings["secret"] == "from-config"
    assert settings["private_key_pem"] == "-----BEGIN PRIVATE KEY-----stored"
    assert settings["token_lifetime"] == 60


# Journal.


def test_journal_is_ordered_filtered_bounded_and_cleared(store: Store) -> None:
    journal = store.journal  # journal_size=5 (open_stores)
    for n in range(8):
        journal.record({"vendor": "v", "operation": "a" if n % 2 else "b", "n": n})
    entries = journal.entries()
    assert [e["n"] for e in entries] == [3, 4, 5, 6, 7]
    assert len({e["id"] for e in entries}) == 5 and [e["id"] for e in entries] == sorted(e["id"] for e in entries)
    assert [e["n"] for e in journal.entries(operation="a")] == [3, 5, 7]
    assert journal.entries(vendor="w") == []
    assert len(journal) == 5
    journal.clear()
    assert journal.entries() == [] and len(journal) == 0


def test_one_journal_for_two_processes(pair: tuple[Store, Store]) -> None:
    one, two = pair
    one.journal.record({"vendor": "v", "operation": "a", "n": 1})
    two.journal.record({"vendor": "v", "operation": "a", "n": 2})
    assert [e["n"] for e in one.journal.entries()] == [1, 2]
    first, second = (e["id"] for e in two.journal.entries())
    assert first < second


# The clock, kept in the store.


def test_a_moved_clock_is_imposed_on_the_store_and_shared(pair: tuple[Store, Store]) -> None:
    one, two = pair
    mine, theirs = Clock(), Clock()
    mine.freeze(EPOCH)
    mine.bind(one)
    theirs.bind(two)  # a clock at real time adopts the store's
    two.sync()
    assert theirs.now() == EPOCH and theirs.frozen
    theirs.advance(3600)
    one.sync()
    assert mine.now() == EPOCH + 3600
    mine.unfreeze()
    two.sync()
    assert not theirs.frozen
    mine.reset()
    two.sync()
    assert theirs.state()["offset"] == 0.0


def test_a_clock_bound_to_a_second_store_keeps_its_time(
    kind: str, store_url: Callable[[str], str], open_stores: Callable[[str], Store]
) -> None:
    clock = Clock()
    clock.freeze(EPOCH)
    clock.bind(open_stores(store_url(kind)))
    clock.advance(60)
    clock.bind(open_stores(store_url(kind)))  # a second app built with the same clock
    assert clock.now() == EPOCH + 60


def test_clock_operations_on_each_store(store: Store) -> None:
    clock = Clock(source=lambda: 1000.0)
    clock.bind(store)
    assert clock.now() == 1000.0
    assert clock.advance(10) == 1010.0
    assert clock.set(5000) == 5000.0
    assert clock.freeze() == 5000.0
    assert clock.advance(5) == 5005.0
    assert clock.state() == {"now": 5005.0, "offset": 4000.0, "frozen": True}
    assert clock.unfreeze() == 5005.0
    clock.reset()
    assert clock.now() == 1000.0


# Faults, counted in the store.


def test_next_n_faults_are_counted_once_across_processes(pair: tuple[Store, Store]) -> None:
    one, two = pair
    FaultBook(one).arm("status", vendor="clickview", operation="requestToken", times=3, status=503)
    books = [FaultBook(one), FaultBook(two)]
    fired = []
    for n in range(10):
        book = books[n % 2]
        (one, two)[n % 2].sync()
        fault = book.draw("clickview", "requestToken")
        fired.append(fault is not None)
    assert fired.count(True) == 3 and fired[:3] == [True, True, True]
    assert books[1].list() == []


def test_a_fault_for_another_operation_costs_no_draw(store: Store) -> None:
    book = FaultBook(store)
    book.arm("status", vendor="clickview", operation="getExample", times=1, status=500)
    assert book.draw("clickview", "requestToken") is None
    assert book.draw("divetv", "getExample") is None
    fault = book.draw("clickview", "getExample")
    assert fault is not None and fault.applied == 1 and fault.remaining == 0
    assert book.draw("clickview", "getExample") is None


def test_seeded_probability_faults_replay_alike_on_every_store(store: Store) -> None:
    book = FaultBook(store)
    armed = book.arm("status", probability=0.5, seed=42, status=500)
    pattern = [book.draw("vision10", "getAccessToken") is not None for _ in range(20)]
    assert True in pattern and False in pattern
    assert book.remove(armed.id) and not book.remove(armed.id)
    book.arm("status", probability=0.5, seed=42, status=500)
    assert [book.draw("vision10", "getAccessToken") is not None for _ in range(20)] == pattern
    assert book.list()[0]["applied"] == pattern.count(True)
    book.clear()
    assert book.list() == []


def test_unknown_or_unreachable_stores_are_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        nobody = sock.getsockname()[1]  # bound, not listening: connections are refused
        for url in ("postgres://x", "sqlite://", f"redis://127.0.0.1:{nobody}/0"):
            with pytest.raises(StoreError):
                open_store(url)
