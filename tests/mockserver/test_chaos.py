"""Chaos mode: draws from tokenmock.contracts.strategies, reproducible from the seed, journaled, seen on the wire."""

from __future__ import annotations

import json
import socket
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tests.conftest import LiveServer
from tokenmock import contracts
from tokenmock.client import TokenError
from tokenmock.client.clickview import ClickViewClient
from tokenmock.contracts import strategies
from tokenmock.mockserver import ControlError, MockController
from tokenmock.mockserver.config import ConfigError
from tokenmock.mockserver.controls.chaos import Chaos, ChaosError
from tokenmock.mockserver.serving.wire import NOT_HTTP
from tokenmock.mockserver.stores import MemoryStore

TOKEN_PATH = "/connect/token"
FORM = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"}
SLOW = sorted(strategies.SLOW_KINDS)


def exchanges(app: Flask, count: int) -> list[tuple[str, int, bytes]]:
    """`count` token requests in process: (journal label, status, body) each; a broken transfer is (label, 0, b"")."""
    http = app.test_client()
    seen: list[tuple[int, bytes]] = []
    for _ in range(count):
        try:
            response = http.post(TOKEN_PATH, data=FORM)
            seen.append((response.status_code, response.get_data()))
        except ConnectionError:  # a wire draw: the in-process client sees the broken read
            seen.append((0, b""))
    labels = [entry["fault"] for entry in http.get("/__mock/requests").get_json()["requests"]]
    return [(label, status, body) for label, (status, body) in zip(labels, seen, strict=True)]


def generated(sequence: list[tuple[str, int, bytes]]) -> list[tuple[str, int, bytes]]:
    """The draws not answered by the server itself (real answers carry fresh tokens)."""
    return [item for item in sequence if not item[0].endswith(":real")]


def test_the_same_seed_gives_the_same_sequence(make_app: Callable[..., Flask]) -> None:
    first = exchanges(make_app(vendor="clickview", chaos=7), 40)
    again = exchanges(make_app(vendor="clickview", chaos=7), 40)
    assert generated(first) == generated(again)  # byte for byte
    assert [(label, status) for label, status, _ in first] == [(label, status) for label, status, _ in again]
    assert [label.split(":")[1] for label, _, _ in first] == [str(n) for n in range(40)]  # numbered in order
    assert len({label.split(":")[2] for label, _, _ in first}) >= 8  # a varied sequence, not one kind
    other = exchanges(make_app(vendor="clickview", chaos=8), 40)
    assert [label for label, _, _ in other] != [label for label, _, _ in first]


def test_a_real_draw_is_the_servers_own_answer(make_app: Callable[..., Flask]) -> None:
    sequence = exchanges(make_app(vendor="clickview", chaos=7), 40)
    real = [(status, body) for label, status, body in sequence if label.endswith(":real")]
    assert real, "seed 7 draws the server's answer within 40 requests"
    assert all(status == 200 and "access_token" in json.loads(body) for status, body in real)


def test_every_kind_is_drawn_and_exclude_is_honoured() -> None:
    chaos = Chaos(MemoryStore(), {"seed": 3, "exclude": SLOW})
    drawn = Counter(chaos.draw("divetv", "issueToken").kind for _ in range(1500))  # type: ignore[union-attr]
    expected = {"real", "success", "documented_error", *strategies.hostile_kinds("divetv", "issueToken")} - set(SLOW)
    assert set(drawn) == expected
    assert drawn["real"] > drawn["success"]  # weighted: the server's answer three times as often


def test_generated_draws_are_what_the_strategies_say() -> None:
    chaos = Chaos(MemoryStore(), 11)
    for _ in range(300):
        draw = chaos.draw("clickview", "requestToken")
        assert draw is not None
        if draw.reply is None:
            continue
        reply = draw.to_reply()
        assert (reply.status, reply.body) == (draw.reply.status, draw.reply.body)
        assert (reply.media_type or None) == draw.reply.header("Content-Type")
        if draw.kind == "documented_error":
            contracts.validate_response("clickview", "requestToken", reply.status, json.loads(reply.body))
        if draw.reply.delivery != "complete":
            assert reply.wire is not None


def test_journal_names_the_draw_and_masks_the_request(make_app: Callable[..., Flask]) -> None:
    app = make_app(vendor="clickview", chaos=5)
    exchanges(app, 12)
    entries = app.test_client().get("/__mock/requests").get_json()["requests"]
    assert [e["fault"].split(":")[1] for e in entries] == [str(n) for n in range(12)]
    assert all(e["operation"] == "requestToken" for e in entries)
    assert all(e["body"]["client_id"] == "demo-client" for e in entries)  # parsed, so a client's mistakes show
    assert "demo-secret" not in json.dumps(entries)


