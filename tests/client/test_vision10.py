"""Vision10Client against the Vision10 mock, over HTTP: the token, the documented refusals, the resource."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
import requests
from flask import Flask

from tests.conftest import EPOCH, LiveServer
from tokenmock import contracts
from tokenmock.client import (
    AuthenticationError,
    ContractViolation,
    RequestRejected,
    RetryPolicy,
    TokenClient,
    TokenError,
    TransportError,
)
from tokenmock.client.transport import Reply
from tokenmock.client.vision10 import Vision10Client
from tokenmock.mockserver.controls.clock import Clock

RESOURCE_PATH = "/v1/api/resource"


@pytest.fixture
def mock_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(vendor="vision10")


@pytest.fixture
def live(mock_app: Flask, serve: Callable[[Flask], LiveServer]) -> LiveServer:
    return serve(mock_app)


def make_client(
    url: str, client_id: str = "demo-client", secret: str = "demo-secret", **options: Any
) -> Vision10Client:
    options.setdefault("sleep", lambda _s: None)
    options.setdefault("clock", lambda: EPOCH)
    return Vision10Client(client_id, secret, base_url=url, **options)


def test_constructor_signature_and_required_base_url() -> None:
    client = Vision10Client("id", "secret", base_url="http://127.0.0.1:1/")
    assert isinstance(client, TokenClient)
    assert client.scope == "all" and client.base_url == "http://127.0.0.1:1"
    assert Vision10Client("id", "secret", scope="edit", base_url="http://x").scope == "edit"
    with pytest.raises(ValueError, match="base_url"):
        Vision10Client("id", "secret")


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [("demo-client", "demo-secret"), ("vision-api-user", "abcdefghizklmnopponommnshfghzxxs")],
)
def test_token_from_the_mock(live: LiveServer, client_id: str, secret: str) -> None:
    token = make_client(live.url, client_id, secret).token()
    assert token.token_type == "Bearer"
    assert token.expires_at == EPOCH + 7199
    assert token.refresh_token is None and token.scope is None  # the response carries neither
    assert token.raw == {"access_token": token.access_token, "token_type": "Bearer", "expires_in": 7199}
    answer = requests.get(
        live.url + RESOURCE_PATH, headers={"Authorization": f"Bearer {token.access_token}"}, timeout=5
    )
    assert answer.json()["client_id"] == client_id


def test_the_request_is_the_documented_json_body(mock_app: Flask, live: LiveServer) -> None:
    make_client(live.url).token()
    entry = mock_app.extensions["tokenmock"].journal.entries(operation="getAccessToken")[-1]
    assert entry["headers"]["Content-Type"] == "application/json"
    assert entry["body"] == {
        "grant_type": "client_credentials",
        "scope": "all",
        "client_id": "demo-client",
        "client_secret": "***",
    }
    assert entry["query"] == {}  # nothing in the URL (V10-01)


@pytest.mark.parametrize(
    ("client_id", "secret", "scope", "kind", "status", "code"),
    [
        ("demo-client", "wrong", "all", AuthenticationError, 401, "240101"),
        ("nobody", "demo-secret", "all", AuthenticationError, 401, "240101"),
        ("demo-client", "demo-secret", "edit", AuthenticationError, 401, "240101"),
        ("c" * 51, "demo-secret", "all", RequestRejected, 400, "240003"),
        ("demo-client", "s" * 101, "all", RequestRejected, 400, "240003"),
    ],
)
def test_refusals_from_the_mock_are_typed(
    live: LiveServer, client_id: str, secret: str, scope: str, kind: type[TokenError], status: int, code: str
) -> None:
    with pytest.raises(TokenError) as caught:
        make_client(live.url, client_id, secret, scope=scope).token()
    error = caught.value
    assert type(error) is kind
    assert (error.vendor, error.status, error.code) == ("vision10", status, code)
    assert isinstance(error.payload, list) and error.payload[0]["errorCode"] == code
    assert secret not in str(error) and secret not in repr(error)


def test_strict_readings_are_surfaced_as_rejections(make_app: Callable[..., Flask], serve: Callable[..., Any]) -> None:
    live = serve(make_app(vendor="vision10", readings={"V10-13": "lenient"}))
    assert make_client(live.url, scope="edit").token().access_token  # lenient scope: a token


def documented_errors() -> list[tuple[str, int, Any]]:
    op = contracts.operation("vision10", "getAccessToken")
    return [(name, status, value) for name, status, _media, value in op.examples() if status >= 400]


@pytest.mark.parametrize(
    ("name", "status", "payload"), documented_errors(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_documented_error_payload_is_parsed(name: str, status: int, payload: Any) -> None:
    import json

    from requests.structures import CaseInsensitiveDict

    client = make_client("http://127.0.0.1:1")
    reply = Reply(status, CaseInsensitiveDict({"Content-Type": "application/json"}), json.dumps(payload).encode(), "")
    with pytest.raises(TokenError) as caught:
        client.parse("getAccessToken", reply)
    error = caught.value
    assert type(error) is (AuthenticationError if status == 401 else RequestRejected)
    assert error.status == status
    assert error.code == payload[0]["errorCode"]
    assert error.message == "; ".join(payload[0]["invalid-params"])


def test_documented_examples_cover_every_client_outcome() -> None:
    statuses = {status for _name, status, _payload in documented_errors()}
    assert statuses == {400, 401, 413, 415}


def test_auth_against_the_mock_resource(mock_app: Flask, live: LiveServer, clock: Clock) -> None:
    client = make_client(live.url)
    with requests.Session() as session:
        session.auth = client.auth()
        assert session.get(live.url + RESOURCE_PATH, timeout=5).json()["client_id"] == "demo-client"
        clock.advance(7199)  # the mock expires the token; the client's clock still says it is fresh
        answer = session.get(live.url + RESOURCE_PATH, timeout=5)
        assert answer.status_code == 200 and answer.json()["exp"] == int(EPOCH) + 7199 + 7199
    kinds = [(e["operation"], e["status"]) for e in mock_app.extensions["tokenmock"].journal.entries()]
    assert kinds == [
        ("getAccessToken", 200),
        ("getProtectedResource", 200),
        ("getProtectedResource", 401),
        ("getAccessToken", 200),
        ("getProtectedResource", 200),
    ]


def test_a_mock_fault_surfaces_as_a_transport_error(make_app: Callable[..., Flask], serve: Callable[..., Any]) -> None:
    app = make_app(vendor="vision10")
    live = serve(app)
    http = app.test_client()
    assert (
        http.post("/__mock/faults", json={"kind": "status", "probability": 1, "params": {"status": 503}}).status_code
        < 300
    )
    sleeps: list[float] = []
    policy = RetryPolicy(attempts=4, rng=random.Random(5))
    with pytest.raises(TransportError) as caught:
        make_client(live.url, sleep=sleeps.append, retry=policy).token()
    assert caught.value.status == 503 and len(sleeps) == 3
    assert len(app.extensions["tokenmock"].journal.entries(operation="getAccessToken")) == 4


def test_a_non_vision10_shape_is_a_contract_violation() -> None:
    import json

    from requests.structures import CaseInsensitiveDict

    client = make_client("http://127.0.0.1:1")
    rfc6749 = {"error": "invalid_client", "error_description": "bad"}
    reply = Reply(401, CaseInsensitiveDict({"Content-Type": "application/json"}), json.dumps(rfc6749).encode(), "")
    with pytest.raises(ContractViolation) as caught:
        client.parse("getAccessToken", reply)
    assert caught.value.status == 401 and caught.value.payload == rfc6749


def test_identity_and_repr_hide_the_secret(live: LiveServer) -> None:
    client = make_client(live.url, secret="demo-secret")
    assert client.identity == "demo-client|all"
    assert "demo-secret" not in client.store_key
    assert "demo-secret" not in repr(client) and "demo-secret" not in repr(client.auth())
