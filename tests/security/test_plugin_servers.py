"""Issue 22, item 7: the pytest plugin's servers (the live mock and the replay server) answer malformed
requests as `tokenmock serve` does, a status line and a JSON body with `Connection: close`, and hold a
bounded number of connections (the replay server used to answer with no status line and keep a thread
per stalled client; the live mock answered with http.server's HTML page)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator

import pytest

from tokenmock import plugin_wire
from tokenmock.contracts.strategies import Reply
from tokenmock.pytest_plugin import LiveMock, ReplayServer

MALFORMED = (
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: nine\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", 413),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n", 400),
    (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 431),
)
LIVE_MALFORMED = (b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n")
EXTRA = 10  # connections past the limit
# Cases: the malformed requests to each server, the stalled clients of each and those past the limit.
CASE_COUNT = len(MALFORMED) + len(LIVE_MALFORMED) + 2 * plugin_wire.MAX_CONNECTIONS + EXTRA + 1


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    server = ReplayServer()
    server.play(Reply(200, [("Content-Type", "application/json")], b"{}", "complete"))
    yield server
    server.close()


def _exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(data)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    return answer


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _assert_json_refusal(answer: bytes, status: int | None = None) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), answer[:200]
    if status is not None:
        assert head.startswith(b"HTTP/1.1 %d " % status), head
    assert b"connection: close" in head.lower() and b"application/json" in head.lower(), head
    assert json.loads(body)["error"] in ("invalid_request", "server_error")


@pytest.mark.parametrize(("request_bytes", "status"), MALFORMED, ids=lambda v: repr(v)[:30])
def test_the_replay_server_refuses_malformed_requests_in_json(
    replay: ReplayServer, request_bytes: bytes, status: int
) -> None:
    _assert_json_refusal(_exchange(_port(replay.url), request_bytes), status)
    assert replay.received == []


def test_the_replay_server_still_answers_a_request(replay: ReplayServer) -> None:
    answer = _exchange(_port(replay.url), b"POST /t HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi")
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"{}")
    assert replay.received[0].body == b"hi" and replay.received[0].path == "/t"


def test_the_replay_server_holds_a_bounded_number_of_stalled_clients(replay: ReplayServer) -> None:
    before = threading.active_count()
    stalled = [
        socket.create_connection(("127.0.0.1", _port(replay.url)), timeout=20)
        for _ in range(plugin_wire.MAX_CONNECTIONS)
    ]
    try:
        for sock in stalled:
            sock.sendall(b"GET / HT")
        extra = [_exchange(_port(replay.url), b"GET / HTTP/1.1\r\n\r\n") for _ in range(EXTRA)]
        for answer in extra:
            _assert_json_refusal(answer, 503)
        assert threading.active_count() - before <= plugin_wire.MAX_CONNECTIONS
        _assert_json_refusal(_read_all(stalled[0]), 408)  # cut off at READ_DEADLINE (the bound: 20 s)
    finally:
        for sock in stalled:
            sock.close()


def _read_all(sock: socket.socket) -> bytes:
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


@pytest.mark.parametrize("request_bytes", LIVE_MALFORMED, ids=lambda v: repr(v)[:30])
def test_the_live_mock_refuses_malformed_requests_in_json(request_bytes: bytes) -> None:
    live = LiveMock({"access_log": False})
    try:
        _assert_json_refusal(_exchange(live.port, request_bytes))
    finally:
        live.stop()


def test_the_live_mock_holds_a_bounded_number_of_stalled_clients() -> None:
    live = LiveMock({"access_log": False})
    stalled = [
        socket.create_connection(("127.0.0.1", live.port), timeout=20) for _ in range(plugin_wire.MAX_CONNECTIONS)
    ]
    try:
        for sock in stalled:
            sock.sendall(b"GET / HT")
        _assert_json_refusal(_exchange(live.port, b"GET / HTTP/1.1\r\n\r\n"), 503)
        answer = _read_all(stalled[0])  # cut off at READ_DEADLINE (the bound: the socket's 20 s)
        assert answer == b"" or answer.startswith(b"HTTP/1."), answer[:100]
    finally:
        for sock in stalled:
            sock.close()
        live.stop()
