"""Serving the mock on gunicorn (a production WSGI server), with the logging the mock needs."""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import logging
import logging.handlers
import mmap
import os
import re
import selectors
import socket
import ssl
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn import http as http_parser
from gunicorn import sock as gsock
from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.http import errors as http_errors
from gunicorn.http import wsgi
from gunicorn.workers import gthread

from tokenmock.mockserver.controls.journal import flush_all as flush_journals
from tokenmock.mockserver.serving.logpump import configure_logging as configure_logging  # (the CLI imports it here)
from tokenmock.mockserver.serving.logpump import stop_logging

# Any WSGI callable (`serve --reload` serves a wrapper that swaps Flask apps).
WSGIApp = Callable[..., Any]

# How long a client may take to deliver a whole request (head, and a body within the size limit), and
# the longest pause in reading a body once the request runs (a chunked body over the size limit, an
# `Expect: 100-continue` body). A slower client is cut off instead of holding a request thread.
REQUEST_DEADLINE = 10.0
BODY_READ_TIMEOUT = 5.0
# How long a TLS client may take over its handshake, all of it (a ClientHello sent in part and then held
# back used to hold a request thread for as long as the client liked). The handshake runs in the poller.
TLS_HANDSHAKE_DEADLINE = 5.0
# Open connections per worker (gunicorn's worker_connections). When a worker holds this many, it sheds the
# idle ones (kept alive, no request) first, then the slow ones (a request still arriving, answered 408),
# oldest first, down to MAX_CONNECTIONS - SHED_SPARE, so new clients are accepted instead of waiting.
MAX_CONNECTIONS = 1000
SHED_SPARE = 50
# A closed connection is drained for at most this long (RFC 9112 §9.6), in the poller, not in a thread.
LINGER = 2.0
_LINGER_BYTES = 64 * 1024
_RECV_BYTES = 16 * 1024  # per recv() (each allocates this much; larger sizes cost an mmap)
# How far a request has come: wait for more, whole (nothing left to read), or hand it over anyway.
_WAIT, _WHOLE, _HAND_OVER = 0, 1, 2
# The headers that say where a body ends, and Expect (whose body only follows gunicorn's interim answer).
_FRAMING = re.compile(rb"\r\n(content-length|transfer-encoding|expect)[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)
# A superset of the request lines gunicorn accepts: any other line is refused as soon as it is complete.
_REQUEST_LINE = re.compile(rb"[!-~]+ [^\x00-\x20\x7f]+ HTTP/[!-~]*")
_HEX = frozenset(b"0123456789abcdefABCDEF")
# gunicorn's refusals of malformed HTTP, by exception (first match); any other ParseException is 400.
# An unsupported transfer coding is the client's mistake too: 400, not gunicorn's 501.
_REFUSALS: tuple[tuple[type[Exception], int, str], ...] = (
    (http_errors.LimitRequestLine, 414, "URI Too Long"),
    (http_errors.LimitRequestHeaders, 431, "Request Header Fields Too Large"),
    (http_errors.ExpectationFailed, 417, "Expectation Failed"),
    (http_errors.ForbiddenProxyRequest, 403, "Forbidden"),
    (http_errors.ConfigurationProblem, 500, "Internal Server Error"),  # gunicorn's setup, not the client
)


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_problem(host: str, port: int) -> str | None:
    """Why `host:port` cannot be served, in one line, or None: checked before gunicorn starts, which would
    otherwise retry for seconds and print its own log lines and tracebacks."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError):
        return f"cannot bind {host!r}: not an address or a name this machine resolves"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is in use (another tokenmock? choose another with --port)"
            if exc.errno == errno.EACCES:
                return f"port {port} on {host} needs privileges this user lacks (choose one above 1023)"
            return f"cannot bind {host}:{port}: {exc.strerror}"
    return None


class MockServer(BaseApplication):
    """gunicorn running an app built once in the master and forked into the workers.

    With one worker the state may live in the process (memory store); with more, it lives in a shared
    store (SQLite or Redis) and the workers behave as one server. gthread workers keep connections
    alive (sync workers close each one, which costs load generators and clients a TCP handshake per
    request).
    """

    def __init__(self, app_factory: Callable[[], Flask | WSGIApp], options: dict[str, Any]) -> None:
        self.app_factory = app_factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask | WSGIApp:
        return self.app_factory()


class OneWriteResponse(wsgi.Response):
    """gunicorn's response, sending the head and a whole body in one `send` (gunicorn sends them
    apart: two system calls and two TCP segments for every token); the Date header is formatted once
    a second instead of once per response. Anything else (a body in parts, chunked, no body, a
    truncating wire fault) goes through gunicorn's own code."""

    _date: tuple[int, str] = (0, "")
    headers_sent: bool

    def write(self, arg: bytes) -> None:
        if (
            self.headers_sent
            or self.chunked
            or self._omits_body
            or self.response_length is None
            or type(arg) is not bytes
            or len(arg) != self.response_length
        ):
            super().write(arg)
            return
        head = "".join(self.default_headers()) + "".join(f"{k}: {v}\r\n" for k, v in self.headers) + "\r\n"
        self.headers_sent = True
        self.sent = len(arg)
        util.write(self.sock, head.encode("latin-1") + arg)

    def default_headers(self) -> list[str]:
        if self.upgrade:  # (gunicorn's own, but for the cached date)
            connection = "upgrade"
        elif self.should_close():
            connection = "close"
        else:
            connection = "keep-alive"
        now = int(time.time())
        if OneWriteResponse._date[0] != now:
            OneWriteResponse._date = (now, f"Date: {util.http_date(now)}\r\n")
        headers = [
            f"HTTP/{self.req.version[0]}.{self.req.version[1]} {self.status}\r\n",
            f"Server: {self.version}\r\n",
            OneWriteResponse._date[1],
            f"Connection: {connection}\r\n",
        ]
        if self.chunked:
            headers.append("Transfer-Encoding: chunked\r\n")
        return headers


