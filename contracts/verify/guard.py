"""Budgets that keep a hostile provider from holding `tokenmock verify`: a deadline for each whole
exchange (connect, headers, body) and for the whole run, a cap on the size of an answer, and no redirect
followed to another origin.

A read timeout alone bounds one `recv`: a provider that drips a byte a second never trips it. So each
exchange runs under a watchdog that shuts the connection's socket down when the exchange's deadline
passes, which wakes the blocked read at once; the body is read in chunks and given up past the cap.
The guard is a `requests` transport adapter (`GuardedAdapter`), mounted on verify's own session and,
through a `before_call` hook, on the sessions schemathesis sends with.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from tokenmock.contracts.verify.limits import EXCHANGE_SECONDS, MAX_BODY, RUN_SECONDS

CHUNK = 64 * 1024

# The connection (then, once the request is sent, its socket) each thread is using, so a watchdog
# (another thread) can cut it. The socket itself: http.client lets go of it when an answer is delimited by
# the connection's close, and the answer reads on from it alone.
_ACTIVE: dict[int, HTTPConnection | socket.socket] = {}
_ACTIVE_LOCK = threading.Lock()


class ExchangeTimeout(requests.Timeout):
    """The provider did not finish answering within the exchange's deadline."""


class RunDeadlinePassed(requests.Timeout):
    """The run's whole budget of time is spent; nothing more is sent."""


class BodyTooLarge(requests.RequestException):
    """The provider's answer is larger than the cap."""


def _track(connection: HTTPConnection | socket.socket) -> None:
    with _ACTIVE_LOCK:
        _ACTIVE[threading.get_ident()] = connection


class _TrackedHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _track(self)
        super().request(*args, **kwargs)

    def getresponse(self) -> Any:
        _track(self.sock or self)
        return super().getresponse()


class _TrackedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        _track(self)  # a TLS handshake can be dripped too
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _track(self)
        super().request(*args, **kwargs)

    def getresponse(self) -> Any:
        _track(self.sock or self)
        return super().getresponse()


class _TrackedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _TrackedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


class Budget:
    """A run's limits: seconds per exchange, seconds for the run (from the first request), bytes per body."""

    def __init__(self, exchange: float = EXCHANGE_SECONDS, run: float = RUN_SECONDS, max_body: int = MAX_BODY) -> None:
        self.exchange = exchange
        self.run = run
        self.max_body = max_body
        self.started = time.monotonic()

    @property
    def run_deadline(self) -> float:
        return self.started + self.run

    def run_spent(self) -> bool:
        """Whether the run's deadline has passed."""
        return time.monotonic() >= self.run_deadline

    def exchange_deadline(self) -> float:
        """When an exchange starting now must be over; RunDeadlinePassed when the run's time is spent."""
        now = time.monotonic()
        if now >= self.run_deadline:
            raise RunDeadlinePassed(f"the run's deadline of {self.run:g} s has passed; nothing more is sent")
        return min(now + self.exchange, self.run_deadline)


class GuardedAdapter(HTTPAdapter):
    """An HTTPAdapter whose every exchange is bounded in time and size (see the module docstring)."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _TrackedHTTPPool, "https": _TrackedHTTPSPool}

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        deadline = self.budget.exchange_deadline()
        me = threading.get_ident()
        cut = threading.Event()

        def watchdog() -> None:
            cut.set()
            with _ACTIVE_LOCK:
                tracked = _ACTIVE.get(me)
            sock = tracked if isinstance(tracked, socket.socket) else getattr(tracked, "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

        remaining = max(0.01, deadline - time.monotonic())
        timer = threading.Timer(remaining, watchdog)
        timer.daemon = True
        timer.start()
        try:
            response = super().send(request, stream=True, timeout=remaining, verify=verify, cert=cert, proxies=proxies)
            if not stream:
                self._read_capped(response, deadline, cut)
            return response
        except (requests.RequestException, OSError) as exc:
            if cut.is_set():
                raise ExchangeTimeout(self._late(request), request=request) from None
            if isinstance(exc, requests.RequestException):
                raise
            raise requests.ConnectionError(exc, request=request) from exc
        finally:
            timer.cancel()
            with _ACTIVE_LOCK:
                _ACTIVE.pop(me, None)

    def _late(self, request: requests.PreparedRequest) -> str:
        return f"no complete answer from {request.method} {_origin_path(request.url)} within {self.budget.exchange:g} s"

    def _read_capped(self, response: requests.Response, deadline: float, cut: threading.Event) -> None:
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.raw.stream(CHUNK, decode_content=True):
                size += len(chunk)
                if size > self.budget.max_body:
                    raise BodyTooLarge(
                        f"the answer to {response.request.method} {_origin_path(response.url)} is larger than "
                        f"{self.budget.max_body} bytes (--max-body)",
                        response=None,
                    )
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    cut.set()
                    raise ExchangeTimeout(self._late(response.request))
        except BodyTooLarge:
            response.close()
            raise
        except Exception as exc:
            response.close()
            if cut.is_set():
                raise ExchangeTimeout(self._late(response.request)) from None
            if isinstance(exc, requests.RequestException):
                raise
            raise requests.ConnectionError(exc) from exc
        response._content = b"".join(chunks)
        setattr(response, "_content_consumed", True)  # noqa: B010 - what Response.content sets once read


def _origin_path(url: str | None) -> str:
    """A URL without userinfo and query (neither belongs in a message)."""
    from urllib.parse import urlsplit

    parts = urlsplit(str(url or ""))
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def guard(session: requests.Session, budget: Budget) -> requests.Session:
    """Mount a GuardedAdapter on a session (once) for http and https; returns the session."""
    current = session.get_adapter("http://x")
    if not (isinstance(current, GuardedAdapter) and current.budget is budget):
        adapter = GuardedAdapter(budget)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session


def guarded_session(budget: Budget) -> requests.Session:
    """A requests session that sends under the budget (every caller passes allow_redirects=False: with
    max_redirects = 0, requests would raise on a redirect even when not following it)."""
    return guard(requests.Session(), budget)
