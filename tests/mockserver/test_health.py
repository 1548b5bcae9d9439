"""GET /__mock/health: 200 with the store's state, 503 in JSON while the store cannot be reached."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.redis_server import PrivateRedis, redis_binary
from tokenmock.contracts.loader import inline_refs, read_yaml
from tokenmock.contracts.validation import compile_schema, first_error
from tokenmock.mockserver.stores import MemoryStore


def health_schema(status: str) -> dict[str, Any]:
    admin = inline_refs(read_yaml("admin.yaml"))
    response = admin["paths"]["/health"]["get"]["responses"][status]
    return dict(response["content"]["application/json"]["schema"])


class FailingStore(MemoryStore):
    """A store whose backend stops answering on demand (as Redis does when it is stopped)."""

    down = False

    def shared_key(self, name: str, make: Callable[[], str]) -> str:
        if self.down:
            raise ConnectionError("Error 111 connecting to redis.internal:6379. Connection refused.")
        return super().shared_key(name, make)


def test_health_answers_with_the_store_state(make_app: Callable[..., Flask]) -> None:
    answer = make_app().test_client().get("/__mock/health")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "ok" and body["store"]["kind"] == "memory" and body["store"]["reachable"] is True
    assert first_error(compile_schema(health_schema("200")), body) is None


def test_health_names_a_shared_store_without_its_address(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    body = make_app(store=f"sqlite://{tmp_path}/state.db").test_client().get("/__mock/health").get_json()
    assert body["store"] == {**body["store"], "kind": "sqlite", "reachable": True}
    assert str(tmp_path) not in str(body)


def test_health_is_503_in_json_while_the_store_is_unreachable(make_app: Callable[..., Flask]) -> None:
    store = FailingStore()
    http = make_app(store=store).test_client()
    store.down = True
    answer = http.get("/__mock/health")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
    assert answer.mimetype == "application/json"
    body = answer.get_json()
    assert body["status"] == "unavailable"
    assert body["store"] == {"kind": "failing", "reachable": False, "error": "ConnectionError"}
    assert "redis.internal" not in answer.get_data(as_text=True)  # the backend's address stays in the mock
    assert first_error(compile_schema(health_schema("503")), body) is None
    store.down = False  # back without a restart
    assert http.get("/__mock/health").status_code == 200


@pytest.mark.parametrize("settings", [{"admin_token": "s3cret"}, {"exposed": True}])
def test_probes_need_no_admin_token(make_app: Callable[..., Flask], settings: dict[str, Any]) -> None:
    """A kubelet or load balancer probes from another address, with no token; nothing secret is shown."""
    http = make_app(**settings).test_client()
    probe = http.get("/__mock/health", environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert probe.status_code == 200
    assert http.get("/__mock/clock", environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code in (401, 403)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(redis_binary(), tmp_path)
    yield server
    server.stop()


def test_health_follows_a_redis_outage(make_app: Callable[..., Flask], redis_server: PrivateRedis) -> None:
    http = make_app(store=redis_server.url("health")).test_client()
    store = http.application.extensions["tokenmock"].store
    store._breaker.probe_every = 0.0  # every request may probe the store: no waiting for the interval
    ready = http.get("/__mock/health")
    assert ready.status_code == 200 and ready.get_json()["store"]["kind"] == "redis"
    redis_server.stop()
    down = http.get("/__mock/health")
    assert down.status_code == 503 and down.headers["Retry-After"].isdigit()
    assert down.get_json()["store"] == {"kind": "redis", "reachable": False, "error": "StoreUnavailable"}
    assert str(redis_server.port) not in down.get_data(as_text=True)
    redis_server.start()
    assert http.get("/__mock/health").status_code == 200  # back without a restart