class ConnectionBoard:
    """How many connections each worker holds, in memory the master shares with the workers it forks.

    A worker ahead of another (more connections) leaves a new connection on the shared listening
    socket for a while, and the other accepts it: with keep-alive a connection stays with the worker
    that accepted it, and the one that woke first used to take them all (measured: one core idle in a
    tenth of two-worker runs). SO_REUSEPORT, a socket per worker, was measured too: the kernel hashes
    connections to sockets, so four connections still all landed on one worker in some rounds.
    """

    SLOTS = 64
    _SLOT = struct.Struct("<qq")  # pid (0: free), connections

    def __init__(self) -> None:
        self.shared = mmap.mmap(-1, self._SLOT.size * self.SLOTS)  # anonymous and shared: survives the fork

    def assign(self, worker: Any, siblings: Any) -> None:
        """In the master, before forking `worker`: the lowest slot no living sibling holds."""
        taken = {getattr(sibling, "tokenmock_slot", None) for sibling in siblings}
        worker.tokenmock_slot = next((n for n in range(self.SLOTS) if n not in taken), None)

    def release(self, worker: Any) -> None:
        """In the master, when `worker` has exited: its connections are gone."""
        slot = getattr(worker, "tokenmock_slot", None)
        if slot is not None:
            self._SLOT.pack_into(self.shared, slot * self._SLOT.size, 0, 0)

    def vacate(self, slot: int) -> None:
        """In a worker that stops accepting: the others no longer leave connections to it."""
        self._SLOT.pack_into(self.shared, slot * self._SLOT.size, 0, 0)

    def publish(self, slot: int, connections: int) -> None:
        """In a worker: how many connections it holds now."""
        self._SLOT.pack_into(self.shared, slot * self._SLOT.size, os.getpid(), connections)

    def fewest_elsewhere(self, slot: int) -> int | None:
        """The fewest connections any other live worker holds (None when there is none)."""
        counts = [
            connections
            for n, (pid, connections) in enumerate(self._SLOT.iter_unpack(self.shared))
            if pid and n != slot
        ]
        return min(counts) if counts else None


