"""A Redis outage is each vendor's 503, briefly, and the mock heals itself (issue 14, #7).

Stopped: every vendor answers its own error shape with 503 and Retry-After, one warning marks the
outage (not one traceback per request), and the first request after Redis returns is answered as usual.
Frozen (SIGSTOP): a 503 after one short socket timeout, not a hang. Back empty: the processes that knew
the signing keys and the shared documents publish them again, so a host started afterwards accepts the
tokens issued before and sees the same runtime clients and clock.

Each test runs a private redis-server on a fixed port of this suite's range (22000-22999), so it can be
stopped and started again at the same address.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from tests.redis_server import PrivateRedis, redis_binary
from tests.reliability.serving import served
from tests.security.flows import (
    RESOURCES,
    VENDORS,
    Answer,
    Credentials,
    call_resource,
    flask_http,
    login,
    refresh,
    tokens_of,
)
from tokenmock.mockserver import create_app
from tokenmock.mockserver.stores.redis import RedisStore

# Far beyond one socket timeout (0.5 s): past it the request is taken to hang, and the test says so.
HANG_BOUND = 20.0


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(redis_binary(), tmp_path)
    yield server
    server.stop()


@pytest.fixture
def make_redis_app(private_redis: PrivateRedis) -> Iterator[Callable[[], Flask]]:
    apps: list[Flask] = []

    def make() -> Flask:
        app = create_app({"validate_responses": True, "access_log": False, "store": private_redis.url("outage")})
        store = app.extensions["tokenmock"].store
        assert isinstance(store, RedisStore)
        breaker = getattr(store, "_breaker", None)
        if breaker is not None:
            breaker.probe_every = 0.0  # every request may probe: the tests never wait for the interval
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["tokenmock"].store.close()


# What each vendor's 503 looks like: its own error shape, the HTTP status inside where the shape has one.
SHAPES: dict[str, Callable[[Any], bool]] = {
    "junctiontv": lambda b: b["result"] == "error" and b["message"] == "SERVICE_UNAVAILABLE" and bool(b["reason"]),
    "clickview": lambda b: b["error"] == "temporarily_unavailable" and bool(b["error_description"]),
    "vision10": lambda b: b[0]["status"] == 503 and b[0]["errorCode"] == "240503" and bool(b[0]["invalid-params"]),
    "divetv": lambda b: b["error"] == "temporarily_unavailable" and bool(b["error_description"]),
    "aminotv": lambda b: b["errors"][0]["status"] == "503" and b["errors"][0]["code"] == "service_unavailable",
}


def _in_time(send: Callable[[], Answer]) -> Answer:
    """The answer, or a failure that says the request hung (instead of the test hanging with it)."""
    answers: list[Answer] = []
    worker = threading.Thread(target=lambda: answers.append(send()), daemon=True)
    worker.start()
    worker.join(HANG_BOUND)
    if not answers:
        pytest.fail(f"no answer within {HANG_BOUND:g} s: the request hangs on the store")
    return answers[0]


def _store_lines(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tokenmock.store" and words in r.getMessage()]


def test_a_stopped_redis_is_each_vendors_503_logged_once_and_healed_without_restart(
    private_redis: PrivateRedis, make_redis_app: Callable[[], Flask], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    app = make_redis_app()
    http = flask_http(app.test_client(use_cookies=False))
    issued = {vendor: tokens_of(vendor, login(vendor, http))[0] for vendor in VENDORS}
    private_redis.stop()
    for _ in range(4):
        for vendor in VENDORS:
            answer = _in_time(lambda v=vendor: login(v, http))  # type: ignore[misc]
            assert answer.status == 503, (vendor, answer.body[:200])
            assert answer.headers["Retry-After"] == "1"
            assert answer.headers["Content-Type"].startswith(("application/json", "application/vnd.api+json"))
            assert SHAPES[vendor](answer.json()), (vendor, answer.json())
    assert len(_store_lines(caplog, "unreachable")) == 1  # one line for the outage, not one per request
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []
    private_redis.start()  # back, and empty
    for vendor in VENDORS:
        assert login(vendor, http).status == 200
        assert call_resource(vendor, http, issued[vendor], RESOURCES[vendor][0]).status == 200
    assert len(_store_lines(caplog, "reachable again")) == 1
    assert app.extensions["tokenmock"].store._breaker.outages == 1


def test_a_frozen_redis_is_a_503_not_a_hang(
    private_redis: PrivateRedis, make_redis_app: Callable[[], Flask]
) -> None:
    http = flask_http(make_redis_app().test_client(use_cookies=False))
    assert login("clickview", http).status == 200
    private_redis.freeze()
    try:
        answers = [_in_time(lambda: login("clickview", http)) for _ in range(3)]
        assert [a.status for a in answers] == [503, 503, 503]
        assert {a.headers["Retry-After"] for a in answers} == {"1"}
    finally:
        private_redis.thaw()
    assert login("clickview", http).status == 200


def test_the_admin_api_answers_503_json_while_the_store_is_down(
    private_redis: PrivateRedis, make_redis_app: Callable[[], Flask]
) -> None:
    admin = make_redis_app().test_client(use_cookies=False)
    private_redis.stop()
    answer = admin.get("/__mock/requests")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert answer.get_json()["error"] == "temporarily_unavailable"


def test_redis_back_empty_gets_the_keys_and_state_again_so_new_hosts_agree(
    private_redis: PrivateRedis, make_redis_app: Callable[[], Flask]
) -> None:
    first, second = make_redis_app(), make_redis_app()
    first_http, second_http = (flask_http(a.test_client(use_cookies=False)) for a in (first, second))
    tokens = {vendor: tokens_of(vendor, login(vendor, first_http))[0] for vendor in VENDORS}
    mock = first.extensions["tokenmock"]
    ci_client = {"client_id": "ci", "client_secret": "ci-secret", "scopes": ["smartembed.viewkey"]}
    mock.store.add_client("clickview", ci_client)
    mock.clock.advance(600)  # within every vendor's token lifetime
    mock.faults.arm("status", vendor="junctiontv", operation="getAccessToken", times=5, status=503, retry_after=2)
    assert login("vision10", second_http).status == 200  # the second host has read the shared state

    private_redis.flush()  # as a restart without persistence would leave it
    assert login("vision10", second_http).status == 200  # the second host notices, and publishes again

    third = make_redis_app()  # started afterwards
    third_http = flask_http(third.test_client(use_cookies=False))
    for vendor in VENDORS:
        assert call_resource(vendor, third_http, tokens[vendor], RESOURCES[vendor][0]).status == 200, vendor
    assert login("clickview", third_http, Credentials(client_id="ci", client_secret="ci-secret")).status == 200
    shared = third.extensions["tokenmock"]
    assert shared.clock.now() - time.time() > 500
    assert login("junctiontv", third_http).status == 503  # the armed fault, still armed
    assert second.extensions["tokenmock"].store.republished == 1


def test_a_fresh_redis_is_not_mistaken_for_one_that_came_back_empty(make_redis_app: Callable[[], Flask]) -> None:
    apps = [make_redis_app() for _ in range(2)]
    for app in apps:
        assert login("clickview", flask_http(app.test_client())).status == 200
    assert [app.extensions["tokenmock"].store.republished for app in apps] == [0, 0]


@pytest.mark.parametrize(("settings", "timeout"), [({}, 0.5), ({"store_timeout": 0.25}, 0.25)])
def test_store_timeout_bounds_every_redis_operation_without_retries(
    private_redis: PrivateRedis, settings: dict[str, Any], timeout: float
) -> None:
    app = create_app({"store": private_redis.url("outage"), "access_log": False, **settings})
    store = app.extensions["tokenmock"].store
    try:
        kwargs = store.redis.connection_pool.connection_kwargs
        assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (timeout, timeout)
        assert kwargs["retry"].get_retries() == 0
        assert (store._breaker.probe_every, store._breaker.retry_after) == (0.5, 1)
    finally:
        store.close()


def test_rotating_refresh_tokens_issued_before_redis_came_back_empty_are_refused_and_login_works(
    private_redis: PrivateRedis, make_redis_app: Callable[[], Flask]
) -> None:
    """Refresh-token records are not re-published (no process knows them all): Dive's documented refusal."""
    http = flask_http(make_redis_app().test_client(use_cookies=False))
    _, token = tokens_of("divetv", login("divetv", http))
    assert token is not None
    private_redis.flush()
    refused = refresh("divetv", http, token)
    assert (refused.status, refused.json()["error"]) == (400, "invalid_grant")
    assert login("divetv", http).status == 200


