"""HTTP for the client: a timeout on every call, bounded retries with backoff and jitter, bounded reads.

Retries cover what a retry can fix: connection failures, timeouts, any 5xx and 429 (honouring Retry-After,
capped). Bodies are read against a deadline and a size cap, so a server that drips bytes or streams
forever cannot hang the caller.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from tokenmock.client.errors import ContractViolation, TransportError
from tokenmock.client.flow import Done, resume


@dataclass
class RetryPolicy:
    """How hard to try: `attempts` in all, exponential backoff from `base` capped at `cap`, full jitter."""

    attempts: int = 3
    base: float = 0.2
    cap: float = 5.0
    retry_after_cap: float = 10.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {self.attempts}")
        if min(self.base, self.cap, self.retry_after_cap) < 0:
            raise ValueError("base, cap and retry_after_cap must not be negative")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_cap)
        return self.rng.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when.timestamp() - now if when is not None else None


def _chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives: read1() returns after one socket read, so a caller can check a deadline
    between drips (iter_content() would block until 16 KiB or the end)."""
    raw = response.raw
    while chunk := raw.read1(16384, decode_content=True):
        yield chunk


class _Deadline:
    """Cuts an attempt's socket when its total time is up.

    requests' `timeout` bounds each socket read, not the whole exchange: a server that drips a header
    byte every half second never trips it. Watched connections (below) register their socket here once
    the request is sent, and a timer shuts it down at the deadline, so the blocked read fails at once.
    """

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.expired = False
        self._timers: list[threading.Timer] = []
        self._lock = threading.Lock()

    def watch(self, sock: socket.socket) -> None:
        timer = threading.Timer(max(self.at - time.monotonic(), 0.0), self._cut, (sock,))
        timer.daemon = True
        with self._lock:
            self._timers.append(timer)
        timer.start()

    def _cut(self, sock: socket.socket) -> None:
        self.expired = True
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        with self._lock:
            for timer in self._timers:
                timer.cancel()


_current_deadline: contextvars.ContextVar[_Deadline | None] = contextvars.ContextVar(
    "tokenmock_client_deadline", default=None
)


class _Watched:
    """Mixin for urllib3 connections: once the request is sent, the current deadline watches the socket."""

    sock: socket.socket | None

    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)  # type: ignore[misc]
        deadline = _current_deadline.get()
        if deadline is not None and self.sock is not None:
            deadline.watch(self.sock)


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """A requests adapter whose direct connections honour the transport's total deadline."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


def default_session() -> requests.Session:
    """A session whose direct HTTP(S) connections are cut at the transport's deadline."""
    session = requests.Session()
    adapter = DeadlineAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass
class Reply:
    """A fully read response."""

    status: int
    headers: requests.structures.CaseInsensitiveDict[str]
    body: bytes
    url: str


def retry_loop(policy: RetryPolicy, vendor: str) -> Generator[float | None, Any, Reply]:
    """The retry decisions without I/O, shared by the requests and the httpx transports.

    Yields None for "make an attempt now" (and is sent that attempt's `Reply` or `TransportError`), or
    a delay in seconds for "wait this long" (and is sent None); returns the reply to use, or raises the
    last failure once `policy.attempts` are spent.
    """
    last: TransportError | None = None
    for attempt in range(1, policy.attempts + 1):
        outcome = yield None
        retry_after: float | None = None
        if isinstance(outcome, TransportError):
            last = outcome
        else:
            if outcome.status < 500 and outcome.status != 429:
                return outcome
            retry_after = parse_retry_after(outcome.headers.get("Retry-After"), time.time())
            last = TransportError(
                f"the server answered {outcome.status} after {attempt} attempt(s)",
                vendor=vendor,
                status=outcome.status,
            )
        if attempt < policy.attempts:
            yield policy.delay(attempt, retry_after)
    assert last is not None
    raise last


