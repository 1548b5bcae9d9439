"""Upstreams written on bare sockets: they record the bytes they receive and answer with bytes a test
chose (well-formed, odd, slow, huge or hostile), optionally over TLS."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable

Script = Callable[[socket.socket, bytes], None]


def read_request(sock: socket.socket, limit: int = 1 << 20) -> bytes:
    """One request's bytes: the head, then Content-Length bytes of body."""
    data = b""
    while b"\r\n\r\n" not in data and len(data) < limit:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class RawUpstream:
    """A one-thread-per-connection server on 127.0.0.1 answering every request with `script`."""

    def __init__(self, script: Script, tls: ssl.SSLContext | None = None) -> None:
        self.script = script
        self.tls = tls
        self.received: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{'localhost' if self.tls else '127.0.0.1'}:{self.port}"

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_side=True)
            sock.settimeout(10)
            request = read_request(sock)
            self.received.append(request)
            self.script(sock, request)
        except (OSError, ssl.SSLError):
            pass
        finally:
            sock.close()

    def stop(self) -> None:
        self.stopped.set()
        self.listener.close()


def answer(raw: bytes) -> Script:
    """A script sending `raw` and closing."""
    return lambda sock, request: sock.sendall(raw)


def drip(raw: bytes, every: float, stop: threading.Event) -> Script:
    """A script sending `raw` a byte at a time, `every` seconds apart, until done or `stop` is set."""

    def script(sock: socket.socket, request: bytes) -> None:
        for byte in raw:
            if stop.is_set():
                return
            sock.sendall(bytes([byte]))
            time.sleep(every)  # the hostile upstream's own pace, not a test waiting for something

    return script


def flood(head: bytes, total: int) -> Script:
    """A script sending `head` and then `total` bytes of body (or until the reader goes away)."""

    def script(sock: socket.socket, request: bytes) -> None:
        sock.sendall(head)
        block = b"x" * 65536
        sent = 0
        while sent < total:
            sock.sendall(block)
            sent += len(block)

    return script
