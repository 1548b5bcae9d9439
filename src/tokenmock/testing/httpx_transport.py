"""The in-process mock for `httpx`: a `MockTransport` (sync and async clients alike), and `respx`
routes for unchanged code that builds its own clients. A wire fault raises what httpx raises for it
over a socket (`httpx.ReadError` for a reset, `httpx.RemoteProtocolError` for a cut or garbled
answer, `httpx.ReadTimeout`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import httpx

from tokenmock.testing.dispatch import BODY_TIMEOUT, CLOSED, NOT_HTTP, RESET, TIMEOUT, TRUNCATED, Answer

if TYPE_CHECKING:
    from tokenmock.testing.inprocess import InProcessMock

Call = Callable[[str, str, Iterable[tuple[str, str]], bytes, "float | None"], Answer]


def broken(answer: Answer, request: httpx.Request) -> httpx.TransportError:
    """The exception httpx raises for a connection broken this way."""
    if answer.breaks == RESET:
        return httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
    if answer.breaks == CLOSED:
        return httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
    if answer.breaks == NOT_HTTP:
        return httpx.RemoteProtocolError("illegal status line: bytearray(b'SSH-2.0-OpenSSH_9.6')", request=request)
    if answer.breaks == TRUNCATED:
        message = (
            "peer closed connection without sending complete message body "
            f"(received {answer.received} bytes, expected {answer.expected})"
        )
        return httpx.RemoteProtocolError(message, request=request)
    if answer.breaks in (TIMEOUT, BODY_TIMEOUT):
        return httpx.ReadTimeout("timed out", request=request)
    raise ValueError(f"unknown break {answer.breaks!r}")


def read_timeout(request: httpx.Request) -> float | None:
    """The client's read timeout for this request (None: none)."""
    value = (request.extensions.get("timeout") or {}).get("read")
    return float(value) if isinstance(value, int | float) else None


def handler(call: Call) -> Callable[[httpx.Request], httpx.Response]:
    """An httpx request handler (for `MockTransport` or a respx side effect) answering from the mock."""

    def answer(request: httpx.Request) -> httpx.Response:
        headers = request.headers.multi_items()
        found = call(request.method, str(request.url), headers, request.read(), read_timeout(request))
        if found.breaks is not None:
            raise broken(found, request)
        return httpx.Response(found.status, headers=found.headers, content=found.body, request=request)

    return answer


def transport(call: Call) -> httpx.MockTransport:
    """A transport for `httpx.Client(transport=...)` or `httpx.AsyncClient(transport=...)`."""
    return httpx.MockTransport(handler(call))


def add_httpx_routes(router: Any, mock: InProcessMock) -> None:
    """Answer the mock's hosts from it on a respx router (one you run already, or ours)."""
    router.route(host__in=tuple(sorted(mock.hosts))).mock(side_effect=handler(mock.call))


@contextlib.contextmanager
def routed_httpx(mock: InProcessMock, passthrough: tuple[str, ...] = ()) -> Iterator[Any]:
    """Route every `httpx` call to the mock's hosts to it for the block, sync or async (through respx)."""
    try:
        import respx
    except ImportError:
        raise ImportError("routing httpx in-process needs `respx`: pip install 'tokenmock[testing]'") from None
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        add_httpx_routes(router, mock)
        for prefix in passthrough:
            router.route(url__startswith=prefix).pass_through()
        router.route().mock(side_effect=refuse(mock))  # last: respx tries routes in order
        yield router


def refuse(mock: InProcessMock) -> Callable[[httpx.Request], httpx.Response]:
    """A side effect refusing a request to a host not routed, as a refused connection (`httpx.ConnectError`)
    naming tokenmock and the routed hosts."""

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(mock.refusal(str(request.url)), request=request)

    return refused
