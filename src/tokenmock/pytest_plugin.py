"""The tokenmock pytest plugin (entry point `pytest11`): the mock as fixtures, and a server that replays
drawn responses to fuzz a client.

Fixtures (`pytest --fixtures` shows each one's documentation):
    tokenmock_server    session-scoped live mock on 127.0.0.1; `.url` (its root, a string),
                        `.url_for(vendor)` (a vendor's base URL), `.demo(vendor)` and every control of
                        `tokenmock.mockserver.MockController` (`.fault(...)`, `.documented(...)`,
                        `.sequence(...)`, `.clock.advance(3600)`, `.requests()`, `.chaos(seed)`,
                        `.claims(...)`, `.mint(...)`...); its state is reset before every test
    tokenmock_port      the port asked for: 0 (any free port) unless pinned with `--tokenmock-port`
                        or the `tokenmock_port` ini option; the port listened on is `tokenmock_server.port`
    tokenmock_settings  the mock's settings (override it in your conftest.py)
    tokenmock_app       a fresh in-process Flask app of the mock (`.test_client()`)
    tokenmock_in_process  the mock inside the test process at the vendors' real hosts, no server and no
                        socket: `requests` and `httpx` calls to `https://auth.clickviewapp.com/...` reach it
                        (`tokenmock.testing.InProcessMock`; same controls as `tokenmock_server`)
    tokenmock_hosts     extra host -> vendor routes for it (override in your conftest.py)
    tokenmock_replay    a server that answers with whatever `tokenmock.contracts.strategies.Reply` you give it

Every controller has `assert_received(vendor, operation, times=..., form=..., ...)`, `received(...)` and
`assert_not_received(...)` (a failure prints the closest requests and what each failed). The marker
`@pytest.mark.tokenmock(settings=..., fault=..., sequence=..., chaos=..., clock=..., clients=...,
claims=...)` arms them for one test (`tokenmock.testing.markers`).

Strategies for your own client's tests: `tokenmock.contracts.strategies` (re-exported here as `strategies`).
"""

from __future__ import annotations

import contextlib
import http
import itertools
import json
import os
import select
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tokenmock import plugin_wire
from tokenmock.contracts import strategies
from tokenmock.contracts.strategies import Reply

__all__ = ["LiveMock", "ReplayServer", "Reply", "strategies"]

DEFAULT_SETTINGS: dict[str, Any] = {"validate_responses": True, "access_log": False}


class _QuietHandler(WSGIRequestHandler):
    """No werkzeug access line per request (the mock journals requests itself); malformed HTTP refused in
    JSON, as `tokenmock serve` does, not with http.server's HTML page; a silent client cut off."""

    timeout = plugin_wire.READ_DEADLINE

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.write(plugin_wire.refusal_bytes(int(code), message or http.HTTPStatus(code).phrase))


class RootUrl(str):
    """The mock's root URL, a plain string (`url + "/clickview"`); calling it with a vendor gives that
    vendor's base URL, as `LiveMock.url_for(vendor)` does (the form earlier versions documented)."""

    _live: LiveMock

    def __new__(cls, value: str, live: LiveMock) -> RootUrl:
        url = super().__new__(cls, value)
        url._live = live
        return url

    def __call__(self, vendor: str) -> str:
        """`vendor`'s base URL."""
        return self._live.url_for(vendor)