def test_admin_starts_stops_and_reset_restarts_the_configured_sequence(make_app: Callable[..., Flask]) -> None:
    app = make_app(vendor="clickview", chaos=7)
    admin = app.test_client()
    first = generated(exchanges(app, 10))
    assert admin.get("/__mock/chaos").get_json()["drawn"] == 10
    assert admin.post("/__mock/reset", json={}).status_code == 204
    assert admin.get("/__mock/chaos").get_json()["drawn"] == 0
    assert generated(exchanges(app, 10)) == first

    assert admin.delete("/__mock/chaos").status_code == 204
    assert admin.get("/__mock/chaos").get_json()["seed"] is None
    assert admin.post(TOKEN_PATH, data=FORM).status_code == 200
    assert admin.get("/__mock/requests?limit=1").get_json()["requests"][0]["fault"] is None

    state = admin.put("/__mock/chaos", json={"seed": 7}).get_json()
    assert (state["seed"], state["drawn"]) == (7, 0)
    admin.delete("/__mock/requests")
    assert generated(exchanges(app, 10)) == first


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"seed": "seven"}, "seed must be of type integer"),
        ({}, "seed is required"),
        ({"seed": 1, "exclude": ["meteor_strike"]}, "exclude/0 must be one of ['real', 'success', 'documented_error'"),
        ({"seed": 1, "exclude": "no_answer"}, "exclude must be of type array"),
    ],
)
def test_bad_chaos_requests_are_refused_with_the_choices(
    make_app: Callable[..., Flask], body: dict[str, Any], message: str
) -> None:
    response = make_app(vendor="clickview").test_client().put("/__mock/chaos", json=body)
    assert response.status_code == 400
    assert message in response.get_json()["error_description"]


def test_bad_chaos_setting_refuses_to_start(make_app: Callable[..., Flask]) -> None:
    with pytest.raises(ConfigError, match="chaos: not one of the accepted forms"):
        make_app(chaos="loud")
    with pytest.raises(ChaosError, match="unknown kinds"):  # kinds are the chaos module's to know
        make_app(chaos={"seed": 1, "exclude": ["loud"]})


def test_reference_client_survives_chaos_over_http(
    make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer]
) -> None:
    """Every draw, slow ones included, over real sockets: a usable token or a documented TokenError."""
    live = serve(make_app(vendor="clickview", chaos=21))
    outcomes: Counter[str] = Counter()
    for _ in range(60):
        client = ClickViewClient("demo-client", "demo-secret", base_url=live.url, timeout=0.3, sleep=lambda _s: None)
        try:
            token = client.token()
        except TokenError as error:
            outcomes[type(error).__name__] += 1
            assert "demo-secret" not in str(error) and "demo-secret" not in repr(error)
        else:
            assert token.access_token and token.access_token.isprintable()
            outcomes["token"] += 1
    assert outcomes["token"] and sum(outcomes.values()) == 60
    assert len(outcomes) >= 3  # tokens and more than one kind of documented error
    labels = {e["fault"].split(":")[2] for e in MockController(live.url).requests()}
    assert labels & set(SLOW) and "not_http" in labels  # the connection-level draws were played


def raw_token_request(url: str, timeout: float = 5) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    body = "&".join(f"{k}={v}" for k, v in FORM.items()).encode()
    request = (
        f"POST {TOKEN_PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    received = b""
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except OSError:
            pass
    return received


@pytest.fixture
def live(make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer]) -> LiveServer:
    return serve(make_app(vendor="clickview"))


def test_not_http_fault_sends_bytes_that_are_no_response(live: LiveServer) -> None:
    MockController(live.url).fault("clickview", "requestToken", "not_http", times=10)
    assert raw_token_request(live.url) == NOT_HTTP
    with pytest.raises(TokenError):
        ClickViewClient("demo-client", "demo-secret", base_url=live.url, sleep=lambda _s: None).token()


def test_no_answer_fault_holds_then_closes_without_a_byte(live: LiveServer) -> None:
    control = MockController(live.url)
    control.fault("clickview", "requestToken", "no_answer", times=1, seconds=0.2)
    assert raw_token_request(live.url) == b""  # closed after 0.2 s (the socket timeout is 5 s)
    control.fault("clickview", "requestToken", "no_answer", times=3, seconds=30)
    client = ClickViewClient("demo-client", "demo-secret", base_url=live.url, timeout=0.2, sleep=lambda _s: None)
    with pytest.raises(TokenError):
        client.token()


def test_stalled_body_sends_half_then_nothing(live: LiveServer) -> None:
    control = MockController(live.url)
    control.fault("clickview", "requestToken", "stalled_body", times=1, seconds=0.2)
    head, _, body = raw_token_request(live.url).partition(b"\r\n\r\n")
    fields = dict(line.lower().split(b": ", 1) for line in head.split(b"\r\n")[1:])
    declared = int(fields[b"content-length"])
    assert head.startswith(b"HTTP/1.1 200") and 0 < len(body) < declared
    control.fault("clickview", "requestToken", "stalled_body", times=3, seconds=30)
    client = ClickViewClient("demo-client", "demo-secret", base_url=live.url, timeout=0.2, sleep=lambda _s: None)
    with pytest.raises(TokenError):
        client.token()


@pytest.mark.parametrize("kind", ["no_answer", "stalled_body"])
def test_holding_faults_are_bounded(live: LiveServer, kind: str) -> None:
    with pytest.raises(ControlError, match="seconds must be a number from 0 to 300"):
        MockController(live.url).fault("clickview", "requestToken", kind, seconds=3600)
