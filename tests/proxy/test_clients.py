"""The proxy's own budgets for its clients: body cap, connection count, a request's deadline."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from tests.proxy.conftest import Proxied
from tests.proxy.upstreams import RawUpstream, answer, read_request

OK = b"HTTP/1.1 204 No Content\r\n\r\n"


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def test_a_body_over_the_cap_is_413_and_never_forwarded(proxied: Callable[..., Proxied]) -> None:
    upstream = RawUpstream(answer(OK))
    try:
        running = proxied("clickview", upstream.url, max_body=1000)
        with connect(running.url) as sock:
            sock.sendall(b"POST /connect/token HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"a" * 5000)
            assert read_request(sock).startswith(b"HTTP/1.1 413 ")
    finally:
        upstream.stop()
    assert upstream.received == []


def test_connections_past_the_limit_get_503(proxied: Callable[..., Proxied]) -> None:
    upstream = RawUpstream(answer(OK))
    try:
        running = proxied("clickview", upstream.url, max_connections=2)
        held = [connect(running.url) for _ in range(2)]
        for sock in held:  # both served once, and kept open
            sock.sendall(b"GET /api/v1/example HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_request(sock).startswith(b"HTTP/1.1 204")
        with connect(running.url) as third:
            assert third.recv(1024).startswith(b"HTTP/1.1 503 ")
        for sock in held:
            sock.close()
    finally:
        upstream.stop()


def test_a_request_dripped_past_its_deadline_is_dropped(proxied: Callable[..., Proxied]) -> None:
    upstream = RawUpstream(answer(OK))
    try:
        running = proxied("clickview", upstream.url, seconds=0.5)
        with connect(running.url) as sock:
            closed = False
            for byte in b"GET /api/v1/example HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"y" * 200:
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    closed = True
                    break
                time.sleep(0.02)  # the slow client's own pace, not a wait for the proxy
                sock.settimeout(0.001)
                try:
                    if sock.recv(1) == b"":
                        closed = True
                        break
                except TimeoutError:
                    pass
            assert closed
    finally:
        upstream.stop()
    assert upstream.received == []


def test_forward_proxy_requests_are_refused(proxied: Callable[..., Proxied]) -> None:
    upstream = RawUpstream(answer(OK))
    try:
        running = proxied("clickview", upstream.url)
        for line in (b"GET http://elsewhere.example/ HTTP/1.1", b"CONNECT elsewhere.example:443 HTTP/1.1"):
            with connect(running.url) as sock:
                sock.sendall(line + b"\r\nHost: elsewhere.example\r\nConnection: close\r\n\r\n")
                assert read_request(sock).startswith(b"HTTP/1.1 400 ")
    finally:
        upstream.stop()
    assert upstream.received == []
