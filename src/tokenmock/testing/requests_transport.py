"""The in-process mock for `requests`: a transport adapter, and `responses` routes for unchanged code.

`MockAdapter` is requests' own extension point (an `HTTPAdapter` whose `send` answers from the mock):
mount it on a session the code under test uses, and nothing else changes. Code that calls
`requests.post(...)` builds its own session, which only patching reaches: `routed_requests` leaves that
to `responses` (its `RequestsMock` replaces `HTTPAdapter.send` for the block), with one callback per
routed host. Either way a wire fault raises what requests raises for it over a socket.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPHeaderDict, HTTPResponse
from urllib3.exceptions import IncompleteRead, ProtocolError, ReadTimeoutError

from tokenmock.testing.dispatch import BODY_TIMEOUT, CLOSED, NOT_HTTP, RESET, TIMEOUT, TRUNCATED, Answer

if TYPE_CHECKING:
    from tokenmock.testing.inprocess import InProcessMock

Call = Callable[[str, str, Iterable[tuple[str, str]], bytes, "float | None"], Answer]
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def read_timeout(timeout: Any) -> float | None:
    """The read part of a requests timeout: a number, a (connect, read) pair or a urllib3 `Timeout`."""
    if isinstance(timeout, tuple):
        timeout = timeout[1]
    read = getattr(timeout, "read_timeout", timeout)
    return float(read) if isinstance(read, int | float) else None


def broken(answer: Answer, request: requests.PreparedRequest, timeout: float | None) -> requests.RequestException:
    """The exception requests raises (urllib3's cause inside, as over a socket) for a broken connection."""
    if answer.breaks == RESET:
        cause: Exception = ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))
        return requests.ConnectionError(cause, request=request)
    if answer.breaks == CLOSED:
        disconnected = http.client.RemoteDisconnected("Remote end closed connection without response")
        return requests.ConnectionError(ProtocolError("Connection aborted.", disconnected), request=request)
    if answer.breaks == NOT_HTTP:
        bad = http.client.BadStatusLine("SSH-2.0-OpenSSH_9.6\r\n")
        return requests.ConnectionError(ProtocolError("Connection aborted.", bad), request=request)
    if answer.breaks == TRUNCATED:
        left = answer.expected - answer.received
        short = IncompleteRead(answer.received, left)
        return requests.exceptions.ChunkedEncodingError(ProtocolError(f"Connection broken: {short!r}", short))
    if answer.breaks in (TIMEOUT, BODY_TIMEOUT):
        # urllib3 names the pool that timed out; there is none in-process.
        cause = ReadTimeoutError(None, str(request.url), f"Read timed out. (read timeout={timeout})")  # type: ignore[arg-type]
        if answer.breaks == BODY_TIMEOUT:  # past the head requests reports a broken read, not a timeout
            return requests.ConnectionError(cause, request=request)
        return requests.exceptions.ReadTimeout(cause, request=request)
    raise ValueError(f"unknown break {answer.breaks!r}")


def _message(headers: Iterable[tuple[str, str]]) -> http.client.HTTPMessage:
    message = http.client.HTTPMessage()
    for name, value in headers:
        message[name] = value
    return message


class _Original:
    """What requests reads cookies from (`response._original_response.msg`)."""

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        self.msg = _message(headers)

    def isclosed(self) -> bool:
        return True


def _body(request: requests.PreparedRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes):
        return body
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return b"".join(chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk) for chunk in body)


class MockAdapter(HTTPAdapter):
    """A transport adapter answering every request it is mounted for from an in-process mock.

        session.mount("https://auth.clickviewapp.com", mock.requests_adapter())
    """

    def __init__(self, call: Call) -> None:
        super().__init__(max_retries=0)
        self._call = call

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Answer from the mock; a wire fault raises what requests raises for it over a socket."""
        return answer_request(self._call, self, request, read_timeout(timeout))


def answer_request(
    call: Call, adapter: HTTPAdapter, request: requests.PreparedRequest, timeout: float | None
) -> requests.Response:
    """The mock's answer to a prepared request, as the response requests would have built from a socket."""
    answer = call(str(request.method), str(request.url), list(request.headers.items()), _body(request), timeout)
    if answer.breaks is not None:
        raise broken(answer, request, timeout)
    raw = HTTPResponse(
        body=io.BytesIO(answer.body),
        headers=HTTPHeaderDict(answer.headers),  # repeats kept (Set-Cookie)
        status=answer.status,
        reason=answer.reason,
        preload_content=False,
        decode_content=False,
        original_response=_Original(answer.headers),  # type: ignore[arg-type]
        request_method=request.method,
    )
    return adapter.build_response(request, raw)


def add_requests_routes(router: Any, mock: InProcessMock) -> None:
    """Answer the mock's hosts from it on a `responses.RequestsMock` (one you run already, or ours)."""
    hosts = "|".join(re.escape(host) for host in sorted(mock.hosts))
    # Anchored at the end: responses tries `pattern.match`, and a prefix must not route `host.evil`.
    pattern = re.compile(rf"https?://(?:{hosts})(?::\d+)?(?:[/?#].*)?$", re.IGNORECASE | re.DOTALL)

    def answer(request: requests.PreparedRequest) -> Any:  # (status, headers, body); responses keeps repeats
        timeout = read_timeout(getattr(request, "req_kwargs", {}).get("timeout"))
        found = mock.call(str(request.method), str(request.url), list(request.headers.items()), _body(request), timeout)
        if found.breaks is not None:
            raise broken(found, request, timeout)
        return found.status, found.headers, found.body

    for method in METHODS:
        router.add_callback(method, pattern, callback=answer, content_type=None)


@contextlib.contextmanager
def routed_requests(mock: InProcessMock, passthrough: tuple[str, ...] = ()) -> Iterator[Any]:
    """Route every `requests` call to the mock's hosts to it for the block (through `responses`)."""
    try:
        import responses
    except ImportError:
        raise ImportError("routing requests in-process needs `responses`: pip install 'tokenmock[testing]'") from None
    with responses.RequestsMock(assert_all_requests_are_fired=False, passthru_prefixes=passthrough) as router:
        add_requests_routes(router, mock)
        refuse_unrouted(router, mock, passthrough)
        yield router


def refuse_unrouted(router: Any, mock: InProcessMock, passthrough: tuple[str, ...]) -> None:
    """Refuse every other URL with a `ConnectionError` that names tokenmock and the routed hosts, instead
    of responses' generic refusal. The pattern leaves out the routed hosts (responses pops the first of
    two matching routes) and the passthrough prefixes (responses passes only requests no route matches)."""
    hosts = "|".join(re.escape(host) for host in sorted(mock.hosts))
    skipped = "".join(f"(?!{re.escape(prefix)})" for prefix in passthrough)
    pattern = re.compile(rf"(?!https?://(?:{hosts})(?::\d+)?(?:[/?#]|$)){skipped}.*", re.IGNORECASE | re.DOTALL)

    def refuse(request: requests.PreparedRequest) -> Any:
        raise requests.ConnectionError(mock.refusal(str(request.url)), request=request)

    for method in METHODS:
        router.add_callback(method, pattern, callback=refuse, content_type=None)
