"""The tokenmock pytest plugin (entry point `pytest11`): the mock as fixtures, and a server that replays
drawn responses to fuzz a client.

Fixtures:
    tokenmock_settings  the mock's settings (override it in your conftest.py)
    tokenmock_server    session-scoped live mock on 127.0.0.1; `.url(vendor)`, `.demo(vendor)` and every
                        control of `mockserver.MockController` (`.fault(...)`, `.documented(...)`,
                        `.sequence(...)`, `.clock.advance(3600)`, `.requests()`, `.chaos(seed)`...); its
                        state is reset before every test
    tokenmock_app       a fresh in-process Flask app of the mock (`.test_client()`)
    tokenmock_replay    a server that answers with whatever `contracts.strategies.Reply` you give it

Strategies for your own client's tests: `contracts.strategies` (re-exported here as `strategies`).
"""

from __future__ import annotations

import contextlib
import http
import itertools
import select
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tokenmock.contracts import strategies
from tokenmock.contracts.strategies import Reply

__all__ = ["LiveMock", "ReplayServer", "Reply", "strategies"]

DEFAULT_SETTINGS: dict[str, Any] = {"validate_responses": True, "access_log": False}


class _QuietHandler(WSGIRequestHandler):
    """No werkzeug access line per request (the mock journals requests itself)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class LiveMock:
    """The mock of every vendor served over HTTP on 127.0.0.1 from a background thread."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        from tokenmock.mockserver import MockController, create_app

        self.app: Flask = create_app(dict(settings))
        self.mock = self.app.extensions["tokenmock"]
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, self.app, threaded=True, request_handler=_QuietHandler
        )
        self.root = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="tokenmock-server", daemon=True)
        self._thread.start()
        self.control = MockController(self.root)

    def __getattr__(self, name: str) -> Any:
        """The controls (`fault`, `clock`, `requests`, `chaos`...) are the MockController's, over HTTP."""
        if name.startswith("_") or name == "control":
            raise AttributeError(name)
        return getattr(self.control, name)

    def url(self, vendor: str) -> str:
        """A vendor's base URL (what a client takes as `base_url`)."""
        return self.root + self.mock.mounted[vendor]

    @property
    def vendors(self) -> tuple[str, ...]:
        """The vendors served."""
        return tuple(self.mock.mounted)

    def demo(self, vendor: str) -> dict[str, Any]:
        """The vendor's demo credentials (also listed at `GET /`)."""
        return dict(self.mock.vendors[vendor].settings.get("demo", {}))

    def reset(self) -> None:
        """Forget tokens, faults, journal and runtime clients; real time again."""
        self.mock.reset()

    def stop(self) -> None:
        """Shut the server down."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@dataclass
class Received:
    """A request the replay server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ReplayServer:
    """Answers every request with a given `Reply`, delivered as the reply says (complete, truncated,
    stalled, dripped, silent, reset, garbage). `play(reply, routes={path: reply})` sets what comes next."""

    drip_interval: float = 0.05
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._default: Reply | None = None
        self._routes: dict[str, Reply] = {}
        self._thread = threading.Thread(target=self._accept, name="tokenmock-replay", daemon=True)
        self._thread.start()

    def play(self, reply: Reply, routes: Mapping[str, Reply] | None = None) -> None:
        """Answer requests to `routes` paths with their reply, every other request with `reply`."""
        with self._lock:
            self._default, self._routes = reply, dict(routes or {})
            self.received.clear()

    def close(self) -> None:
        """Stop accepting; stalled and dripping connections end too."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self._listener.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                request = self._read_request(conn)
                if request is None:
                    return
                with self._lock:
                    self.received.append(request)
                    reply = self._routes.get(request.path.split("?", 1)[0], self._default)
                if reply is not None:
                    self._deliver(conn, reply)
            except OSError:  # the client hung up: nothing left to do
                return

    @staticmethod
    def _read_request(conn: socket.socket) -> Received | None:
        conn.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path = [*lines[0].split(" ", 2), "", ""][:2]
        headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0") or 0)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return Received(method, path, headers, body)

    def _head(self, reply: Reply, length: int | None) -> bytes:
        try:
            phrase = http.HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = "Unknown"
        headers = [(k, v) for k, v in reply.headers if k.lower() not in ("content-length", "connection")]
        if length is not None:
            headers.append(("Content-Length", str(length)))
        headers.append(("Connection", "close"))
        lines = [f"HTTP/1.1 {reply.status} {phrase}", *(f"{k}: {v}" for k, v in headers)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _deliver(self, conn: socket.socket, reply: Reply) -> None:
        body, mode = reply.body, reply.delivery
        if mode == "complete":
            conn.sendall(self._head(reply, len(body)) + body)
        elif mode == "truncated":
            conn.sendall(self._head(reply, len(body) + 64) + body)
        elif mode == "stall":
            conn.sendall(self._head(reply, len(body)) + body[: len(body) // 2])
            self._until_client_leaves(conn)
        elif mode == "drip":
            conn.sendall(self._head(reply, 10**9))
            stream = itertools.chain(body, itertools.repeat(ord(" ")))
            while not self._stop.wait(self.drip_interval):  # a server streaming forever, a byte at a time
                conn.sendall(bytes([next(stream)]))
        elif mode == "silent":
            self._until_client_leaves(conn)
        elif mode == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        elif mode == "garbage":
            conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\x00\xff garbage\r\n\r\n")
        else:
            raise ValueError(f"unknown delivery {mode!r}")

    def _until_client_leaves(self, conn: socket.socket) -> None:
        """Hold the connection open, sending nothing, until the client closes it (or the server stops)."""
        while not self._stop.is_set():
            readable, _, _ = select.select([conn], [], [], 0.05)
            if readable and not conn.recv(65536):
                return


@pytest.fixture(scope="session")
def tokenmock_settings() -> dict[str, Any]:
    """The mock's settings (create_app config); override this fixture to change vendors, readings..."""
    return dict(DEFAULT_SETTINGS)


@pytest.fixture(scope="session")
def tokenmock_server(tokenmock_settings: dict[str, Any]) -> Iterator[LiveMock]:
    """The mock on 127.0.0.1 for the whole session; reset before each test that uses it."""
    server = LiveMock(tokenmock_settings)
    _LIVE.append(server)
    yield server
    _LIVE.remove(server)
    server.stop()


# Live mocks of this session, reset before each test by the autouse fixture below.
_LIVE: list[LiveMock] = []


@pytest.fixture(autouse=True)
def _tokenmock_reset() -> None:
    """Each test starts from a clean mock: no tokens, faults or journal entries left by another test."""
    for server in _LIVE:
        server.reset()


@pytest.fixture
def tokenmock_app(tokenmock_settings: dict[str, Any]) -> Flask:
    """A fresh in-process mock (Flask app) for one test: `tokenmock_app.test_client()`."""
    from tokenmock.mockserver import create_app

    return create_app(dict(tokenmock_settings))


@pytest.fixture(scope="session")
def tokenmock_replay() -> Iterator[ReplayServer]:
    """A server that replays drawn `Reply`s (for fuzzing a client with `contracts.strategies`)."""
    server = ReplayServer()
    yield server
    server.close()
