"""Mock controls: faults seen from a raw socket and from the reference client, Prefer, clock, journal, admin."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

import pytest
import requests
from flask import Flask

from tests.conftest import LiveServer
from tokenmock.client import ContractViolation, RetryPolicy, TransportError
from tokenmock.client.vision10 import Vision10Client
from tokenmock.mockserver import ControlError, MockController
from tokenmock.mockserver.controls.clock import Clock

TOKEN_BODY = {
    "grant_type": "client_credentials",
    "scope": "all",
    "client_id": "demo-client",
    "client_secret": "demo-secret",
}
TOKEN_PATH = "/v1/api/oauth/token"


@pytest.fixture
def live(make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer]) -> LiveServer:
    return serve(make_app(vendor="vision10"))


@pytest.fixture
def control(live: LiveServer) -> MockController:
    return MockController(live.url)


def raw_exchange(url: str, body: dict[str, Any] = TOKEN_BODY) -> tuple[bytes, Exception | None]:
    """POST the token request over a plain socket; everything received, and how the read ended."""
    host, port = url.removeprefix("http://").split(":")
    payload = json.dumps(body).encode()
    request = (
        f"POST {TOKEN_PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    ).encode() + payload
    received = b""
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except OSError as exc:
            return received, exc
    return received, None


def client_for(live: LiveServer, sleeps: list[float] | None = None, **options: Any) -> Vision10Client:
    recorded = sleeps if sleeps is not None else []
    return Vision10Client(
        "demo-client",
        "demo-secret",
        base_url=live.url,
        sleep=recorded.append,
        retry=RetryPolicy(attempts=3),
        **options,
    )


def test_connection_reset_is_seen_on_the_socket_and_by_the_client(live: LiveServer, control: MockController) -> None:
    control.fault("vision10", "getAccessToken", "connection_reset", times=1)
    received, ended = raw_exchange(live.url)
    assert received == b"" and isinstance(ended, ConnectionResetError), (received, ended)  # RST, not FIN
    control.fault("vision10", "getAccessToken", "connection_reset", times=3)
    with pytest.raises(TransportError):
        client_for(live).token()
    assert control.faults()["faults"] == []  # exactly three requests consumed it


def test_empty_response(live: LiveServer, control: MockController) -> None:
    control.fault("vision10", "getAccessToken", "empty_response", times=4)
    received, _ = raw_exchange(live.url)
    assert received == b""
    with pytest.raises(TransportError):
        client_for(live).token()


def test_truncated_body_declares_more_than_it_sends(live: LiveServer, control: MockController) -> None:
    control.fault("vision10", "getAccessToken", "truncated_body", times=4)
    received, _ = raw_exchange(live.url)
    head, _, body = received.partition(b"\r\n\r\n")
    declared = int(
        next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    )
    assert 0 < len(body) < declared
    with pytest.raises(TransportError):
        client_for(live).token()


def test_slow_drip_is_cut_by_the_client_deadline(live: LiveServer, control: MockController) -> None:
    control.fault("vision10", "getAccessToken", "slow_drip", times=1, chunk_bytes=16, interval_ms=20)
    received, _ = raw_exchange(live.url)
    assert b'"access_token"' in received  # the whole body arrives, slowly
    control.fault("vision10", "getAccessToken", "slow_drip", times=3, chunk_bytes=4, interval_ms=100)
    with pytest.raises(TransportError, match="did not arrive"):
        client_for(live, timeout=0.3).token()


@pytest.mark.parametrize(
    ("kind", "params"),
    [("malformed_json", {}), ("wrong_content_type", {}), ("expires_in_string", {}), ("missing_expires_in", {})],
)
def test_body_quirks_break_the_contract_for_the_client(
    live: LiveServer, control: MockController, kind: str, params: dict[str, Any]
) -> None:
    control.fault("vision10", "getAccessToken", kind, times=1, **params)
    with pytest.raises(ContractViolation):
        client_for(live).token()
    entry = control.requests(operation="getAccessToken")[-1]
    assert entry["fault"] == kind


def test_quirks_a_client_must_tolerate(live: LiveServer, control: MockController) -> None:
    control.fault("vision10", "getAccessToken", "token_type_case", times=1, case="upper")
    assert client_for(live).token().token_type == "BEARER"
    control.fault("vision10", "getAccessToken", "extra_field", times=1)
    token = client_for(live).token()
    assert "x_tokenmock_extra" in token.raw


def test_status_503_with_retry_after_is_retried_then_given_up(live: LiveServer, control: MockController) -> None:
    control.fault("vision10", "getAccessToken", "status", times=3, status=503, retry_after=2)
    sleeps: list[float] = []
    with pytest.raises(TransportError) as caught:
        client_for(live, sleeps).token()
    assert caught.value.status == 503
    assert sleeps == [2.0, 2.0]  # Retry-After honoured between the three attempts


def test_429_once_then_a_token(live: LiveServer, control: MockController) -> None:
    control.fault("vision10", "getAccessToken", "status", times=1, status=429, retry_after=1)
    sleeps: list[float] = []
    assert client_for(live, sleeps).token().access_token
    assert sleeps == [1.0]


def test_latency_fault_delays_but_answers(live: LiveServer, control: MockController) -> None:
    control.fault("vision10", "getAccessToken", "latency", times=1, ms=50)
    assert client_for(live).token().access_token
    assert control.requests(operation="getAccessToken")[-1]["duration_ms"] >= 50


def test_expired_token_fault_drives_the_renew_and_retry_loop(live: LiveServer, control: MockController) -> None:
    control.fault("vision10", "getAccessToken", "expired_token", times=1)
    client = client_for(live)
    response = requests.get(f"{live.url}/v1/api/resource", auth=client.auth(), timeout=5)
    assert response.status_code == 200
    statuses = [(e["operation"], e["status"]) for e in control.requests()]
    assert statuses == [
        ("getAccessToken", 200),
        ("getProtectedResource", 401),
        ("getAccessToken", 200),
        ("getProtectedResource", 200),
    ]


def test_probability_faults_are_reproducible_under_a_seed(make_app: Callable[..., Flask]) -> None:
    def pattern() -> list[int]:
        app = make_app(vendor="vision10")
        http = app.test_client()
        http.post("/__mock/faults", json={"kind": "status", "probability": 0.5, "seed": 42, "params": {"status": 500}})
        return [http.post(TOKEN_PATH, json=TOKEN_BODY).status_code for _ in range(20)]

    first = pattern()
    assert first == pattern()
    assert {200, 500} == set(first)


def test_bad_fault_definitions_are_refused(control: MockController) -> None:
    for kind, options in [("bogus", {}), ("status", {"status": 404}), ("latency", {"ms": -1})]:
        with pytest.raises(ControlError, match="400"):
            control.fault("vision10", None, kind, **options)
    with pytest.raises(ControlError, match="unknown operation"):
        control.fault("vision10", "nosuch", "latency")


def test_clock_moves_expire_tokens_at_the_resource(live: LiveServer, control: MockController, clock: Clock) -> None:
    token = client_for(live).token().access_token
    resource = f"{live.url}/v1/api/resource"
    assert requests.get(resource, headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code == 200
    control.clock.advance(7199)
    refused = requests.get(resource, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    assert control.clock.now() == clock.now()


def test_clock_freeze_set_unfreeze(control: MockController) -> None:
    assert control.clock.freeze(at=1_000_000) == 1_000_000
    assert control.clock.advance(60) == 1_000_060
    assert control.clock.state()["frozen"] is True
    control.clock.unfreeze()
    assert control.clock.state()["frozen"] is False


def test_prefer_code_and_example(make_app: Callable[..., Flask]) -> None:
    http = make_app(vendor="vision10").test_client()
    answered = http.get("/v1/api/resource", headers={"Prefer": "code=401, example=expired_token"})
    assert answered.status_code == 401 and answered.json[0]["invalid-params"] == ["The access token expired"]
    assert answered.headers["WWW-Authenticate"].startswith("Bearer")
    documented = http.post(TOKEN_PATH, json=TOKEN_BODY, headers={"Prefer": "code=200"})
    assert documented.json["expires_in"] == 7199 and documented.headers["Cache-Control"] == "no-store"
    unknown = http.get("/v1/api/resource", headers={"Prefer": "code=418"})
    assert unknown.status_code == 400
    assert unknown.json["codes"] == ["200", "401"] and "expired_token" in unknown.json["examples"]


def test_journal_masks_every_secret(live: LiveServer, control: MockController) -> None:
    token = client_for(live).token().access_token
    requests.get(f"{live.url}/v1/api/resource", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    dumped = json.dumps(control.requests())
    assert "demo-secret" not in dumped and token not in dumped
    assert '"client_secret": "***"' in dumped and "Bearer ***" in dumped


def test_journal_is_bounded_and_filtered(make_app: Callable[..., Flask]) -> None:
    http = make_app(vendor="vision10", journal_size=5).test_client()
    for _ in range(8):
        http.post(TOKEN_PATH, json=TOKEN_BODY)
    http.get("/v1/api/resource")
    assert http.get("/__mock/requests").json["count"] == 5
    only = http.get("/__mock/requests?operation=getProtectedResource").json["requests"]
    assert [e["status"] for e in only] == [401]
    assert http.delete("/__mock/requests").status_code == 204
    assert http.get("/__mock/requests").json["count"] == 0


def test_runtime_clients_revocation_and_reset(live: LiveServer, control: MockController) -> None:
    control.add_client("vision10", client_id="ci-client", client_secret="ci-secret", scopes=["all"])
    fresh = Vision10Client("ci-client", "ci-secret", base_url=live.url).token().access_token
    resource = f"{live.url}/v1/api/resource"
    assert requests.get(resource, headers={"Authorization": f"Bearer {fresh}"}, timeout=5).status_code == 200
    control.revoke(fresh)
    assert requests.get(resource, headers={"Authorization": f"Bearer {fresh}"}, timeout=5).status_code == 401
    control.reset()
    assert control.requests() == []
    assert (
        requests.post(
            f"{live.url}{TOKEN_PATH}",
            timeout=5,
            json={**TOKEN_BODY, "client_id": "ci-client", "client_secret": "ci-secret"},
        ).status_code
        == 401
    )


def test_admin_token_is_required_when_configured(make_app: Callable[..., Flask]) -> None:
    http = make_app(vendor="vision10", admin_token="s3cret").test_client()
    assert http.get("/__mock/clock").status_code == 401
    assert http.get("/__mock/clock", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert http.get("/__mock/clock", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_admin_refuses_remote_clients_without_a_token(make_app: Callable[..., Flask]) -> None:
    http = make_app(vendor="vision10").test_client()
    remote = http.get("/__mock/clock", environ_base={"REMOTE_ADDR": "192.0.2.10"})
    assert remote.status_code == 403 and remote.json["error"] == "access_denied"
    assert http.get("/__mock/nope").json["error"] == "not_found"
