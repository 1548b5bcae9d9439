"""HTTP/1.1 on both sides of the proxy, with h11: bytes in, the same bytes out.

A WSGI server would hand the proxy a re-built request (header names upper-cased, duplicates merged, the
target decoded); h11 hands over the request line's target as sent, each header with its own spelling and
order, and the body's bytes. Only what RFC 9110 §7.6.1 makes hop-by-hop changes on the way: `Connection`
and the fields it names, `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding`,
`Upgrade`; besides, `Proxy-Authorization` (meant for a proxy, never forwarded), `Expect` (the proxy has
answered it), `Host` (the upstream's authority, as any client of that URL would send) and the framing
(`Content-Length` of the body as read). The upstream's answer comes back the same way: its status line's
reason, header spellings and body unchanged.

Every exchange with the upstream runs under `contracts.budget`: one deadline for connect, TLS, request and
the whole answer, a cap on the answer's head and body. No redirect is ever followed: a 3xx is an answer.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import h11

from tokenmock.contracts.verify.report import safe_url
from tokenmock.mockserver.proxy.budget import HEAD_BYTES, BodyCap, BudgetExceeded, Deadline

HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding", b"upgrade"}
)
# Not forwarded either (see the module's docstring); the framing is set again from the body as read.
_NOT_FORWARDED = frozenset({b"proxy-authorization", b"expect", b"host", b"content-length"})

Headers = list[tuple[bytes, bytes]]


class ProxyError(Exception):
    """Root of the proxy's errors."""


class UpstreamFailure(ProxyError):
    """The upstream gave no usable answer: `kind` (connect, tls, deadline, body, head, protocol) and the
    status the client gets instead (502, or 504 when the deadline passed)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = 504 if kind == "deadline" else 502


@dataclass(frozen=True)
class Upstream:
    """Where the proxy forwards to: scheme, host, port, a path prefix, and the TLS context for https."""

    scheme: str
    host: str
    port: int
    prefix: str = ""
    tls: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    @classmethod
    def parse(cls, url: str, ca_file: str | None = None) -> Upstream:
        """An `http(s)://host[:port][/prefix]` URL; no credentials, query or fragment (they would be sent
        to the wrong place or printed in reports). `ca_file` is trusted for https instead of the system's."""
        try:
            parts = urlsplit(url)
            shown = safe_url(url)
        except ValueError:
            raise ProxyError("--upstream is not a URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProxyError(f"--upstream must be an http:// or https:// URL with a host, not {shown!r}")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ProxyError("--upstream takes no user:password@, query or fragment (give credentials in requests)")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ProxyError("--upstream has an invalid port") from None
        context = None
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=ca_file)
        elif ca_file:
            raise ProxyError("--upstream-ca goes with an https:// upstream")
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"), context)

    @property
    def authority(self) -> str:
        """host[:port] as a Host header spells it (the port left out when it is the scheme's default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        """scheme://authority."""
        return f"{self.scheme}://{self.authority}"


@dataclass
class Answer:
    """A response as it goes to the client: status, reason phrase, headers (as spelt), body."""

    status: int
    reason: bytes
    headers: Headers
    body: bytes


def forwarded(headers: Headers, authority: str, body: bytes, framed: bool) -> Headers:
    """The client's headers as they go upstream: in order and as spelt, minus the hop-by-hop ones, Host set
    to the upstream's authority where the client's stood, the body framed by its length."""
    named = _connection_options(headers)
    out: Headers = []
    host_done = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"host" and not host_done:
            out.append((name, authority.encode("ascii")))
            host_done = True
        elif lowered not in HOP_BY_HOP and lowered not in _NOT_FORWARDED and lowered not in named:
            out.append((name, value))
    if not host_done:
        out.insert(0, (b"Host", authority.encode("ascii")))
    if body or framed:
        out.append((b"Content-Length", str(len(body)).encode("ascii")))
    out.append((b"Connection", b"close"))  # one exchange per upstream connection: nothing pooled
    return out


