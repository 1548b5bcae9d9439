"""One request to a WSGI app of the mock with no socket: the answer, or how the connection breaks.

Transport-independent: the `requests` adapter, the `httpx` transport (sync or async) and the `responses`
and `respx` routes all call `call_app` and turn an `Answer` into their own response or exception.

Wire faults need a socket; without one `wire_break` says what the client would have seen, with the
client's own read timeout standing in for the wait (no test sleeps): `no_answer` times out before the
head and `stalled_body` within the body when the client's read timeout is shorter than the fault's
`seconds` (else the mock hangs up: no answer at all, a cut body), `slow_drip` within the body when it
is shorter than one chunk's interval (else the body arrives whole), and the rest break at once.
`latency` still waits in the mock, as it does over a socket.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from werkzeug.test import EnvironBuilder

from tokenmock.mockserver.serving.wire import PLAYED

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

# How a connection breaks, whatever the client library: the transports map each to their exception.
RESET = "reset"  # connection_reset: ECONNRESET before any byte
CLOSED = "closed"  # empty_response, no_answer past `seconds`: closed with no response
NOT_HTTP = "not_http"  # not_http: bytes that are no status line
TRUNCATED = "truncated"  # truncated_body, stalled_body past `seconds`: fewer bytes than Content-Length
TIMEOUT = "timeout"  # no_answer: the client's read timeout elapsed before the head
BODY_TIMEOUT = "body_timeout"  # stalled_body, slow_drip: it elapsed within the body
BREAKS = (RESET, CLOSED, NOT_HTTP, TRUNCATED, TIMEOUT, BODY_TIMEOUT)


@dataclass(frozen=True)
class Answer:
    """What the mock answered: status, headers (repeats kept: Set-Cookie), body; or `breaks` (one of
    BREAKS) when a wire fault broke the connection, `received`/`expected` then counting the body bytes."""

    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    breaks: str | None = None
    received: int = 0
    expected: int = 0


def wire_break(kind: str, params: Mapping[str, Any], read_timeout: float | None) -> str | None:
    """How a wire fault ends for a client whose read timeout is `read_timeout` (None: it waits for ever);
    None when the response arrives whole (a drip slower than nothing the client waits for)."""

    def outwaits(seconds: float) -> bool:
        return read_timeout is not None and read_timeout < seconds

    if kind == "connection_reset":
        return RESET
    if kind == "empty_response":
        return CLOSED
    if kind == "not_http":
        return NOT_HTTP
    if kind == "truncated_body":
        return TRUNCATED
    if kind == "stalled_body":
        return BODY_TIMEOUT if outwaits(float(params["seconds"])) else TRUNCATED
    if kind == "no_answer":
        return TIMEOUT if outwaits(float(params["seconds"])) else CLOSED
    if kind == "slow_drip":
        return BODY_TIMEOUT if outwaits(float(params["interval_ms"]) / 1000) else None
    raise ValueError(f"unknown wire fault {kind!r}")


def call_app(
    app: WSGIApplication,
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    read_timeout: float | None = None,
) -> Answer:
    """Run one request through `app` as a WSGI server would (scheme, host and port from `url`)."""
    scheme, _, rest = url.partition("://")
    netloc, slash, path_and_query = rest.partition("/")
    path, _, query = (slash + path_and_query).partition("?")
    environ = EnvironBuilder(
        path=path or "/",
        base_url=f"{scheme}://{netloc}",
        query_string=query,
        method=method,
        headers=list(headers),
        data=body,
    ).get_environ()
    environ["REMOTE_ADDR"] = "127.0.0.1"
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
        started[:] = [status, headers]
        return lambda _data: None

    app_iter = app(environ, start_response)  # werkzeug's run_wsgi_app would copy the environ `play` notes in
    status, response_headers = started
    code, _, reason = status.partition(" ")
    played = environ.get(PLAYED)
    if played is not None:
        closer = getattr(app_iter, "close", None)
        if closer is not None:
            closer()  # never iterated: the generators that would break the socket do not run
        data: bytes = played["body"]
        breaks = wire_break(played["kind"], played["params"], read_timeout)
        if breaks is not None:
            half = len(data) // 2 if breaks == TRUNCATED else 0
            return Answer(int(code), reason, list(response_headers), data[:half], breaks, half, len(data))
    else:
        try:
            data = b"".join(app_iter)
        finally:
            closer = getattr(app_iter, "close", None)
            if closer is not None:
                closer()
    return Answer(int(code), reason, list(response_headers), data)
