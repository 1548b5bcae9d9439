"""Bytes below HTTP at a live `tokenmock serve` (gunicorn) on loopback, over raw sockets.

Malformed request lines and headers, absurd and contradictory lengths, broken chunking, oversize lines
and header blocks, NUL bytes, binary junk and slow senders. The server answers each with a 4xx (or hangs
up on bytes that are not HTTP), never a 5xx, and keeps answering valid requests afterwards.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.serving import Served, served
from tests.security.flows import VENDORS, login, requests_http
from tests.security.hostile import CASES, ROUTES, Route, assert_refusal
from tokenmock import contracts
from tokenmock.mockserver.serving.server import REQUEST_DEADLINE

TOKEN = next(r for r in ROUTES if str(r) == "clickview.requestToken")
THREADS = 4  # the server's request threads: the slow-client test holds more connections than this


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # One worker process, so the slow-client test knows how many threads it must exceed.
    log = tmp_path_factory.mktemp("wire") / "serve.log"
    with served(["--threads", str(THREADS)], log, env={"TOKENMOCK_WORKERS": "1"}) as live:
        yield live
    assert not live.alive()


@dataclass
class Raw:
    """What came back on a raw connection: a response, or nothing (the server hung up)."""

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def from_app(self) -> bool:
        """Answered by the mock (gunicorn adds `Server` to app responses, not to its own refusals)."""
        return "server" in {k.lower() for k in self.headers}


def exchange(port: int, data: bytes, *, timeout: float = 10.0) -> Raw:
    """Send `data`, close our side, read one response (if any)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server refused early and hung up; its answer may still be waiting
        response = http.client.HTTPResponse(sock)
        try:
            response.begin()
            body = response.read()
        except (http.client.HTTPException, ConnectionResetError):
            return Raw(None)
        return Raw(response.status, dict(response.getheaders()), body)


def open_to_anyone(route: Route) -> bool:
    """An operation that asks for no credentials (discovery, key sets): a well-formed GET gets its 200."""
    op = contracts.operation(route.vendor, route.operation_id)
    return route.method == "GET" and not op.security


def assert_answer(server: Served, raw: Raw, route: Route | None = None) -> None:
    """A 4xx or a hang-up; an answer from the mock itself is in the vendor's documented shape."""
    if raw.status is None:
        return
    if route is not None and raw.status == 200 and open_to_anyone(route):
        return  # a valid request line to discovery or a key set: anyone may read them (security: [])
    assert 400 <= raw.status < 500, f"{raw.status} {raw.body[:300]!r}"
    if raw.from_app and route is not None:
        assert_refusal(route, raw.status, raw.body, raw.headers)


def assert_still_serving(server: Served) -> None:
    assert server.alive()
    with requests.Session() as session:
        for vendor in VENDORS:
            assert login(vendor, requests_http(session, server.url)).status == 200


def head(route: Route, *lines: str, method: str | None = None) -> bytes:
    start = f"{method or route.method} {route.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    return (start + "".join(line + "\r\n" for line in lines) + "\r\n").encode("latin-1")


