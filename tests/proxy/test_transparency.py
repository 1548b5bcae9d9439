"""Byte for byte: what the client sends is what the upstream receives, and the upstream's answer is what
the client gets, except for what RFC 9110 §7.6.1 makes hop-by-hop (and Host, set to the upstream's)."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

from tests.proxy.conftest import Proxied
from tests.proxy.upstreams import RawUpstream, answer, read_request

BODY = b"grant_type=client_credentials&client_id=a%2Bb+c&client_secret=s%C3%A9cr%E9t&scope=x%20y\x00\xff"
REQUEST = (
    b"POST /connect/token?x=%2F%2f&y=a+b&z=%C3%A9 HTTP/1.1\r\n"
    b"hOsT: 127.0.0.1:1\r\n"
    b"X-Weird-CASE: Value  with   spaces\r\n"
    b"content-type: application/x-www-form-urlencoded\r\n"
    b"X-Repeated: one\r\n"
    b"X-Repeated: two\r\n"
    b"Connection: keep-alive, X-Hop\r\n"
    b"X-Hop: dropped because Connection names it\r\n"
    b"Keep-Alive: timeout=5\r\n"
    b"TE: trailers\r\n"
    b"Proxy-Authorization: Basic c2VjcmV0OnNlY3JldA==\r\n"
    b"Upgrade: h2c\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)
ANSWER_BODY = b'{"access_token":"opaque-token-value","token_type":"Bearer","expires_in":60,"scope":"x"}'
ANSWER = (
    b"HTTP/1.1 200 Fine By Me\r\n"
    b"set-cookie: a=1; Path=/\r\n"
    b"Set-Cookie: b=2\r\n"
    b"X-Upstream-Case: kept\r\n"
    b"Content-Type: application/json\r\n"
    b"Cache-Control: no-store\r\n"
    b"Connection: close, X-Private\r\n"
    b"X-Private: hop\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
    + hex(len(ANSWER_BODY))[2:].encode()
    + b"\r\n"
    + ANSWER_BODY
    + b"\r\n0\r\n\r\n"
)


def exchange(url: str, raw: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_request_and_answer_pass_unchanged(proxied: Callable[..., Proxied]) -> None:
    upstream = RawUpstream(answer(ANSWER))
    try:
        running = proxied("clickview", upstream.url + "/prefix")
        got = exchange(running.url, REQUEST.replace(b"Connection: keep-alive", b"Connection: close"))
    finally:
        upstream.stop()
    sent = upstream.received[0]
    head, _, body = sent.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    # The request line's target as sent (percent-encodings of either case, `+`), under the upstream's prefix.
    assert lines[0] == b"POST /prefix/connect/token?x=%2F%2f&y=a+b&z=%C3%A9 HTTP/1.1"
    assert body == BODY
    assert lines[1:] == [
        b"hOsT: 127.0.0.1:" + str(upstream.port).encode(),  # in the client's place and spelling
        b"X-Weird-CASE: Value  with   spaces",
        b"content-type: application/x-www-form-urlencoded",
        b"X-Repeated: one",
        b"X-Repeated: two",
        b"Content-Length: " + str(len(BODY)).encode(),
        b"Connection: close",
    ]
    status, _, rest = got.partition(b"\r\n")
    answer_head, _, answer_body = rest.partition(b"\r\n\r\n")
    assert status == b"HTTP/1.1 200 Fine By Me"
    assert answer_body == ANSWER_BODY
    names = [line.split(b":")[0] for line in answer_head.split(b"\r\n")]
    assert names[:5] == [b"set-cookie", b"Set-Cookie", b"X-Upstream-Case", b"Content-Type", b"Cache-Control"]
    assert b"X-Private" not in names and b"Transfer-Encoding" not in names
    assert f"Content-Length: {len(ANSWER_BODY)}".encode() in answer_head.split(b"\r\n")


def test_keep_alive_connection_carries_several_requests(proxied: Callable[..., Proxied]) -> None:
    upstream = RawUpstream(answer(b"HTTP/1.1 204 No Content\r\n\r\n"))
    try:
        running = proxied("clickview", upstream.url)
        host, port = running.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            for _ in range(3):
                sock.sendall(b"GET /api/v1/example HTTP/1.1\r\nHost: x\r\n\r\n")
                assert read_request(sock).startswith(b"HTTP/1.1 204 No Content\r\n")
    finally:
        upstream.stop()
    assert len(upstream.received) == 3


def test_head_keeps_the_upstreams_length(proxied: Callable[..., Proxied]) -> None:
    upstream = RawUpstream(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/plain\r\n\r\n"))
    try:
        running = proxied("clickview", upstream.url)
        got = exchange(running.url, b"HEAD /api/v1/example HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    finally:
        upstream.stop()
    assert b"Content-Length: 1234" in got and got.endswith(b"\r\n\r\n")


def test_a_chunked_request_arrives_de_chunked_byte_for_byte(proxied: Callable[..., Proxied]) -> None:
    upstream = RawUpstream(answer(b"HTTP/1.1 204 No Content\r\n\r\n"))
    chunked = b"POST /connect/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    chunked += b"5\r\nab\x00\xffc\r\n3\r\n+%2\r\n0\r\n\r\n"
    try:
        running = proxied("clickview", upstream.url)
        assert exchange(running.url, chunked).startswith(b"HTTP/1.1 204 No Content\r\n")
    finally:
        upstream.stop()
    head, _, body = upstream.received[0].partition(b"\r\n\r\n")
    assert body == b"ab\x00\xffc+%2"
    assert b"Content-Length: 8" in head.split(b"\r\n") and b"Transfer-Encoding" not in head


def test_the_control_page_and_journal_show_proxied_traffic(proxied: Callable[..., Proxied]) -> None:
    upstream = RawUpstream(answer(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
    try:
        running = proxied("clickview", upstream.url)
        exchange(running.url, b"GET /nowhere?token=abcdefgh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    finally:
        upstream.stop()
    page = exchange(running.url, b"GET /__mock/ui HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert page.startswith(b"HTTP/1.1 200") and b"<html" in page.lower()
    journal = exchange(running.url, b"GET /__mock/requests HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    (entry,) = json.loads(journal.partition(b"\r\n\r\n")[2])["requests"]
    assert (entry["path"], entry["status"], entry["operation"]) == ("/nowhere", 404, None)
    assert entry["query"] == {"token": "***"} and entry["upstream"] == upstream.url
    assert entry["answered_by"] == "upstream"
    assert entry["drift"] == ["request: unknown_operation: GET /nowhere is not an operation of the contract"]
