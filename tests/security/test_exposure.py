"""Exposure: loopback by default, a warning and an admin token beyond it, and bounded request sizes.

The server bound to 0.0.0.0 here lives for the length of one test and is spoken to over 127.0.0.1 only.
Which address a server listens on is read from /proc/net/tcp, without sending it any traffic.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask

from tests.reliability.serving import ROOT, Served, served
from tests.security.flows import VENDORS, login, requests_http
from tests.security.hostile import ROUTES, assert_refusal
from tokenmock.mockserver import create_app
from tokenmock.mockserver.controls.clock import Clock

ADMIN_TOKEN = "admin-token-for-tests-0123456789"


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a listening TCP socket on `port` (IPv4, from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, _, hex_port = local.partition(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_serve_binds_loopback_by_default(tmp_path: Path) -> None:
    with served([], tmp_path / "serve.log") as server:
        assert listening_addresses(server.port) == {"127.0.0.1"}
        assert "warning" not in server.log().lower()


def test_the_default_host_is_documented_as_loopback() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "tokenmock", "serve", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert "127.0.0.1" in shown.stdout


def _admin_status(server: Served, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(server.url + "/__mock/clock", headers=headers, timeout=5).status_code


def test_binding_every_address_warns_on_stderr(tmp_path: Path) -> None:
    with served(["--host", "0.0.0.0"], tmp_path / "serve.log") as server:
        assert listening_addresses(server.port) == {"0.0.0.0"}
        assert "warning: binding 0.0.0.0 exposes the mock" in server.log()
        with requests.Session() as session:  # over loopback only
            assert login("clickview", requests_http(session, server.url)).status == 200


def test_exposed_with_an_admin_token_the_admin_api_asks_everyone_for_it(tmp_path: Path) -> None:
    config = tmp_path / "mock.toml"
    config.write_text(f'admin_token = "{ADMIN_TOKEN}"\n', encoding="utf-8")
    with served(["--host", "0.0.0.0", "--config", str(config)], tmp_path / "serve.log") as server:
        assert "the admin API (/__mock/) asks every client for admin_token" in server.log()
        assert _admin_status(server) == 401  # even from 127.0.0.1
        assert _admin_status(server, "wrong") == 401
        assert _admin_status(server, ADMIN_TOKEN) == 200
    assert ADMIN_TOKEN not in server.log()


def test_exposed_without_an_admin_token_the_admin_api_is_closed(tmp_path: Path) -> None:
    with served(["--host", "0.0.0.0"], tmp_path / "serve.log") as server:
        assert "the admin API (/__mock/) is closed: set admin_token (TOKENMOCK__ADMIN_TOKEN=...)" in server.log()
        assert _admin_status(server) == 403  # loopback is not trusted when a proxy could be in front


# The same rules in-process, where the peer address can be chosen.


@pytest.fixture
def app_for(clock: Clock) -> Callable[..., Flask]:
    def build(**settings: object) -> Flask:
        return create_app({"clock": clock, **settings})

    return build


@pytest.mark.parametrize(
    ("settings", "peer", "token", "status"),
    [
        ({}, "127.0.0.1", None, 200),
        ({}, "::1", None, 200),
        ({}, "203.0.113.7", None, 403),
        ({}, "10.0.0.2", ADMIN_TOKEN, 403),
        ({"admin_token": ADMIN_TOKEN}, "203.0.113.7", ADMIN_TOKEN, 200),
        ({"admin_token": ADMIN_TOKEN}, "203.0.113.7", "wrong", 401),
        ({"admin_token": ADMIN_TOKEN}, "127.0.0.1", None, 401),
        ({"exposed": True}, "127.0.0.1", None, 403),
        ({"exposed": True}, "127.0.0.1", ADMIN_TOKEN, 403),
        ({"exposed": True, "admin_token": ADMIN_TOKEN}, "127.0.0.1", None, 401),
        ({"exposed": True, "admin_token": ADMIN_TOKEN}, "127.0.0.1", ADMIN_TOKEN, 200),
    ],
)
def test_who_may_use_the_admin_api(
    app_for: Callable[..., Flask], settings: dict[str, object], peer: str, token: str | None, status: int
) -> None:
    client = app_for(**settings).test_client()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for method, path in (("GET", "/__mock/clock"), ("GET", "/__mock/requests"), ("POST", "/__mock/reset")):
        sent = {**headers, "Content-Type": "application/json"} if method == "POST" else headers
        answer = client.open(path, method=method, headers=sent, environ_base={"REMOTE_ADDR": peer})
        assert answer.status_code in ((200, 204) if status == 200 else (status,)), (method, path, answer.status_code)
        if status != 200:
            assert answer.get_json()["error"] in ("access_denied", "invalid_token")


def test_a_forwarded_for_header_does_not_make_a_remote_peer_local(app_for: Callable[..., Flask]) -> None:
    answer = (
        app_for()
        .test_client()
        .get(
            "/__mock/clock",
            headers={"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1", "Forwarded": "for=127.0.0.1"},
            environ_base={"REMOTE_ADDR": "203.0.113.7"},
        )
    )
    assert answer.status_code == 403


def test_the_exposed_setting_can_come_from_the_environment(
    app_for: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKENMOCK__EXPOSED", "true")
    assert app_for().test_client().get("/__mock/clock").status_code == 403


# Size limits.


@pytest.mark.parametrize("limit", [1024, 65536])
def test_the_body_limit_is_exact_and_configurable(app_for: Callable[..., Flask], limit: int) -> None:
    app = app_for(max_body_bytes=limit, validate_responses=True)
    route = next(r for r in ROUTES if str(r) == "vision10.getAccessToken")
    client = app.test_client()
    at_limit = b'{"grant_type":"' + b"x" * (limit - 17) + b'"}'
    assert len(at_limit) == limit
    answer = client.post(route.path, data=at_limit, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400  # read and refused for its content, not its size
    over = client.post(route.path, data=at_limit + b" ", headers={"Content-Type": "application/json"})
    assert_refusal(route, over.status_code, over.get_data(), over.headers, oversize=True)


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("limits")
    config = directory / "mock.yaml"
    config.write_text("max_body_bytes: 2048\n", encoding="utf-8")
    with served(["--config", str(config)], directory / "serve.log") as server:
        yield server


def _raw_status(port: int, data: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize(
    ("what", "within", "beyond", "status"),
    [
        ("request line", 8190, 8191, 414),
        ("header field", 8188, 8189, 431),  # limit_request_field_size 8190 counts the line's CRLF
        ("header count", 100, 101, 431),
    ],
)
def test_gunicorn_header_limits(small_server: Served, what: str, within: int, beyond: int, status: int) -> None:
    def request(size: int) -> bytes:
        if what == "request line":
            path = "/divetv/v1/resource?q="
            filler = size - len(f"GET {path} HTTP/1.1")
            return f"GET {path}{'a' * filler} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        if what == "header field":
            return f"GET /divetv/v1/resource HTTP/1.1\r\nX-Big: {'a' * (size - len('X-Big: '))}\r\n\r\n".encode()
        headers = "".join(f"X-{i}: 1\r\n" for i in range(size))
        return f"GET /divetv/v1/resource HTTP/1.1\r\n{headers}\r\n".encode()

    assert _raw_status(small_server.port, request(within)) == 401  # read, then refused for its missing token
    assert _raw_status(small_server.port, request(beyond)) == status


def test_the_body_limit_of_a_live_server_comes_from_its_config(small_server: Served) -> None:
    route = next(r for r in ROUTES if str(r) == "aminotv.loginUser")
    body = b'{"username":"' + b"u" * 3000 + b'"}'
    answer = requests.post(
        small_server.url + route.path, data=body, headers={"Content-Type": "application/json"}, timeout=5
    )
    assert_refusal(route, answer.status_code, answer.content, answer.headers, oversize=True)
    with requests.Session() as session:
        for vendor in VENDORS:
            assert login(vendor, requests_http(session, small_server.url)).status == 200
