"""Issue 22 on the wire, against `tokenmock serve` (gunicorn, one worker):

- `Transfer-Encoding` other than exactly `chunked` is 400 with `Connection: close`, and a request
  pipelined behind it is never answered (gunicorn alone accepted `identity, chunked` and `gzip, chunked`).
- TLS: clients that send part of a ClientHello and stall do not take HTTPS down; the handshake runs in the
  poller and is cut off after TLS_HANDSHAKE_DEADLINE.
- Connections: more dripping clients than a worker's MAX_CONNECTIONS do not keep a valid client out; the
  worker sheds the idle and the slow, oldest first.
"""

from __future__ import annotations

import http.client
import json
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.test_tls import serving
from tests.ports import free_port
from tests.reliability.serving import Served
from tokenmock.mockserver.serving.server import MAX_CONNECTIONS, REQUEST_DEADLINE, TLS_HANDSHAKE_DEADLINE

CODINGS = (
    b"identity, chunked",
    b"gzip, chunked",
    b"deflate,chunked",
    b"chunked, identity",
    b"x-custom",
    b"chunked\r\nTransfer-Encoding: chunked",
)
STALLED_HANDSHAKES = 20
DRIPPERS = MAX_CONNECTIONS + 100
# Cases: the codings, the stalled handshakes, the dripping connections.
CASE_COUNT = len(CODINGS) + STALLED_HANDSHAKES + DRIPPERS
FORM = b"grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret&scope=smartembed.viewkey"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    log = tmp_path_factory.mktemp("round3") / "serve.log"
    live = Served([], log, env={"TOKENMOCK_WORKERS": "1"}, port=free_port())
    try:
        yield live
    finally:
        live.stop()


@pytest.mark.parametrize("coding", CODINGS, ids=lambda c: c.decode().split("\r")[0])
def test_only_chunked_is_a_transfer_coding(server: Served, coding: bytes) -> None:
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(FORM), FORM)
    request = (
        b"POST /clickview/connect/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: " + coding + b"\r\n\r\n" + body
    )
    smuggled = b"GET /__mock/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(request + smuggled)
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 400, response.status
        assert response.getheader("Connection") == "close"
        assert json.loads(response.read())["error"] == "invalid_request"
        rest = b""
        while chunk := sock.recv(65536):  # the server closes: nothing more, the pipelined request unanswered
            rest += chunk
        assert b"HTTP/1.1" not in rest, rest[:200]


def test_plain_chunked_is_still_read(server: Served) -> None:
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(FORM), FORM)
    request = (
        b"POST /clickview/connect/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: Chunked\r\n\r\n" + body
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 200 and "access_token" in json.loads(response.read())


def test_stalled_tls_handshakes_do_not_take_https_down(tmp_path: Path) -> None:
    with serving(tmp_path, "--tls") as tls:
        stalled = []
        for _ in range(STALLED_HANDSHAKES):  # 5 bytes of a ClientHello's record header, then nothing
            sock = socket.create_connection(("127.0.0.1", tls.port), timeout=30)
            sock.sendall(b"\x16\x03\x01\x02\x00")
            stalled.append(sock)
        try:
            started = time.monotonic()
            # The bound: a runaway (HTTPS down) fails at the timeout instead of hanging the suite.
            answer = requests.get(tls.base + "/__mock/health", verify=str(tls.ca_file), timeout=20)
            print(f"HTTPS answered {time.monotonic() - started:.2f}s into {STALLED_HANDSHAKES} stalled handshakes")
            assert answer.status_code == 200
            # And each stalled handshake is cut off (the bound of a runaway: the sockets' 30 s timeout).
            closed = sum(1 for sock in stalled if _closed_by_server(sock))
            assert closed == STALLED_HANDSHAKES, closed
        finally:
            for sock in stalled:
                sock.close()
    assert TLS_HANDSHAKE_DEADLINE < 30


def _closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_dripping_connections_over_the_limit_do_not_keep_a_client_out(server: Served) -> None:
    """DRIPPERS connections each send part of a request head and then a byte at a time. A valid client
    that comes after them is answered before the first of them reaches REQUEST_DEADLINE: without
    shedding it could not be accepted until then (the worker stops accepting at MAX_CONNECTIONS)."""
    selector = selectors.DefaultSelector()
    drippers: list[socket.socket] = []
    first_connected = time.monotonic()
    answered: dict[str, float] = {}
    try:
        for n in range(DRIPPERS):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", server.port))
            drippers.append(sock)
            selector.register(sock, selectors.EVENT_WRITE, n)
            if n == 0:
                first_connected = time.monotonic()
        head = b"POST /clickview/connect/token HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Drip: "
        sent: set[int] = set()

        def client() -> None:
            time.sleep(0.5)  # after the drippers have connected (ordering, not waiting for expiry)
            reply = requests.post(
                server.url + "/clickview/connect/token",
                data=FORM,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=60,  # the bound of a runaway test
            )
            answered["status"] = reply.status_code
            answered["at"] = time.monotonic()

        valid = threading.Thread(target=client)
        valid.start()
        while valid.is_alive():
            for key, _ in selector.select(timeout=0.2):
                sock = key.fileobj  # type: ignore[assignment]
                try:
                    sock.send(b"a" if key.data in sent else head)  # type: ignore[union-attr]
                    sent.add(key.data)
                except OSError:
                    selector.unregister(sock)
            time.sleep(0.05)  # drip pace
        valid.join()
        elapsed = answered["at"] - first_connected
        print(f"a valid client among {DRIPPERS} drippers answered {answered['status']} after {elapsed:.2f}s")
        assert answered["status"] == 200
        assert elapsed < REQUEST_DEADLINE, elapsed
        shed = sum(1 for sock in drippers if _shed(sock))
        print(f"{shed} drippers shed so far")
        assert shed >= 1
    finally:
        selector.close()
        for sock in drippers:
            sock.close()


def _shed(sock: socket.socket) -> bool:
    try:
        sock.setblocking(False)
        data = sock.recv(4096)
    except BlockingIOError:
        return False
    except OSError:
        return True
    return data == b"" or data.startswith(b"HTTP/1.1 408")


def test_tls_handshake_deadline_is_bounded() -> None:
    assert 0 < TLS_HANDSHAKE_DEADLINE <= 10 and ssl.HAS_TLSv1_3 is not None