FORM = "Content-Type: application/x-www-form-urlencoded"
# Refused by the HTTP server before the mock sees them: (bytes, the status gunicorn documents).
BELOW_HTTP: dict[str, tuple[bytes, int]] = {
    "negative Content-Length": (head(TOKEN, FORM, "Content-Length: -5"), 400),
    "Content-Length not a number": (head(TOKEN, FORM, "Content-Length: 12abc"), 400),
    "two Content-Lengths": (head(TOKEN, FORM, "Content-Length: 3", "Content-Length: 5") + b"abc", 400),
    "Content-Length and chunked": (
        head(TOKEN, FORM, "Content-Length: 3", "Transfer-Encoding: chunked") + b"0\r\n\r\n",
        400,
    ),
    "Transfer-Encoding gzip": (head(TOKEN, FORM, "Transfer-Encoding: gzip"), 400),
    "unknown transfer coding": (head(TOKEN, FORM, "Transfer-Encoding: x-custom"), 400),  # gunicorn: 501
    "empty transfer coding": (head(TOKEN, FORM, "Transfer-Encoding: "), 400),
    "NUL in the path": (b"POST /clickview/connect\x00/token HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "NUL in a header": (head(TOKEN, "X-Probe: a\x00b"), 400),
    "NUL in Authorization": (head(TOKEN, "Authorization: Basic \x00\x00"), 400),
    "header without colon": (head(TOKEN, "garbage"), 400),
    "space before colon": (head(TOKEN, "Content-Type : text/plain"), 400),
    "obsolete line folding": (head(TOKEN, "X-Probe: a", " folded"), 400),
    "HTTP/9.9": (b"POST /clickview/connect/token HTTP/9.9\r\nHost: x\r\n\r\n", 400),
    "control byte in method": (b"P\x01ST /clickview/connect/token HTTP/1.1\r\n\r\n", 400),
    "HTTP/0.9 request": (b"GET /\r\n\r\n", 400),
    "empty request line": (b"\r\n\r\n", 400),
    "request line 16 KiB": (b"GET /clickview/api/v1/example?" + b"a=1&" * 4096 + b" HTTP/1.1\r\n\r\n", 414),
    "thousands of query parameters": (
        b"GET /divetv/v1/resource?" + b"&".join(b"p%d=1" % i for i in range(2000)) + b" HTTP/1.1\r\n\r\n",
        414,
    ),
    "Basic header 64 KiB": (head(TOKEN, "Authorization: Basic " + "QUFB" * 16384), 431),
    "Bearer header 9 KiB": (head(TOKEN, "Authorization: Bearer " + "a" * 9000), 431),
    "200 headers": (head(TOKEN, *(f"X-{i}: 1" for i in range(200))), 431),
    "unknown expectation": (head(TOKEN, "Expect: teapot", "Content-Length: 0"), 417),
}
# Reach the mock, so the vendor answers in its own shape.
TO_THE_APP: dict[str, tuple[bytes, int]] = {
    "Content-Length 2^70": (head(TOKEN, FORM, f"Content-Length: {2**70}") + b"abc", 413),
    "body over the limit": (head(TOKEN, FORM, "Content-Length: 70000") + b"a" * 70000, 413),
    "bad base64 in Basic": (head(TOKEN, FORM, "Authorization: Basic ***", "Content-Length: 0"), 400),
    "Basic of invalid UTF-8": (
        head(TOKEN, FORM, "Authorization: Basic " + base64.b64encode(b"\xff:\xfe").decode(), "Content-Length: 0"),
        400,
    ),
    "form of invalid UTF-8": (head(TOKEN, FORM, "Content-Length: 6") + b"a=\xff\xfe\xfd", 400),
    "JSON nested 30000 deep": (
        head(TOKEN, "Content-Type: application/json", "Content-Length: 60000") + b"[" * 30000 + b"]" * 30000,
        400,
    ),
    "latin-1 header": (head(TOKEN, FORM, "X-Name: t\xf6k", "Content-Length: 0"), 400),
    "chunked, well formed": (head(TOKEN, FORM, "Transfer-Encoding: chunked") + b"3\r\na=b\r\n0\r\n\r\n", 400),
}


@pytest.mark.parametrize("case", sorted(BELOW_HTTP))
def test_malformed_http_is_refused_and_the_server_stays_up(server: Served, case: str) -> None:
    data, status = BELOW_HTTP[case]
    CASES["wire table"] += 1
    raw = exchange(server.port, data)
    assert raw.status == status, f"{case}: {raw.status} {raw.body[:200]!r}"
    assert_still_serving(server)


@pytest.mark.parametrize("case", sorted(TO_THE_APP))
def test_hostile_bodies_and_headers_get_the_vendor_shape(server: Served, case: str) -> None:
    data, status = TO_THE_APP[case]
    CASES["wire table"] += 1
    raw = exchange(server.port, data)
    assert raw.from_app and raw.status == status, f"{case}: {raw.status} {raw.body[:200]!r}"
    assert_refusal(TOKEN, raw.status, raw.body, raw.headers, oversize=status == 413)
    assert_still_serving(server)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(head(TOKEN, FORM, "Transfer-Encoding: chunked") + b"zz\r\nabc\r\n0\r\n\r\n", id="bad chunk size"),
        pytest.param(head(TOKEN, FORM, "Transfer-Encoding: chunked") + b"5\r\nab", id="chunk cut short"),
    ],
)
def test_an_unreadable_body_is_the_clients_error(server: Served, body: bytes) -> None:
    CASES["wire table"] += 1
    raw = exchange(server.port, body)
    assert raw.status is not None and raw.from_app
    assert_refusal(TOKEN, raw.status, raw.body, raw.headers)


@pytest.mark.parametrize(
    "case", ["two Content-Lengths", "request line 16 KiB", "Basic header 64 KiB", "NUL in a header"]
)
def test_malformed_http_is_refused_in_json(server: Served, case: str) -> None:
    raw = exchange(server.port, BELOW_HTTP[case][0])
    assert raw.status is not None and "json" in raw.headers.get("Content-Type", ""), raw.body[:200]
    assert json.loads(raw.body)["error"] == "invalid_request"


wire_lines = st.binary(max_size=80).filter(lambda b: b"\r\n" not in b)


@st.composite
def wire_requests(draw: st.DrawFn) -> tuple[Route, bytes]:
    """A request line that is valid, damaged or junk; header lines of arbitrary bytes; any body."""
    route = draw(st.sampled_from(ROUTES))
    valid = f"{route.method} {route.path} HTTP/1.1".encode()
    line = draw(st.one_of(st.just(valid), wire_lines, st.builds(lambda junk: valid + junk, wire_lines)))
    headers = draw(
        st.lists(
            st.one_of(
                wire_lines,
                st.builds(
                    lambda n, v: n + b": " + v,
                    st.sampled_from(
                        [
                            b"Content-Length",
                            b"Authorization",
                            b"Content-Type",
                            b"Host",
                            b"Expect",
                            b"Cookie",
                        ]
                    ),
                    wire_lines,
                ),
            ),
            max_size=6,
        )
    )
    body = draw(st.binary(max_size=200))
    return route, line + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(case=wire_requests())