def test_a_served_mock_with_two_workers_answers_503_without_tracebacks(
    private_redis: PrivateRedis, tmp_path: Path
) -> None:
    """The same through gunicorn: `tokenmock serve --workers 2` on Redis, which is stopped and started."""
    form = {
        "grant_type": "client_credentials",
        "client_id": "demo-client",
        "client_secret": "demo-secret",
        "scope": "smartembed.viewkey",
    }
    with served(["--workers", "2", "--store", private_redis.url("outage")], tmp_path / "serve.log") as server:
        url = f"{server.url}/clickview/connect/token"
        assert requests.post(url, data=form, timeout=10).status_code == 200
        private_redis.stop()
        answers = [requests.post(url, data=form, timeout=HANG_BOUND) for _ in range(100)]
        assert {a.status_code for a in answers} == {503}
        assert {a.headers.get("Retry-After") for a in answers} == {"1"}
        assert {a.json()["error"] for a in answers} == {"temporarily_unavailable"}
        private_redis.start()
        recovered = None
        for _ in range(200):  # each worker probes again at most every 0.5 s; bounded, never a fixed sleep
            recovered = requests.post(url, data=form, timeout=10)
            if recovered.status_code == 200:
                break
            time.sleep(0.05)
        assert recovered is not None and recovered.status_code == 200
        log = server.log_once(lambda text: "unreachable" in text)
    assert "Traceback" not in log
    assert 1 <= log.count("unreachable") <= 2  # one line per worker that met the outage, not per request


def test_a_host_that_made_new_keys_first_is_named_in_a_warning(
    private_redis: PrivateRedis, make_redis_app: Callable[[], Flask], caplog: pytest.LogCaptureFixture
) -> None:
    """The window this cannot close: a host started after Redis came back empty but before any running
    process noticed makes keys of its own. The running process keeps its keys and says so, once."""
    first = make_redis_app()
    first_http = flask_http(first.test_client(use_cookies=False))
    assert login("clickview", first_http).status == 200
    private_redis.flush()
    make_redis_app()  # starts first, makes new keys
    assert login("clickview", first_http).status == 200
    store = first.extensions["tokenmock"].store
    assert "clickview.signing_secret" in store.key_conflicts
    assert len(_store_lines(caplog, "another process made new keys")) == 1