class Transport:
    """Sends requests with the policy above; returns a fully read `Reply` or raises `TransportError`.

    `timeout` bounds each attempt as a whole (connect, headers and body). A caller's own `session` keeps
    its adapters: there requests' per-read timeout applies, plus the deadline checked between body reads.
    """

    def __init__(
        self,
        vendor: str,
        *,
        session: requests.Session | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        max_body_bytes: int = 1 << 20,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.vendor = vendor
        self.session = session or default_session()
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.max_body_bytes = max_body_bytes
        self.sleep = sleep
        self.clock = clock

    def send(self, method: str, url: str, **kwargs: Any) -> Reply:
        """One logical request: up to `retry.attempts` tries; the last failure becomes TransportError."""
        attempts = retry_loop(self.retry, self.vendor)
        outcome: Reply | TransportError | None = None
        while not isinstance(wait := resume(attempts, outcome), Done):
            outcome = None
            if wait is None:
                try:
                    outcome = self._once(method, url, **kwargs)
                except TransportError as exc:
                    outcome = exc
            else:
                self.sleep(wait)
        return wait.value

    def _once(self, method: str, url: str, **kwargs: Any) -> Reply:
        watch = _Deadline(self.timeout)
        context = _current_deadline.set(watch)
        try:
            return self._exchange(watch, method, url, **kwargs)
        finally:
            watch.cancel()
            _current_deadline.reset(context)

    def _exchange(self, watch: _Deadline, method: str, url: str, **kwargs: Any) -> Reply:
        deadline = self.clock() + self.timeout
        try:
            response = self.session.request(
                method, url, timeout=self.timeout, stream=True, allow_redirects=False, **kwargs
            )
        except requests.Timeout:
            raise TransportError(f"no answer within {self.timeout:g} s", vendor=self.vendor) from None
        except requests.RequestException as exc:
            if watch.expired:
                raise TransportError(f"no answer within {self.timeout:g} s", vendor=self.vendor) from None
            raise TransportError(f"cannot reach {_origin(url)}: {_why(exc)}", vendor=self.vendor) from None
        try:
            if watch.expired:  # cut mid-headers: http.client may take the shutdown for their end
                raise TransportError(f"no answer within {self.timeout:g} s", vendor=self.vendor)
            chunks: list[bytes] = []
            size = 0
            for chunk in _chunks(response):
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise ContractViolation(
                        f"the response body is larger than {self.max_body_bytes} bytes",
                        vendor=self.vendor,
                        status=response.status_code,
                    )
                if self.clock() > deadline:
                    raise TransportError(
                        f"the response body did not arrive within {self.timeout:g} s", vendor=self.vendor
                    )
                chunks.append(chunk)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            if watch.expired:
                raise TransportError(
                    f"the response body did not arrive within {self.timeout:g} s", vendor=self.vendor
                ) from None
            cut = f"the response was cut off: {type(exc).__name__}"
            raise TransportError(cut, vendor=self.vendor) from None
        finally:
            response.close()
        if watch.expired:  # cut mid-body: a body delimited by the connection's close looks complete
            late = f"the response body did not arrive within {self.timeout:g} s"
            raise TransportError(late, vendor=self.vendor)
        return Reply(response.status_code, response.headers, b"".join(chunks), response.url)


def _origin(url: str) -> str:
    """scheme://host:port of a URL: enough to act on, with no path, query or userinfo to leak."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def _why(exc: BaseException) -> str:
    """The likely cause of a failed connection, in words a person can act on."""
    seen: BaseException | None = exc
    for _ in range(12):  # a bounded walk down the chain of causes
        if seen is None:
            break
        if isinstance(seen, requests.exceptions.SSLError | ssl.SSLError):
            return "TLS handshake failed (wrong scheme, or a certificate this machine does not trust)"
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused (is the server running on that port?)"
        if isinstance(seen, socket.gaierror) or "NameResolution" in type(seen).__name__:
            return "host name not found (check the URL)"
        if isinstance(seen, ConnectionResetError):
            return "connection reset by the server"
        inner = next((a for a in seen.args if isinstance(a, BaseException)), None)  # requests wraps urllib3
        reason = getattr(seen, "reason", None)  # urllib3's MaxRetryError
        seen = reason if isinstance(reason, BaseException) else (seen.__cause__ or seen.__context__ or inner)
    return f"connection failed ({type(exc).__name__})"
