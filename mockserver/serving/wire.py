"""Wire-level faults: what a broken server or network does to a response after the handler answered.

The WSGI server's own socket is reached through the environ key it publishes (gunicorn's
`gunicorn.socket`, werkzeug's `werkzeug.socket`); without one (an in-process test client) the fault
surfaces as an exception from the response body, which is what a client would see as a broken read.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import ssl
import struct
import time
from collections.abc import Iterator, Mapping
from typing import Any

from flask import Response

# What `not_http` sends instead of a response: an SSH banner, a NUL and bytes invalid in any text.
NOT_HTTP = b"SSH-2.0-OpenSSH_9.6\r\n\x00\xff\xfe garbage \x80\x81\r\n\r\n"
# How often a held connection looks for the client's hang-up.
HOLD_POLL = 0.05


class WireFault(ConnectionError):
    """Raised from a response body to abort the connection mid-response.

    It carries ENOTCONN (the mock shut the socket itself), which WSGI servers take as a client that went
    away: gunicorn logs it at debug level instead of a traceback per injected fault.
    """

    def __init__(self, message: str) -> None:
        super().__init__(errno.ENOTCONN, message)


def _socket_of(environ: Mapping[str, Any]) -> socket.socket | None:
    for key in ("gunicorn.socket", "werkzeug.socket"):
        sock = environ.get(key)
        if isinstance(sock, socket.socket):
            return sock
    return None


def _kill(environ: Mapping[str, Any], reset: bool) -> None:
    """End the client connection now, before any byte of the response.

    A reset is a close with linger 0 and nothing before it: the kernel then sends RST, and the client's
    read fails with ECONNRESET. A shutdown first would send FIN, a clean end of stream the client cannot
    tell from `empty_response`. The descriptor is taken from the socket object (`detach`), so the server's
    own later close of that object touches nothing (no other socket can have reused the number by then
    through this object). Without a reset, shutdown() ends the connection at once even while the server
    still holds the socket.
    """
    sock = _socket_of(environ)
    if sock is None:
        return
    try:
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            os.close(sock.detach())
        else:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _aborting(environ: Mapping[str, Any], reset: bool) -> Iterator[bytes]:
    _kill(environ, reset)
    raise WireFault("connection closed by an injected fault")
    yield b""  # pragma: no cover - makes this a generator


def _truncated(data: bytes, environ: Mapping[str, Any]) -> Iterator[bytes]:
    yield data[: max(1, len(data) // 2)]
    sock = _socket_of(environ)
    if sock is not None:  # make sure the half body is the last the client gets on this connection
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
    raise WireFault("body truncated by an injected fault")


def _held(data: bytes, environ: Mapping[str, Any], seconds: float) -> Iterator[bytes]:
    """Send `data` (the head with it), then nothing until the client hangs up or `seconds` pass."""
    sock = _socket_of(environ)
    if sock is None:  # no socket to hold: an in-process client would wait for ever
        raise WireFault("connection stalled by an injected fault")
    if data:
        yield data
    _wait_for_hangup(sock, seconds)
    _kill(environ, reset=False)
    raise WireFault("connection stalled by an injected fault")


def _wait_for_hangup(sock: socket.socket, seconds: float) -> None:
    """Block until the peer closes the connection or `seconds` pass (bytes it sends meanwhile stay unread).

    Under TLS the socket is an `ssl.SSLSocket`, which refuses recv flags: the peek goes through a
    duplicate of its descriptor, which sees the same TCP stream without touching the TLS state."""
    if isinstance(sock, ssl.SSLSocket):
        raw = socket.socket(sock.family, sock.type, fileno=os.dup(sock.fileno()))
        try:
            _wait_for_hangup(raw, seconds)
        finally:
            raw.close()
        return
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([sock], [], [], min(left, HOLD_POLL))
        if not readable:
            continue
        try:
            if not sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
                return  # end of stream: the client gave up
        except BlockingIOError:
            continue
        except OSError:
            return
        time.sleep(min(left, HOLD_POLL))  # pipelined bytes wait in the buffer; don't spin on them


def _not_http(environ: Mapping[str, Any]) -> Iterator[bytes]:
    """Bytes that are no HTTP response, straight onto the socket, then close (WireMock's
    RANDOM_DATA_THEN_CLOSE)."""
    sock = _socket_of(environ)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.sendall(NOT_HTTP)
    _kill(environ, reset=False)
    raise WireFault("garbage sent by an injected fault")
    yield b""  # pragma: no cover - makes this a generator


def _dripping(data: bytes, chunk: int, interval: float) -> Iterator[bytes]:
    for start in range(0, len(data), chunk):
        if start:
            time.sleep(interval)
        yield data[start : start + chunk]


# Where `play` notes the fault it plays (`{"kind", "params", "body"}`), for a caller with no socket (the
# in-process mock of tokenmock.testing), which raises what the client library raises for it instead.
PLAYED = "tokenmock.wire_fault"


def play(kind: str, params: Mapping[str, Any], response: Response, environ: Mapping[str, Any]) -> Response:
    """Turn a finished response into the faulty one."""
    data = response.get_data()
    if isinstance(environ, dict):
        environ[PLAYED] = {"kind": kind, "params": dict(params), "body": data}
    if kind in ("connection_reset", "empty_response"):
        broken = Response(_aborting(environ, reset=kind == "connection_reset"), status=response.status_code)
        return broken
    if kind == "not_http":
        return Response(_not_http(environ), status=response.status_code)
    if kind == "no_answer":
        return Response(_held(b"", environ, float(params["seconds"])), status=response.status_code)
    if kind == "stalled_body":
        response.response = _held(data[: len(data) // 2], environ, float(params["seconds"]))
    elif kind == "truncated_body":
        response.response = _truncated(data, environ)
    elif kind == "slow_drip":
        response.response = _dripping(data, int(params["chunk_bytes"]), float(params["interval_ms"]) / 1000)
    response.headers["Content-Length"] = str(len(data))
    return response