class MockWorker(gthread.ThreadWorker):
    """gunicorn's gthread worker, hardened for clients that misbehave on purpose.

    - A request goes to a thread only once it has arrived whole: its head, and a body up to the size
      limit (by Content-Length, or chunked up to its last chunk). Until then the connection waits in the
      poller, what has come so far kept in the parser's buffer; a client that has not finished within
      REQUEST_DEADLINE is answered 408 and cut off. So slow clients cannot starve the threads (stock
      gthread gives each connection a thread that blocks on its socket).
    - Malformed HTTP is refused with JSON (`{"error": "invalid_request", ...}`, 400, 414, 431 or 417),
      not gunicorn's HTML page (nor its 501 for an unknown transfer coding), and logged without the
      request line or the offending header, which may carry a token.
    - A connection is closed gracefully (our side shut, the client's last bytes drained) by the poller,
      instead of gunicorn's drain of up to 2 s on the poller's own thread, which a client that keeps
      its side open after a refusal would stall every other connection of the worker with.
    """

    max_body_bytes = 64 * 1024  # set from the mock's settings in `serve`
    board: ConnectionBoard | None = None  # set in `serve` with more than one worker
    # How long a worker ahead of another leaves new connections to it before taking them itself (in
    # case the other cannot accept: frozen). Long enough for a worker the scheduler keeps off the CPU
    # on a loaded machine (20 ms, then 0.5 s were not: one worker still took a whole burst).
    ACCEPT_DEFER = 2.0
    RECHECK = 0.005  # how soon a worker that left a connection to others looks again
    REBALANCE = 0.05  # at most one connection let go per this many seconds to even the workers out

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Sockets being closed: socket -> [deadline, bytes drained], in deadline order.
        self.lingering: OrderedDict[socket.socket, list[float]] = OrderedDict()
        # Read once: gunicorn's settings are looked up through a dict on every access.
        cfg = self.cfg
        self.waits_for_requests = not cfg.is_ssl  # (recv flags do not apply to TLS sockets)
        self.line_limit = cfg.limit_request_line
        # The most a request may hold before it is handed over regardless: the longest head gunicorn
        # accepts and a body at the size limit (with room for chunk framing); beyond that the parser
        # or the mock refuses it without waiting for more.
        head = self.line_limit + 2 + cfg.limit_request_fields * (cfg.limit_request_field_size + 2) + 4
        self.buffer_cap = head + self.max_body_bytes + 16 * 1024
        self.deferring_since = 0.0
        self.deferred_fewest = 0
        self.recheck_pending = False
        self.rebalancing = threading.Lock()
        self.last_rebalance = 0.0

    def init_process(self) -> None:
        # In this worker process only: gunicorn builds every HTTP/1 response from this module name.
        wsgi.Response = OneWriteResponse
        self.slot: int | None = getattr(self, "tokenmock_slot", None) if self.board is not None else None
        self._publish()
        super().init_process()

    def _publish(self) -> None:
        if self.board is not None and self.slot is not None and self.alive:
            self.board.publish(self.slot, self.nr_conns)

    def handle_exit(self, sig: Any, frame: Any) -> None:
        super().handle_exit(sig, frame)
        if self.board is not None and self.slot is not None:  # stopping: accepts no more, leave none to it
            self.board.vacate(self.slot)

    def accept(self, listener: Any) -> None:
        """Take the new connection, unless it is left to a worker that holds fewer (ConnectionBoard)."""
        if self._leaving_to_others():
            self.set_accept_enabled(False)  # stop waking for it meanwhile
            if not self.recheck_pending:  # look again soon: run() turns accepting back on when due
                self.recheck_pending = True
                timer = threading.Timer(self.RECHECK, self.method_queue.defer, args=(self._recheck,))
                timer.daemon = True
                timer.start()
            return
        super().accept(listener)
        self._publish()

    def _recheck(self) -> None:
        self.recheck_pending = False

    def _leaving_to_others(self) -> bool:
        """Whether a new connection is left to another worker: one holds fewer, and none of them has
        left it waiting longer than ACCEPT_DEFER."""
        if self.board is None or self.slot is None:
            return False
        fewest = self.board.fewest_elsewhere(self.slot)
        if fewest is None or self.nr_conns <= fewest:
            self.deferring_since = 0.0
            return False
        now = time.monotonic()
        if not self.deferring_since or fewest != self.deferred_fewest:  # the others moved: they accept
            self.deferring_since, self.deferred_fewest = now, fewest
        return now - self.deferring_since < self.ACCEPT_DEFER

    def set_accept_enabled(self, enabled: bool) -> None:
        if enabled and self._leaving_to_others():
            return
        super().set_accept_enabled(enabled)

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.wsgi: Any = _closing(self.wsgi)

    def finish_request(self, conn: Any, fs: Any) -> None:
        if fs.cancelled() or fs.exception() is not None or fs.result():  # kept alive, deferred, or failed
            super().finish_request(conn, fs)
            return
        self.nr_conns -= 1
        self._linger(conn.sock)

    def _linger(self, sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
            self.poller.register(sock, selectors.EVENT_READ, self._drain)
        except (OSError, ValueError, KeyError):  # already shut or closed (a wire fault, a reset)
            util.close(sock)
            return
        self.lingering[sock] = [time.monotonic() + LINGER, 0]

    def _drain(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(_LINGER_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        state = self.lingering.get(sock)
        if state is not None and data:
            state[1] += len(data)
            if state[1] < _LINGER_BYTES:
                return
        self._close_lingering(sock)

    def _close_lingering(self, sock: socket.socket) -> None:
        self.lingering.pop(sock, None)
        with contextlib.suppress(OSError, ValueError, KeyError):
            self.poller.unregister(sock)
        util.close(sock)

    def murder_pending(self) -> None:
        # A connection that sent part of a request and then fell silent waits here (gunicorn's pending
        # connections) until its keep-alive timeout: it is owed the documented 408, not a silent close.
        now = time.monotonic()
        for conn in self.pending_conns:
            if conn.timeout > now:
                break
            self._owed_408(conn)
        super().murder_pending()
        self._shed()
        self._publish()  # once per turn of the event loop: connections closed meanwhile
        now = time.monotonic()
        while self.lingering:
            sock, (deadline, _) = next(iter(self.lingering.items()))
            if deadline > now:
                break
            self._close_lingering(sock)

    def _owed_408(self, conn: Any) -> None:
        """Tell a connection closed with part of a request that it did not arrive in time."""
        parser = getattr(conn, "parser", None)
        if parser is not None and parser.unreader.buf.getvalue():
            self.log.debug("closing a connection whose request stalled")
            _send_json(conn.sock, 408, "Request Timeout", "invalid_request", "the request did not arrive in time")

    def _shed(self) -> None:
        """At MAX_CONNECTIONS, close the idle connections, then the slow ones, oldest first, so that the
        worker accepts new ones (it stops accepting when full, and new clients would wait unanswered)."""
        if self.nr_conns < self.worker_connections:
            return
        target = max(0, self.worker_connections - SHED_SPARE)
        shed = 0
        for waiting, slow in ((self.keepalived_conns, False), (self.pending_conns, True)):
            while waiting and self.nr_conns > target:
                conn = waiting.popleft()
                with contextlib.suppress(OSError, KeyError, ValueError):
                    self.poller.unregister(conn.sock)
                if slow:
                    self._owed_408(conn)
                self.nr_conns -= 1
                conn.close()
                shed += 1
        if shed:
            self.log.debug("shed %d idle or slow connection(s) at the limit of %d", shed, self.worker_connections)
            self._publish()

    def handle(self, conn: Any) -> Any:
        if self.cfg.is_ssl and not conn.initialized:
            handshake = self._handshake(conn)
            if handshake is not True:
                return handshake
        if self.waits_for_requests and not conn.is_http2:
            state = self._arrived(conn)
            if state is None:  # past the deadline
                return False
            if state == _WAIT:
                return gthread._DEFER if self.alive else False
            conn.tokenmock_since = None
            conn.tokenmock_whole = state == _WHOLE
        return super().handle(conn)

    def _handshake(self, conn: Any) -> Any:
        """Advance a new TLS connection's handshake without blocking: True once done (the connection is
        then set up as gunicorn's `init` would), _DEFER to wait in the poller for more of it, False to
        close (failed, or not done within TLS_HANDSHAKE_DEADLINE)."""
        tls = getattr(conn, "tokenmock_tls", None)
        if tls is None:
            conn.sock.setblocking(False)
            tls = conn.tokenmock_tls = gsock.ssl_context(self.cfg).wrap_socket(
                conn.sock,
                server_side=True,
                suppress_ragged_eofs=self.cfg.suppress_ragged_eofs,
                do_handshake_on_connect=False,
            )
            conn.sock = tls  # (the plain socket is detached into it)
            conn.tokenmock_handshake_since = time.monotonic()
        if time.monotonic() - conn.tokenmock_handshake_since > TLS_HANDSHAKE_DEADLINE:
            self.log.debug("closing a connection whose TLS handshake took over %ss", TLS_HANDSHAKE_DEADLINE)
            return False
        try:
            tls.setblocking(False)
            tls.do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return gthread._DEFER if self.alive else False
        except (ssl.SSLError, OSError) as exc:
            self.log.debug("TLS handshake failed: %s", type(exc).__name__)
            return False
        tls.setblocking(True)
        conn.initialized = True  # what gunicorn's `init` does after its (blocking) handshake
        if gsock.is_http2_negotiated(tls):
            conn.is_http2 = True
            conn.parser = http_parser.get_parser(self.cfg, tls, conn.client, http2_connection=True)
            conn.parser.initiate_connection()
            return True
        conn.parser = http_parser.get_parser(self.cfg, tls, conn.client)
        if tls.pending():  # the request came with the handshake's last flight
            return True
        conn.data_ready = False  # the request follows the handshake: wait for it in the poller
        return gthread._DEFER if self.alive else False

    def _arrived(self, conn: Any) -> int | None:
        """How far the request on `conn` has come (_WAIT, _WHOLE, _HAND_OVER), or None when it did not
        arrive in time.

        What has arrived is read into the parser's buffer, where the parser will find it, so a
        connection waiting for the rest is not readable again until more comes.
        """
        conn.init()
        if conn.is_http2 or conn.parser is None:
            return _HAND_OVER
        buffer = conn.parser.unreader.buf
        held = buffer.seek(0, os.SEEK_END)
        cap = self.buffer_cap
        while held < cap:
            wanted = min(_RECV_BYTES, cap - held)
            try:
                chunk = conn.sock.recv(wanted, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                return _HAND_OVER  # the parser meets the broken socket and closes it
            if not chunk:
                return _HAND_OVER  # end of stream: the parser answers what came, or closes
            held += buffer.write(chunk)
            if len(chunk) < wanted:
                break  # drained for now; if more is needed the poller says when it comes
        data = buffer.getvalue()
        state = _HAND_OVER if held >= cap else self._readiness(data)
        if state != _WAIT:
            return state
        now = time.monotonic()
        since = getattr(conn, "tokenmock_since", None)
        if since is None:
            conn.tokenmock_since = now
        elif now - since > REQUEST_DEADLINE:
            self.log.debug("closing a connection whose request did not arrive in %ss", REQUEST_DEADLINE)
            if data:
                _send_json(conn.sock, 408, "Request Timeout", "invalid_request", "the request did not arrive in time")
            return None
        return _WAIT

    def _readiness(self, data: bytes) -> int:
        """_WHOLE when `data` holds a whole request; _HAND_OVER when it holds enough for the parser or the
        mock to refuse it (or a body that only comes once the request runs); else _WAIT."""
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return _HAND_OVER if self._refusable_head(data) else _WAIT
        head = data[: end + 2].lower()
        if b"\r\ntransfer-encoding" in head or b"\r\nexpect" in head:
            return self._unusual_readiness(data, end)
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            return _WHOLE  # no body
        if head.find(b"\r\ncontent-length", at + 16) >= 0:
            return _HAND_OVER  # two lengths: refused by the parser
        value = head[at + 17 : head.find(b"\r\n", at + 17)].strip(b" \t")
        if not value.isdigit() or len(value) > 18:
            return _HAND_OVER  # refused by the parser, or by the mock (413) without reading the body
        length = int(value)
        if length > self.max_body_bytes:
            return _HAND_OVER  # refused (413) before it is read
        return _WHOLE if len(data) >= end + 4 + length else _WAIT

    def _unusual_readiness(self, data: bytes, end: int) -> int:
        """`_readiness` of a head with Transfer-Encoding or Expect."""
        length: int | None = None
        chunked = False
        for name, value in _FRAMING.findall(data, 0, end + 2):
            name = name.lower()
            if name == b"expect":
                return _HAND_OVER  # a 100-continue body follows gunicorn's interim answer; any other is a 417
            value = value.strip(b" \t")
            if name == b"transfer-encoding":
                if chunked or value.lower() != b"chunked":
                    return _HAND_OVER  # refused by the parser
                chunked = True
            elif length is not None or not value.isdigit() or len(value) > 18:
                return _HAND_OVER  # refused by the parser
            else:
                length = int(value)
        if chunked:
            return _HAND_OVER if length is not None else _chunked_readiness(data, end + 4, self.max_body_bytes)
        if length is None:
            return _WHOLE
        if length > self.max_body_bytes:
            return _HAND_OVER
        return _WHOLE if len(data) >= end + 4 + length else _WAIT

    def _refusable_head(self, data: bytes) -> bool:
        """Whether an unfinished head is already bad enough for the parser to refuse without reading on."""
        if data.count(b"\n") != data.count(b"\r\n"):
            return True  # a bare LF
        start = 2 if data.startswith(b"\r\n") else 0  # one empty line may precede the request line
        eol = data.find(b"\r\n", start)
        if eol < 0:
            return len(data) - start - 2 > self.line_limit
        return eol - start > self.line_limit or not _REQUEST_LINE.fullmatch(data, start, eol)

    def handle_request(self, req: Any, conn: Any) -> Any:
        if not getattr(conn, "tokenmock_whole", False):
            # Part of the request is still to be read from the socket (a chunked body over the size
            # limit, a 100-continue body): a client that stalls is cut off. (A whole request is not
            # given one: a socket timeout costs a poll() before every send.)
            conn.sock.settimeout(BODY_READ_TIMEOUT)
        _check_framing(req)
        if self._surplus():
            req.must_close = True  # answered with `Connection: close`: the client reconnects elsewhere
        return super().handle_request(req, conn)

    def _surplus(self) -> bool:
        """Whether this worker holds two connections more than another, so that one of them should move:
        connections accepted while a worker was still closing a burst of old ones stay unbalanced for
        as long as they are kept alive (measured: a core idle through a whole -c4 run). One connection
        is let go per REBALANCE interval, so that the counts are current before the next."""
        if self.board is None or self.slot is None:
            return False
        fewest = self.board.fewest_elsewhere(self.slot)
        if fewest is None or self.nr_conns < fewest + 2:
            return False
        now = time.monotonic()
        with self.rebalancing:
            if now - self.last_rebalance < self.REBALANCE:
                return False
            self.last_rebalance = now
        return True

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """Answer what failed before the mock could (gunicorn's parse errors, mostly) in JSON, and log it
        without the request line or the offending header: their text may carry a token."""
        if isinstance(exc, ssl.SSLError):
            return super().handle_error(None, client, addr, exc)
        if isinstance(exc, http_errors.ParseException) and not isinstance(
            exc, http_errors.InvalidResponseHeader | http_errors.InvalidResponseHeaderName
        ):
            status, reason = next(
                ((status, reason) for kind, status, reason in _REFUSALS if isinstance(exc, kind)), (400, "Bad Request")
            )
            self.log.warning("refused malformed HTTP from %s: %s", (addr or ("-",))[0], type(exc).__name__)
        else:  # the mock's own failure (a header it tried to send, ...)
            status, reason = 500, "Internal Server Error"
            self.log.error("failed to handle a request: %s", type(exc).__name__, exc_info=exc)
        error = "server_error" if status >= 500 else "invalid_request"
        _send_json(client, status, reason, error, f"{reason}: {type(exc).__name__}")
        return None


def _closing(app: Any) -> Any:
    """The app, with its `Connection: close` honoured: gunicorn drops hop-by-hop headers a WSGI app sets
    (PEP 3333) and would announce keep-alive, then read the unread body as the next request. The start
    response gunicorn passes is a method of its response object, whose `force_close` this calls."""

    def app_closing(environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            for name, value in headers:
                if name.lower() == "connection" and value.lower() == "close":
                    force_close = getattr(getattr(start_response, "__self__", None), "force_close", None)
                    if force_close is not None:
                        force_close()
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return app_closing


def _check_framing(req: Any) -> None:
    """Refuse a Transfer-Encoding other than exactly `chunked` (one header, one coding): gunicorn accepts
    `identity, chunked` and `gzip, chunked`, whose bodies the mock cannot read, and a proxy in front may
    frame them differently (request smuggling). Raised before the request runs, so handle_error answers
    400 with `Connection: close` and nothing pipelined behind it is read."""
    codings = [value for name, value in req.headers if name == "TRANSFER-ENCODING"]
    if codings and (len(codings) > 1 or codings[0].strip(" \t").lower() != "chunked"):
        raise http_errors.InvalidHeader("TRANSFER-ENCODING", req=req)


def _chunked_readiness(data: bytes, start: int, limit: int) -> int:
    """_WHOLE when the chunked body at `data[start:]` has arrived up to its last chunk and trailers,
    _HAND_OVER when it is malformed or over `limit` (refused then, by the parser or with 413, without
    waiting for more), else _WAIT."""
    position, total = start, 0
    while True:
        eol = data.find(b"\r\n", position)
        if eol < 0:
            return _HAND_OVER if len(data) - position > 8192 else _WAIT  # a size line too long to wait for
        digits = data[position:eol].split(b";", 1)[0].rstrip(b" \t")
        if not digits or not _HEX.issuperset(digits):
            return _HAND_OVER
        size = int(digits, 16)
        if size == 0:  # the last chunk; then the trailer section, maybe empty, up to an empty line
            return _WHOLE if data.find(b"\r\n\r\n", eol) >= 0 else _WAIT
        total += size
        if total > limit:
            return _HAND_OVER
        position = eol + 2 + size
        if len(data) < position + 2:
            return _WAIT
        if data[position : position + 2] != b"\r\n":
            return _HAND_OVER
        position += 2


def _send_json(sock: Any, status: int, reason: str, error: str, description: str) -> None:
    """A refusal written straight to the socket, before (or instead of) the mock: JSON, then close."""
    body = json.dumps({"error": error, "error_description": description}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1")
    try:
        util.write_nonblock(sock, head + body)
    except Exception:  # the client is gone
        logging.getLogger("gunicorn.error").debug("failed to send a refusal")


def _worker_exit(_arbiter: Any, _worker: Any) -> None:
    """A worker leaving (gracefully or on Ctrl-C): write its queued journal records and log lines."""
    flush_journals()
    stop_logging()


def serve(
    app_factory: Callable[[], Flask | WSGIApp],
    *,
    host: str,
    port: int,
    workers: int = 1,
    threads: int = 8,
    max_body_bytes: int = 64 * 1024,
    on_ready: Callable[[], None] | None = None,
    on_worker_start: Callable[[], None] | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
) -> None:
    """Run until SIGINT/SIGTERM (gunicorn stops gracefully on both).

    `on_worker_start` runs in each worker once it is forked (threads do not survive a fork: `--reload`
    starts its watcher there).

    `max_body_bytes` is the mock's limit: a body up to it is waited for before the request runs.
    `certfile` and `keyfile` serve HTTPS (gunicorn's own TLS).
    """
    options: dict[str, Any] = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "worker_class": MockWorker,
        "threads": threads,
        "keepalive": 5,
        "graceful_timeout": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "preload_app": True,
        "limit_request_line": 8190,
        "limit_request_fields": 100,
        "limit_request_field_size": 8190,
        "worker_connections": MAX_CONNECTIONS,
        "worker_exit": _worker_exit,
    }
    if workers > 1:
        # Connections spread evenly over the workers (see ConnectionBoard); the master gives each
        # worker its slot on the board before forking it and frees the slot when the worker exits.
        board = MockWorker.board = ConnectionBoard()
        options["pre_fork"] = lambda arbiter, worker: board.assign(worker, arbiter.WORKERS.values())
        options["child_exit"] = lambda _arbiter, worker: board.release(worker)
    if certfile and keyfile:
        options.update(certfile=certfile, keyfile=keyfile)
    if on_ready is not None:
        options["when_ready"] = lambda _server: on_ready()
    if on_worker_start is not None:
        options["post_fork"] = lambda _server, _worker: on_worker_start()
    MockWorker.max_body_bytes = max_body_bytes  # the workers are forked from this process
    MockServer(app_factory, options).run()