class LiveMock:
    """The mock of every vendor served over HTTP on 127.0.0.1 from a background thread.

    `url` is the server's root (`http://127.0.0.1:PORT`, `port` the port it listens on); with every
    vendor mounted (the default) a vendor's base URL is `url + "/<vendor>"`, which `url_for(vendor)` also
    gives whatever the mounting.
    """

    def __init__(self, settings: Mapping[str, Any], port: int = 0) -> None:
        from tokenmock.mockserver import MockController, create_app

        self.settings = dict(settings)
        self.app: Flask = create_app(dict(settings))
        self.mock = self.app.extensions["tokenmock"]
        # Bound here, not by werkzeug, which answers a port in use with sys.exit(): this raises OSError.
        with socket.create_server(("127.0.0.1", port)) as listener:
            self._server: BaseWSGIServer = make_server(
                "127.0.0.1", port, self.app, threaded=True, request_handler=_QuietHandler, fd=listener.fileno()
            )
        plugin_wire.bound_threads(self._server)
        self.port: int = self._server.port
        self.root = f"http://127.0.0.1:{self.port}"
        self.url = RootUrl(self.root, self)
        self._thread = threading.Thread(target=self._server.serve_forever, name="tokenmock-server", daemon=True)
        self._thread.start()
        self.control = MockController(self.root)

    def __getattr__(self, name: str) -> Any:
        """The controls (`fault`, `clock`, `requests`, `chaos`...) are the MockController's, over HTTP."""
        if name.startswith("_") or name == "control":
            raise AttributeError(name)
        return getattr(self.control, name)

    def url_for(self, vendor: str) -> str:
        """A vendor's base URL (what a client takes as `base_url`)."""
        try:
            return self.root + self.mock.mounted[vendor]
        except KeyError:
            raise ValueError(f"{vendor!r} is not served here; served: {', '.join(self.mock.mounted)}") from None

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

    @contextlib.contextmanager
    def configured(self, settings: Mapping[str, Any]) -> Iterator[LiveMock]:
        """Serve a mock built with `settings` over the current ones at the same URL for the block, then
        the previous one again (the `tokenmock` marker's `settings`)."""
        from tokenmock.mockserver import create_app

        app = create_app({**self.settings, **settings})
        previous = self.app, self.mock
        self.app, self.mock = app, app.extensions["tokenmock"]
        self._server.app = app
        try:
            yield self
        finally:
            self.app, self.mock = previous
            self._server.app = previous[0]

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
        self._slots = plugin_wire.Slots()
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
            if not self._slots.take():  # at most plugin_wire.MAX_CONNECTIONS threads
                plugin_wire.refuse(conn, 503, "too many connections; retry shortly")
                conn.close()
                continue
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
            except plugin_wire.Refusal as refusal:  # malformed, too big or too slow: as `tokenmock serve`
                plugin_wire.refuse(conn, refusal.status, refusal.description)
            except OSError:  # the client hung up: nothing left to do
                return
            finally:
                self._slots.give_back()

    @staticmethod
    def _read_request(conn: socket.socket) -> Received | None:
        raw = plugin_wire.read_request(conn)
        if raw is None:
            return None
        conn.settimeout(5)  # as before: a delivery to a client that stops reading ends
        return Received(raw.method, raw.path, raw.headers, raw.body)

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


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--tokenmock-port` and the `tokenmock_port` ini option pin the live mock's port."""
    group = parser.getgroup("tokenmock")
    group.addoption(
        "--tokenmock-port",
        type=int,
        default=None,
        metavar="PORT",
        help="port of the tokenmock_server fixture on 127.0.0.1 (default: the ini option, else any free port)",
    )
    parser.addini("tokenmock_port", "port of the tokenmock_server fixture on 127.0.0.1 (0: any free port)", default="0")


@pytest.fixture(scope="session")
def tokenmock_port(pytestconfig: pytest.Config) -> int:
    """The port asked for the live mock on 127.0.0.1; the one it listens on is `tokenmock_server.port`.

    0, any free port (then `tokenmock_server.port` is the one the kernel chose), unless pinned:
    `pytest --tokenmock-port 8080`, or `tokenmock_port = 8080` in the
    `[pytest]` ini section (`[tool.pytest.ini_options]` in pyproject.toml); the option wins. Override this
    fixture to compute one. A pinned port is one server's: pytest-xdist workers cannot share it.
    """
    option = _option(pytestconfig)
    raw = option if option is not None else _ini(pytestconfig)
    port = _whole_number(raw)
    if port is None:
        pytest.fail(f"tokenmock_port: {raw!r} is not a port number", pytrace=False)
    if not 0 <= port <= 65535:
        pytest.fail(f"tokenmock_port: {port} is not a port number (0-65535)", pytrace=False)
    return port


def _whole_number(raw: Any) -> int | None:
    """`raw` as an int, or None (so the caller fails outside an exception handler, unchained)."""
    try:
        return int(raw)
    except ValueError:
        return None


def _option(config: pytest.Config) -> int | None:
    """The command line's `--tokenmock-port` (None where the plugin was loaded after option parsing)."""
    value = config.getoption("tokenmock_port", default=None)
    return None if value is None else int(value)


def _ini(config: pytest.Config) -> str:
    try:
        return str(config.getini("tokenmock_port")).strip() or "0"
    except ValueError:  # the plugin was loaded too late to declare its ini option
        return "0"


@pytest.fixture(scope="session")
def tokenmock_settings() -> dict[str, Any]:
    """The mock's settings, as `tokenmock.mockserver.create_app` takes them (the configuration file's keys).

    Default: every vendor, response validation on, no access log. Override it in your conftest.py,
    session-scoped, to change vendors, readings, clients or lifetimes for `tokenmock_server` and
    `tokenmock_app`.
    """
    return dict(DEFAULT_SETTINGS)


@pytest.fixture(scope="session")
def tokenmock_server(tokenmock_settings: dict[str, Any], tokenmock_port: int) -> Iterator[LiveMock]:
    """The mock of every vendor over HTTP on 127.0.0.1, one for the session, reset before each test.

    `tokenmock_server.url` is its root and `.port` its port (`url + "/clickview"` is ClickView's base
    URL; `url_for(vendor)` gives it too), `.demo(vendor)` the demo credentials. The controls act on it
    over its admin API:
    `.fault(vendor, operation, kind, times=..., **params)`, `.clock.advance(seconds)` / `.clock.freeze(at)`,
    `.requests(vendor=..., operation=..., limit=...)` (the journal), `.chaos(seed)`, `.add_client(...)`,
    `.revoke(token)`. Every test starts with no tokens, faults, journal entries or chaos, and real time.
    """
    try:
        server = LiveMock(tokenmock_settings, tokenmock_port)
    except OSError as exc:
        error = f"tokenmock_server cannot listen on 127.0.0.1:{tokenmock_port}: {exc.strerror}"
    else:
        error = ""
    if error:  # failed outside the handler: pytest would otherwise print the message twice, chained
        if tokenmock_port and os.environ.get("PYTEST_XDIST_WORKER"):
            error += " (a pinned port cannot be shared by pytest-xdist workers: leave it unpinned with -n)"
        pytest.fail(error, pytrace=False)
    _LIVE.append(server)
    yield server
    _LIVE.remove(server)
    server.stop()


# Live mocks of this session, reset before each test by the autouse fixture below.
_LIVE: list[LiveMock] = []
# The fixtures a `tokenmock` marker acts on.
_MARKED_FIXTURES = ("tokenmock_server", "tokenmock_in_process", "tokenmock_app")


def pytest_configure(config: pytest.Config) -> None:
    """Register the `tokenmock` marker (`pytest --markers` shows it)."""
    config.addinivalue_line(
        "markers",
        "tokenmock(settings=None, fault=None, sequence=None, chaos=None, clock=None, clients=None, claims=None): "
        "the mock's settings, faults, sequences, chaos, clock, runtime clients and token claims for this test, "
        "undone after it "
        "(with tokenmock_server, tokenmock_in_process or tokenmock_app; see tokenmock.testing.markers)",
    )


def _plan(request: pytest.FixtureRequest) -> Any:
    """The test's `tokenmock` markers, checked (a mistake fails the test before it runs)."""
    from tokenmock.testing import markers

    marks = [(mark.args, mark.kwargs) for mark in request.node.iter_markers("tokenmock")]
    try:
        return markers.plan(marks)
    except markers.MarkerError as exc:
        error = str(exc)
    # Failed outside the handler: pytest would otherwise print the message twice, chained.
    pytest.fail(error, pytrace=False)


@pytest.fixture(autouse=True)
def _tokenmock_reset(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts from a clean mock: no tokens, faults or journal entries left by another test; a
    `tokenmock` marker is applied to the live server for the test and undone after it."""
    for running in _LIVE:
        running.reset()
    if not any(True for _ in request.node.iter_markers("tokenmock")):
        yield
        return
    plan = _plan(request)
    if not any(name in request.fixturenames for name in _MARKED_FIXTURES):
        pytest.fail(
            "@pytest.mark.tokenmock needs one of the fixtures " + ", ".join(_MARKED_FIXTURES), pytrace=False
        )
    if "tokenmock_server" not in request.fixturenames:
        yield
        return
    from tokenmock.testing import markers

    server: LiveMock = request.getfixturevalue("tokenmock_server")
    with server.configured(plan.settings) if plan.settings else contextlib.nullcontext(server):
        markers.apply(plan, server.control)
        try:
            yield
        finally:
            server.reset()


@pytest.fixture
def tokenmock_app(tokenmock_settings: dict[str, Any], request: pytest.FixtureRequest) -> Flask:
    """A fresh in-process mock (Flask app) for one test, no server: `tokenmock_app.test_client().post(...)`.

    Built from `tokenmock_settings` (and a `tokenmock` marker's); `tokenmock_app.extensions["tokenmock"]`
    is the mock itself.
    """
    from tokenmock.mockserver import create_app

    plan = _plan(request)
    app = create_app({**tokenmock_settings, **plan.settings})
    if plan:
        from tokenmock.testing import markers
        from tokenmock.testing.inprocess import controller_of

        markers.apply(plan, controller_of(app))
    return app


@pytest.fixture(scope="session")
def tokenmock_hosts() -> dict[str, str]:
    """Hosts `tokenmock_in_process` routes besides the documented ones: `{host: vendor}`.

    Vision10 documents no host (its placeholder `api.vision10.invalid` is routed) and AminoTV's
    `customer.domain` stands for each customer's own: override this fixture in your conftest.py with the
    hosts your code calls, e.g. `{"api.vision10.example.com": "vision10"}`.
    """
    return {}


@pytest.fixture(scope="session")
def _tokenmock_in_process_shared() -> dict[str, Any]:
    """In-process mocks of this session by (settings, hosts): one each, however the fixtures that give
    them are overridden (in a conftest.py, a module, a class)."""
    return {}


# Loopback traffic (a live mock, a local service) is never routed in-process nor refused.
LOOPBACK = ("http://127.0.0.1", "https://127.0.0.1", "http://localhost", "https://localhost", "http://[::1]")


@pytest.fixture
def tokenmock_in_process(
    request: pytest.FixtureRequest,
    tokenmock_settings: dict[str, Any],
    tokenmock_hosts: dict[str, str],
    _tokenmock_in_process_shared: dict[str, Any],
) -> Iterator[Any]:
    """The mock of every vendor inside the test process, answering the vendors' documented hosts: no
    server, no port, no socket.

    For the test, every `requests` call (`requests.post(...)`, any session) and every `httpx` call (sync
    or async clients) to a vendor's host (`https://auth.clickviewapp.com/connect/token`,
    `https://integrations.clickviewapp.com/api/v1/example`, `https://rest.dive.tv/v1/token`...) is
    answered by the mock, routed by host (`tokenmock_hosts` adds hosts); other hosts are refused, loopback
    ones pass. The controls are `tokenmock_server`'s: `.fault(...)`, `.documented(...)`, `.sequence(...)`,
    `.clock.advance(...)`, `.requests()`, `.assert_received(...)`; `.url_for(vendor)` is the vendor's
    documented base URL. A wire fault raises what the client library raises for it
    (`requests.ConnectionError`, `httpx.ReadError`, `httpx.RemoteProtocolError`, a read timeout).
    """
    from tokenmock.testing import InProcessMock, markers

    plan = _plan(request)
    settings = {**tokenmock_settings, **plan.settings}
    key = json.dumps([settings, tokenmock_hosts], sort_keys=True, default=repr)
    mock = _tokenmock_in_process_shared.get(key)
    if mock is None:
        mock = _tokenmock_in_process_shared[key] = InProcessMock(settings, hosts=tokenmock_hosts)
    mock.reset()
    markers.apply(plan, mock.control)
    try:
        with mock.activate(passthrough=LOOPBACK):
            yield mock
    finally:
        mock.reset()


@pytest.fixture(scope="session")
def tokenmock_replay() -> Iterator[ReplayServer]:
    """A server on 127.0.0.1 that answers every request with the `Reply` you give it, to fuzz a client.

    `tokenmock_replay.play(reply, routes={path: reply})` sets the answers, delivered as each reply says
    (complete, truncated, stalled, dripped, silent, reset, garbage); draw them from
    `tokenmock.contracts.strategies` (`hostile_replies`, ...). `.url` is its root, `.received` what came in.
    """
    server = ReplayServer()
    yield server
    server.close()