def returned(headers: Headers, body: bytes, *, head_request: bool) -> Headers:
    """The upstream's headers as they go to the client: hop-by-hop ones removed, the body framed by its
    length (an answer to HEAD keeps the upstream's Content-Length: it describes the GET)."""
    named = _connection_options(headers)
    out = [
        (name, value)
        for name, value in headers
        if name.lower() not in HOP_BY_HOP and name.lower() not in named and name.lower() != b"content-length"
    ]
    if head_request:
        out += [(name, value) for name, value in headers if name.lower() == b"content-length"][:1]
    else:
        out.append((b"Content-Length", str(len(body)).encode("ascii")))
    return out


def _connection_options(headers: Headers) -> set[bytes]:
    """The field names a Connection header lists (hop-by-hop too, RFC 9110 §7.6.1)."""
    return {
        option.strip().lower()
        for name, value in headers
        if name.lower() == b"connection"
        for option in value.split(b",")
        if option.strip()
    }


def exchange(
    upstream: Upstream,
    method: bytes,
    target: bytes,
    headers: Headers,
    body: bytes,
    *,
    framed: bool,
    seconds: float,
    max_body: int,
) -> Answer:
    """Send one request upstream and read its whole answer within the budgets; `UpstreamFailure` if not."""
    deadline = Deadline(seconds)
    try:
        sock = _connect(upstream, deadline)
    except BudgetExceeded as exc:
        raise UpstreamFailure("deadline", str(exc)) from None
    try:
        return _converse(upstream, sock, method, target, headers, body, framed, deadline, max_body)
    except BudgetExceeded as exc:
        raise UpstreamFailure(exc.kind, str(exc)) from None
    except TimeoutError:
        raise UpstreamFailure("deadline", f"no complete answer within {seconds:g} s") from None
    except h11.RemoteProtocolError as exc:
        kind = "head" if "incomplete" in str(exc) or "too long" in str(exc).lower() else "protocol"
        raise UpstreamFailure(kind, f"the upstream's answer is not valid HTTP/1.1 ({exc})") from None
    except OSError as exc:
        raise UpstreamFailure("protocol", f"the connection to the upstream failed ({type(exc).__name__})") from None
    finally:
        sock.close()


def _connect(upstream: Upstream, deadline: Deadline) -> socket.socket:
    try:
        sock = socket.create_connection((upstream.host, upstream.port), timeout=deadline.remaining())
    except TimeoutError:
        raise UpstreamFailure("deadline", f"no connection to {upstream.origin} within {deadline.seconds:g} s") from None
    except OSError as exc:
        raise UpstreamFailure("connect", f"cannot connect to {upstream.origin} ({type(exc).__name__})") from None
    if upstream.tls is None:
        return sock
    try:
        sock.settimeout(deadline.remaining())
        return upstream.tls.wrap_socket(sock, server_hostname=upstream.host)
    except ssl.SSLError as exc:
        sock.close()
        raise UpstreamFailure("tls", f"TLS with {upstream.origin} failed ({exc.reason or exc})") from None
    except (OSError, BudgetExceeded):
        sock.close()
        raise UpstreamFailure("deadline", f"no TLS handshake with {upstream.origin} in time") from None


def _converse(
    upstream: Upstream,
    sock: socket.socket,
    method: bytes,
    target: bytes,
    headers: Headers,
    body: bytes,
    framed: bool,
    deadline: Deadline,
    max_body: int,
) -> Answer:
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=HEAD_BYTES)
    out = forwarded(headers, upstream.authority, body, framed)
    wire = conn.send(h11.Request(method=method, target=upstream.prefix.encode("ascii") + target, headers=out))
    if body:
        wire += conn.send(h11.Data(data=body))
    wire += conn.send(h11.EndOfMessage())
    sock.settimeout(deadline.remaining())
    sock.sendall(wire)
    cap = BodyCap(max_body)
    head: h11.Response | None = None
    chunks: list[bytes] = []
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            sock.settimeout(deadline.remaining())
            conn.receive_data(sock.recv(65536))
        elif isinstance(event, h11.InformationalResponse):
            continue  # 100 Continue and friends: this hop's business
        elif isinstance(event, h11.Response):
            head = event
        elif isinstance(event, h11.Data):
            chunks.append(cap.take(bytes(event.data)))
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            break
    if head is None:
        raise UpstreamFailure("protocol", "the upstream closed the connection without an answer")
    answer = bytes(b"".join(chunks))
    raw = [(bytes(name), bytes(value)) for name, value in head.headers.raw_items()]
    return Answer(head.status_code, bytes(head.reason), raw, answer)