def test_arbitrary_bytes_never_break_the_server(server: Served, case: tuple[Route, bytes]) -> None:
    route, data = case
    CASES["wire hypothesis"] += 1
    raw = exchange(server.port, data)
    if route.method == "GET" and raw.status == 200 and data.startswith(f"GET {route.path} HTTP/1.1\r\n".encode()):
        assert server.alive()  # a well-formed GET the draw happened to make (discovery, keys): its 200 is right
        return
    assert_answer(server, raw, route)
    assert server.alive()


def test_the_server_is_up_after_the_wire_fuzz(server: Served) -> None:
    assert_still_serving(server)


class SlowClients:
    """Connections that send part of a request and then nothing more, holding their sockets open."""

    def __init__(self, port: int, prefix: bytes, count: int) -> None:
        self.sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
        for sock in self.sockets:
            sock.sendall(prefix)

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param(b"POST /clickview/connect/token HTTP/1.1\r\nHost: x\r\nX-Slow: ", id="slow header"),
        pytest.param(head(TOKEN, FORM, "Content-Length: 100") + b"grant_type=", id="slow body"),
        pytest.param(head(TOKEN, FORM, "Transfer-Encoding: chunked") + b"b\r\ngrant_type=", id="slow chunked body"),
    ],
)
def test_slow_clients_do_not_starve_valid_ones(server: Served, prefix: bytes) -> None:
    CASES["wire table"] += 1
    slow = SlowClients(server.port, prefix, 3 * THREADS)
    try:
        answered = threading.Event()

        def valid() -> None:
            with requests.Session() as session, contextlib.suppress(requests.RequestException):
                if login("clickview", requests_http(session, server.url, timeout=8)).status == 200:
                    answered.set()

        caller = threading.Thread(target=valid, daemon=True)
        caller.start()
        caller.join(timeout=10)
        assert answered.is_set(), "a valid request was not answered while slow clients held connections"
    finally:
        slow.close()
    assert_still_serving(server)


def test_clients_that_keep_their_side_open_after_a_refusal_stall_nobody(server: Served) -> None:
    """A refused connection is closed without waiting on the client (gunicorn drains each one for up to
    2 s on the thread that serves every other connection)."""
    CASES["wire table"] += 1
    holding = SlowClients(server.port, b"GARBAGE\r\n\r\n", 3 * THREADS)
    try:
        time.sleep(0.5)  # the refusals are sent and the connections being closed
        started = time.monotonic()
        with requests.Session() as session:
            assert login("clickview", requests_http(session, server.url, timeout=10)).status == 200
        assert time.monotonic() - started < 5, "connections being closed held up a valid request"
    finally:
        holding.close()


def test_a_request_that_does_not_arrive_in_time_is_cut_off(server: Served) -> None:
    """A client still sending its request after REQUEST_DEADLINE gets a 408 in JSON and is disconnected."""
    CASES["wire table"] += 1
    with socket.create_connection(("127.0.0.1", server.port), timeout=REQUEST_DEADLINE + 10) as sock:
        sock.sendall(head(TOKEN, FORM)[:-2] + b"X-Slow: ")
        started, stop = time.monotonic(), threading.Event()

        def drip() -> None:  # a byte every half second: never idle long enough to be closed as idle
            while not stop.wait(0.5):
                try:
                    sock.send(b"a")
                except OSError:
                    return

        dripping = threading.Thread(target=drip, daemon=True)
        dripping.start()
        try:
            raw = http.client.HTTPResponse(sock)
            raw.begin()
            body = raw.read()
        finally:
            stop.set()
            dripping.join(timeout=5)
    assert raw.status == 408 and json.loads(body)["error"] == "invalid_request", (raw.status, body[:200])
    assert REQUEST_DEADLINE - 1 <= time.monotonic() - started <= REQUEST_DEADLINE + 6
    assert_still_serving(server)


def test_a_body_sent_after_100_continue_is_answered(server: Served) -> None:
    """The server waits for a whole request, but not for a body the client holds back until invited."""
    CASES["wire table"] += 1
    form = b"grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret&scope=smartembed.viewkey"
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head(TOKEN, FORM, "Expect: 100-continue", f"Content-Length: {len(form)}"))
        assert sock.recv(64).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(form)
        raw = http.client.HTTPResponse(sock)
        raw.begin()
        assert raw.status == 200 and "access_token" in json.loads(raw.read())


def test_many_connections_that_send_nothing_are_harmless(server: Served) -> None:
    """Idle connections (a connect flood) are parked by the server, not given a request thread."""
    CASES["wire table"] += 1
    idle = SlowClients(server.port, b"", 3 * THREADS)
    try:
        with requests.Session() as session:
            assert login("vision10", requests_http(session, server.url, timeout=20)).status == 200
    finally:
        idle.close()


def test_a_client_that_hangs_up_mid_body_leaves_no_trace(server: Served) -> None:
    before = len(server.log())
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(head(TOKEN, FORM, "Content-Length: 1000") + b"grant_type=cli")
        CASES["wire table"] += 1
    assert_still_serving(server)
    assert "Traceback" not in server.log()[before:]
