"""Store outages without a Redis: the breaker's fail-fast and probing (on a fake clock), every vendor's
503, and the `store_timeout` setting (issue 14, #7). The Redis side: tests/scaleout/test_store_outage.py."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import redis

from tests.scaleout.test_store_outage import SHAPES
from tokenmock.mockserver import create_app
from tokenmock.mockserver.config import ConfigError, load_settings
from tokenmock.mockserver.errors import StoreUnavailable
from tokenmock.mockserver.stores.outage import Breaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _attempt(breaker: Breaker, body: Callable[[], None]) -> str:
    ran: list[bool] = []
    try:
        with breaker.guard():
            ran.append(True)
            body()
    except StoreUnavailable as refused:
        assert refused.status == 503 and refused.retry_after == 1
        return "ran, 503" if ran else "503 at once"
    return "ran"


def _fail() -> None:
    raise redis.ConnectionError("refused")


def test_the_breaker_fails_fast_during_an_outage_and_probes_once_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    breaker = Breaker("redis://test", (redis.ConnectionError,), probe_every=0.5, clock=clock)
    assert _attempt(breaker, lambda: None) == "ran"
    assert _attempt(breaker, _fail) == "ran, 503"  # the first failure costs one try
    assert [_attempt(breaker, _fail) for _ in range(100)] == ["503 at once"] * 100  # the rest none
    clock.now = 0.5
    assert _attempt(breaker, _fail) == "ran, 503"  # one probe per interval
    assert _attempt(breaker, lambda: None) == "503 at once"
    clock.now = 1.0
    assert _attempt(breaker, lambda: None) == "ran"  # the probe that succeeds ends the outage
    assert not breaker.down and breaker.outages == 1
    assert _attempt(breaker, lambda: None) == "ran"
    store_lines = [r.getMessage() for r in caplog.records if r.name == "tokenmock.store"]
    assert len(store_lines) == 2 and "unreachable" in store_lines[0] and "reachable again" in store_lines[1]


def test_while_one_probe_runs_the_others_are_refused_at_once() -> None:
    clock = FakeClock()
    breaker = Breaker("redis://test", (redis.ConnectionError,), probe_every=0.5, clock=clock)
    _attempt(breaker, _fail)
    clock.now = 1.0
    inner: list[str] = []
    assert _attempt(breaker, lambda: inner.append(_attempt(breaker, lambda: None))) == "ran"
    assert inner == ["503 at once"]


@pytest.mark.parametrize("value", [0, -1, "fast", 61])
def test_an_impossible_store_timeout_stops_the_start(value: object) -> None:
    with pytest.raises(ConfigError, match="store_timeout"):
        load_settings({"store_timeout": value}, environ={})


def test_store_timeout_from_the_environment_is_a_number() -> None:
    assert load_settings(environ={"TOKENMOCK__STORE_TIMEOUT": "0.2"})["store_timeout"] == 0.2


def test_every_vendor_renders_a_store_outage_as_its_own_503_with_retry_after() -> None:
    """Also for a vendor added later: StoreUnavailable is part of the one hierarchy every vendor renders."""
    mock = create_app({"access_log": False}).extensions["tokenmock"]
    assert set(mock.vendors) == set(SHAPES)
    for name, vendor in mock.vendors.items():
        reply = vendor.render_error(StoreUnavailable("down", retry_after=3), None, "/")
        assert (reply.status, reply.headers.get("Retry-After")) == (503, "3"), name
        assert SHAPES[name](json.loads(json.dumps(reply.body))), (name, reply.body)
