"""The proxy's listening side: a thread per connection (bounded), h11 for the HTTP/1.1 framing.

Clients are budgeted like the upstream: a request's head and body must arrive within `request_seconds`
and `max_body` bytes (413 past it), an idle keep-alive connection is closed after `idle_seconds`, and at
most `max_connections` are served at once (503 and close past it).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass

import h11

from tokenmock.mockserver.proxy.budget import HEAD_BYTES, BodyCap, BudgetExceeded, Deadline
from tokenmock.mockserver.proxy.wire import Answer, Headers


@dataclass
class Incoming:
    """A request as it arrived: method, target and headers as sent, body, peer address."""

    method: bytes
    target: bytes
    headers: Headers
    body: bytes
    framed: bool  # the client sent Content-Length or Transfer-Encoding (forwarded as Content-Length)
    peer: str


Handler = Callable[[Incoming], Answer]


@dataclass(frozen=True)
class ClientBudget:
    """What a client of the proxy may take."""

    max_body: int
    request_seconds: float = 30.0
    idle_seconds: float = 30.0
    max_connections: int = 64


def _plain(status: int, text: str) -> Answer:
    body = (text + "\n").encode()
    headers = [
        (b"Content-Type", b"text/plain; charset=utf-8"),
        (b"Content-Length", str(len(body)).encode()),
        (b"Connection", b"close"),
    ]
    return Answer(status, b"", headers, body)


class ProxyServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """A TCP server answering each connection's requests with `handler`."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, host: str, port: int, handler: Handler, budget: ClientBudget) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.handler = handler
        self.budget = budget
        self.slots = threading.BoundedSemaphore(budget.max_connections)
        super().__init__((host, port), _Connection)


class _Connection(socketserver.BaseRequestHandler):
    server: ProxyServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        if not self.server.slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                sock.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        try:
            self._serve(sock)
        except (OSError, h11.LocalProtocolError):
            pass  # the client went away mid-answer
        finally:
            self.server.slots.release()

    def _serve(self, sock: socket.socket) -> None:
        budget = self.server.budget
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=HEAD_BYTES)
        peer = str(self.client_address[0])
        while True:
            try:
                incoming = self._read(conn, sock, peer, budget)
            except h11.RemoteProtocolError as exc:
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    self._send(conn, sock, _plain(exc.error_status_hint, f"bad request: {exc}"), b"GET")
                return
            except BudgetExceeded as exc:
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE) and exc.kind == "body":
                    self._send(conn, sock, _plain(413, str(exc)), b"POST")
                return
            except TimeoutError:
                return
            if incoming is None:
                return
            try:
                answer = self.server.handler(incoming)
            except Exception:  # a defect of the proxy: the client still gets an answer, the log the traceback
                logging.getLogger("tokenmock.proxy").exception("proxy: a request could not be answered")
                answer = _plain(502, "the proxy failed; see its log")
            self._send(conn, sock, answer, incoming.method)
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return
            try:
                conn.start_next_cycle()
            except h11.LocalProtocolError:
                return

    @staticmethod
    def _read(conn: h11.Connection, sock: socket.socket, peer: str, budget: ClientBudget) -> Incoming | None:
        """The next request, or None when the client closed the connection."""
        deadline: Deadline | None = None
        cap = BodyCap(budget.max_body)
        request: h11.Request | None = None
        chunks: list[bytes] = []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                # Idle between requests: the idle budget; once a request has begun, its own deadline.
                sock.settimeout(deadline.remaining() if deadline else budget.idle_seconds)
                data = sock.recv(65536)
                if data and deadline is None:
                    deadline = Deadline(budget.request_seconds)
                conn.receive_data(data)
            elif isinstance(event, h11.ConnectionClosed):
                return None
            elif isinstance(event, h11.Request):
                request = event
                if conn.they_are_waiting_for_100_continue:
                    sock.sendall(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
            elif isinstance(event, h11.Data):
                chunks.append(cap.take(bytes(event.data)))
            elif isinstance(event, h11.EndOfMessage):
                assert request is not None
                raw = [(bytes(name), bytes(value)) for name, value in request.headers.raw_items()]
                framed = any(name.lower() in (b"content-length", b"transfer-encoding") for name, _ in raw)
                return Incoming(bytes(request.method), bytes(request.target), raw, b"".join(chunks), framed, peer)

    @staticmethod
    def _send(conn: h11.Connection, sock: socket.socket, answer: Answer, method: bytes) -> None:
        sock.settimeout(30)
        wire = conn.send(h11.Response(status_code=answer.status, reason=answer.reason, headers=answer.headers))
        if answer.body and method != b"HEAD":
            wire += conn.send(h11.Data(data=answer.body))
        wire += conn.send(h11.EndOfMessage())
        sock.sendall(wire)
