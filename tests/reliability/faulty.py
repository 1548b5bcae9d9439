"""A token server that fails in one chosen way, on a raw socket, counting the requests it gets."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable

Behaviour = Callable[[socket.socket, threading.Event], None]


def _reply(status: int, body: bytes, content_type: str = "application/json", extra: str = "") -> bytes:
    head = (
        f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        f"Connection: close\r\n{extra}\r\n"
    )
    return head.encode() + body


def answer(data: bytes) -> Behaviour:
    def play(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(data)

    return play


def reset(conn: socket.socket, stop: threading.Event) -> None:
    """RST instead of an answer."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def hang_up(conn: socket.socket, stop: threading.Event) -> None:
    """Close without a byte."""


def stall(conn: socket.socket, stop: threading.Event) -> None:
    """Keep the connection and say nothing."""
    stop.wait(30)


def stall_after_status(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    stop.wait(30)


def drip(conn: socket.socket, stop: threading.Event) -> None:
    """A valid answer, one byte every 100 ms: each read succeeds, the whole never arrives in time."""
    for byte in _reply(200, b'{"access_token":"x","token_type":"Bearer","expires_in":60}'):
        if stop.wait(0.1):
            return
        conn.sendall(bytes([byte]))


def endless(conn: socket.socket, stop: threading.Event) -> None:
    """200 with a chunked body that never ends."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"4000\r\n" + b"[" * 0x4000 + b"\r\n"
    while not stop.is_set():
        conn.sendall(chunk)


def truncated(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"access_')


BEHAVIOURS: dict[str, Behaviour] = {
    "reset": reset,
    "hang up": hang_up,
    "stall": stall,
    "stall after the status line": stall_after_status,
    "drip": drip,
    "500 forever": answer(_reply(500, b'{"error":"server_error"}')),
    "503 forever": answer(_reply(503, b"<html>down</html>", "text/html", "Retry-After: 2\r\n")),
    "429 forever": answer(_reply(429, b'{"error":"slow_down"}', extra="Retry-After: 1\r\n")),
    "not HTTP": answer(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03 garbage \x00\xff" * 4),
    "HTML page": answer(_reply(200, b"<!doctype html><title>login</title>", "text/html")),
    "JSON of the wrong shape": answer(_reply(200, b'{"token": 42}')),
    "truncated body": truncated,
    "endless body": endless,
}


class FaultyServer:
    """Accepts on 127.0.0.1, reads each request head, then behaves as told."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.hits = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                with self._lock:
                    self.hits += 1
                self.behaviour(conn, self._stop)
            except OSError:
                pass  # the client gave up: what a deadline is for

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()
        self._acceptor.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)
