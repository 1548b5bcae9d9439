"""How the pytest plugin's servers meet malformed or hostile requests: as `tokenmock serve` does.

Both the live mock (werkzeug) and the replay server answer a request they cannot read with a status line
and a JSON body (`{"error": "invalid_request", "error_description": ...}`, `Connection: close`), never an
HTML page or a closed socket without a word; and both hold at most MAX_CONNECTIONS connections at once,
each for at most READ_DEADLINE seconds of reading, so a client that stalls cannot pile up threads.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Connections served at once by each of the plugin's servers (one thread each); more are refused with 503.
MAX_CONNECTIONS = 64
# How long a client may take to send a whole request, and how much a head and a body may hold.
READ_DEADLINE = 10.0
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024
_REQUEST_LINE = re.compile(r"[!-~]+ [^\x00-\x20\x7f]+ HTTP/1\.[01]")
_REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


class Refusal(Exception):
    """A request the server cannot read: answered with `status` and `description`, then closed."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def refusal_bytes(status: int, description: str) -> bytes:
    """A whole refusal: status line, JSON body, `Connection: close`."""
    error = "server_error" if status >= 500 else "invalid_request"
    body = json.dumps({"error": error, "error_description": description}).encode()
    reason = _REASONS.get(status, "Error")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


def refuse(conn: socket.socket, status: int, description: str) -> None:
    """Send a refusal; a client that has gone is not an error."""
    try:
        conn.settimeout(1.0)
        conn.sendall(refusal_bytes(status, description))
    except OSError:
        return


@dataclass
class RawRequest:
    """What a replay server read: method, path (with its query), headers, body."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def read_request(conn: socket.socket) -> RawRequest | None:
    """One request from `conn`, read within READ_DEADLINE and the size limits; None when the client closed
    before sending anything. Raises Refusal for a request that is malformed, too big or too slow."""
    deadline = time.monotonic() + READ_DEADLINE
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD_BYTES:
            raise Refusal(431, "the request head is too large")
        chunk = _recv(conn, deadline)
        if not chunk:
            if data:
                raise Refusal(400, "the request ended before its head did")
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if len(head) > MAX_HEAD_BYTES:
        raise Refusal(431, "the request head is too large")
    lines = head.decode("latin-1").split("\r\n")
    if not _REQUEST_LINE.fullmatch(lines[0]):
        raise Refusal(400, "malformed request line")
    method, path, _ = lines[0].split(" ")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or any(c in name for c in " \t"):
            raise Refusal(400, "malformed header line")
        headers[name] = value.strip(" \t")
    lowered = {k.lower(): v for k, v in headers.items()}
    coding = lowered.get("transfer-encoding")
    if coding is not None:
        if coding.lower() != "chunked" or "content-length" in lowered:
            raise Refusal(400, "unsupported Transfer-Encoding (only chunked, without Content-Length)")
        return RawRequest(method, path, headers, _read_chunked(conn, body, deadline))
    length_text = lowered.get("content-length", "0") or "0"
    if not length_text.isdigit() or len(length_text) > 18:
        raise Refusal(400, "malformed Content-Length")
    length = int(length_text)
    if length > MAX_BODY_BYTES:
        raise Refusal(413, f"the body is over {MAX_BODY_BYTES} bytes")
    while len(body) < length:
        chunk = _recv(conn, deadline)
        if not chunk:
            break
        body += chunk
    return RawRequest(method, path, headers, body[:length])


def _read_chunked(conn: socket.socket, data: bytes, deadline: float) -> bytes:
    body = b""
    while True:
        while b"\r\n" not in data:
            if len(data) > 1024:
                raise Refusal(400, "malformed chunk size")
            data += _more(conn, deadline)
        line, _, data = data.partition(b"\r\n")
        digits = line.split(b";", 1)[0].strip(b" \t")
        try:
            size = int(digits, 16)
        except ValueError:
            raise Refusal(400, "malformed chunk size") from None
        if size == 0:
            while b"\r\n\r\n" not in b"\r\n" + data:  # the trailers, maybe none, end with an empty line
                if len(data) > MAX_HEAD_BYTES:
                    raise Refusal(431, "the trailers are too large")
                data += _more(conn, deadline)
            return body
        if len(body) + size > MAX_BODY_BYTES:
            raise Refusal(413, f"the body is over {MAX_BODY_BYTES} bytes")
        while len(data) < size + 2:
            data += _more(conn, deadline)
        if data[size : size + 2] != b"\r\n":
            raise Refusal(400, "malformed chunk")
        body, data = body + data[:size], data[size + 2 :]


def _more(conn: socket.socket, deadline: float) -> bytes:
    chunk = _recv(conn, deadline)
    if not chunk:
        raise Refusal(400, "the request ended before its body did")
    return chunk


def _recv(conn: socket.socket, deadline: float) -> bytes:
    left = deadline - time.monotonic()
    if left <= 0:
        raise Refusal(408, "the request did not arrive in time")
    conn.settimeout(left)
    try:
        return conn.recv(65536)
    except TimeoutError:
        raise Refusal(408, "the request did not arrive in time") from None


class Slots:
    """At most MAX_CONNECTIONS connections served at once; `take()` is False when all are in use."""

    def __init__(self, size: int = MAX_CONNECTIONS) -> None:
        self._free = threading.BoundedSemaphore(size)

    def take(self) -> bool:
        return self._free.acquire(blocking=False)

    def give_back(self) -> None:
        self._free.release()


def bound_threads(server: Any, slots: Slots | None = None) -> None:
    """Make a werkzeug threaded server refuse (503) connections beyond MAX_CONNECTIONS instead of starting
    a thread for each."""
    slots = slots or Slots()
    serve_one: Callable[[Any, Any], None] = server.process_request_thread
    start_one: Callable[[Any, Any], None] = server.process_request

    def process_request(request: Any, client_address: Any) -> None:
        if not slots.take():
            refuse(request, 503, "too many connections; retry shortly")
            server.shutdown_request(request)
            return
        try:
            start_one(request, client_address)
        except Exception:
            slots.give_back()
            raise

    def process_request_thread(request: Any, client_address: Any) -> None:
        try:
            serve_one(request, client_address)
        finally:
            slots.give_back()

    server.process_request = process_request
    server.process_request_thread = process_request_thread
