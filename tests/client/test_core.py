"""Client core: caching, renewal with leeway, single-flight, the 401 loop, retries, typed failures, secrets
and the file store; against the Vision10 mock over HTTP and against hand-written fake servers."""

from __future__ import annotations

import email.utils
import json
import os
import random
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from tests.conftest import EPOCH, LiveServer
from tokenmock.client import (
    AuthenticationError,
    ContractViolation,
    FileTokenStore,
    MemoryTokenStore,
    RequestRejected,
    RetryPolicy,
    Token,
    TokenError,
    TransportError,
)
from tokenmock.client.transport import Transport, parse_retry_after
from tokenmock.client.vision10 import Vision10Client
from tokenmock.mockserver.controls.clock import Clock
from tokenmock.mockserver.errors import InvalidToken
from tokenmock.mockserver.pipeline.exchange import Call, Reply

TOKEN_PATH = "/v1/api/oauth/token"
RESOURCE_PATH = "/v1/api/resource"
GOOD = {"access_token": "tok-ACCESS-1", "token_type": "Bearer", "expires_in": 7199}
DOCUMENTED_401 = [
    {
        "detail": "Please refer to invalid-params for error details",
        "errorCode": "240101",
        "instance": TOKEN_PATH,
        "invalid-params": ["Invalid client credentials or scope"],
        "source": "AGT",
        "status": 401,
        "title": "Unauthorized",
    }
]


# A fake HTTP server on a raw socket, so any reply (well-formed or not) can be played.

HANG = b"<hang>"


def http_reply(
    status: int,
    body: Any = b"",
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
) -> bytes:
    """A complete HTTP/1.1 response that closes the connection."""
    if not isinstance(body, bytes):
        body = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


Script = Callable[[int], bytes | Iterable[bytes]]


class FakeServer:
    """Answers the n-th request with `script(n)`: bytes, an iterable of chunks (streamed), or HANG."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[bytes] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def hits(self) -> int:
        with self._lock:
            return len(self.requests)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                request = self._read_request(conn)
            except OSError:
                return
            with self._lock:
                index = len(self.requests)
                self.requests.append(request)
            answer = self.script(index)
            try:
                if answer == HANG:
                    self._stop.wait(10)
                elif isinstance(answer, bytes):
                    conn.sendall(answer)
                else:
                    for chunk in answer:
                        if self._stop.is_set():
                            break
                        conn.sendall(chunk)
            except OSError:
                pass  # the client hung up: expected for oversize and endless bodies

    @staticmethod
    def _read_request(conn: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")),
            0,
        )
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=5)


@pytest.fixture
def fake() -> Iterator[Callable[[Script], FakeServer]]:
    servers: list[FakeServer] = []

    def start(script: Script) -> FakeServer:
        server = FakeServer(script)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def always(reply: bytes | Iterable[bytes]) -> Script:
    return lambda _n: reply


def client_at(url: str, sleeps: list[float] | None = None, **options: Any) -> Vision10Client:
    """A Vision10 client whose sleeps are recorded instead of slept."""
    recorded = sleeps if sleeps is not None else []
    options.setdefault("retry", RetryPolicy(attempts=3, rng=random.Random(7)))
    return Vision10Client("demo-client", "demo-secret", base_url=url, sleep=recorded.append, **options)


# The Vision10 mock over HTTP.


class Now:
    """A settable clock for the client (the mock has its own, frozen at EPOCH)."""

    def __init__(self, at: float = EPOCH) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def mock_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(vendor="vision10")


@pytest.fixture
def live(mock_app: Flask, serve: Callable[[Flask], LiveServer]) -> LiveServer:
    return serve(mock_app)


def exchanges(app: Flask, operation: str | None = None) -> list[tuple[str, int]]:
    return [(e["operation"], e["status"]) for e in app.extensions["tokenmock"].journal.entries(operation=operation)]


def token_requests(app: Flask) -> int:
    return len(exchanges(app, "getAccessToken"))


def test_one_token_request_for_many_calls(mock_app: Flask, live: LiveServer) -> None:
    client = client_at(live.url)
    tokens = {client.token().access_token for _ in range(20)}
    auth = client.auth()
    statuses = [requests.get(live.url + RESOURCE_PATH, auth=auth, timeout=5).status_code for _ in range(5)]
    assert len(tokens) == 1 and statuses == [200] * 5
    assert token_requests(mock_app) == 1


@pytest.mark.parametrize("leeway", [0.0, 60.0, 300.0])
def test_renewal_shortly_before_expiry(mock_app: Flask, live: LiveServer, leeway: float) -> None:
    now = Now()
    client = client_at(live.url, clock=now, leeway=leeway)
    first = client.token()
    assert first.expires_at == EPOCH + 7199
    now.at = EPOCH + 7199 - leeway - 1
    assert client.token() is first
    assert token_requests(mock_app) == 1
    now.at = EPOCH + 7199 - leeway
    renewed = client.token()
    assert token_requests(mock_app) == 2
    assert renewed.expires_at == now.at + 7199


def test_default_leeway_is_sixty_seconds(mock_app: Flask, live: LiveServer) -> None:
    now = Now()
    client = client_at(live.url, clock=now)
    client.token()
    now.at = EPOCH + 7139
    client.token()
    assert token_requests(mock_app) == 2


def test_short_lifetime_below_the_leeway_does_not_renew_on_every_call(
    make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer]
) -> None:
    app = make_app(vendor="vision10", vendors={"vision10": {"token_lifetime": 30}})
    now = Now()
    client = client_at(serve(app).url, clock=now)  # leeway 60 > lifetime 30
    for _ in range(5):
        client.token()
    assert token_requests(app) == 1
    now.at = EPOCH + 14
    client.token()
    assert token_requests(app) == 1
    now.at = EPOCH + 15  # half the lifetime: renewed well before expiry
    client.token()
    assert token_requests(app) == 2


def run_together(count: int, work: Callable[[], str]) -> list[str]:
    """`work` in `count` threads released at once; their results (errors re-raised)."""
    barrier = threading.Barrier(count)
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            value = work()
        except BaseException as exc:
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(value)

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    if errors:
        raise errors[0]
    return results


def test_single_flight_renewal_under_32_threads(mock_app: Flask, live: LiveServer) -> None:
    now = Now()
    client = client_at(live.url, clock=now)
    cold = run_together(32, lambda: client.token().access_token)
    assert len(cold) == 32 and len(set(cold)) == 1
    assert token_requests(mock_app) == 1
    now.at = EPOCH + 7199  # expired for every thread at once
    warm = run_together(32, lambda: client.token().access_token)
    assert len(warm) == 32 and len(set(warm)) == 1
    assert token_requests(mock_app) == 2


def test_401_renews_once_and_retries_once(mock_app: Flask, live: LiveServer) -> None:
    client = client_at(live.url)
    auth = client.auth()
    assert requests.get(live.url + RESOURCE_PATH, auth=auth, timeout=5).status_code == 200
    first = client.token().access_token
    mock_app.extensions["tokenmock"].store.revoke(first)
    mock_app.extensions["tokenmock"].clock.advance(1)  # so the renewed token differs from the revoked one
    answer = requests.get(live.url + RESOURCE_PATH, auth=auth, timeout=5)
    assert answer.status_code == 200
    assert [r.status_code for r in answer.history] == [401]
    assert client.token().access_token != first
    assert exchanges(mock_app) == [
        ("getAccessToken", 200),
        ("getProtectedResource", 200),
        ("getProtectedResource", 401),
        ("getAccessToken", 200),
        ("getProtectedResource", 200),
    ]


def test_401_twice_is_returned_without_a_loop(mock_app: Flask, live: LiveServer) -> None:
    def refuse(call: Call) -> Reply:
        raise InvalidToken("always refused")

    mock_app.extensions["tokenmock"].vendors["vision10"].get_protected_resource = refuse
    client = client_at(live.url)
    answer = requests.get(live.url + RESOURCE_PATH, auth=client.auth(), timeout=5)
    assert answer.status_code == 401
    assert exchanges(mock_app) == [
        ("getAccessToken", 200),
        ("getProtectedResource", 401),
        ("getAccessToken", 200),
        ("getProtectedResource", 401),
    ]
    # Each new call gets its own single retry, never more.
    requests.get(live.url + RESOURCE_PATH, auth=client.auth(), timeout=5)
    assert len(exchanges(mock_app, "getProtectedResource")) == 4


def test_expired_at_the_server_before_the_client_notices(mock_app: Flask, live: LiveServer, clock: Clock) -> None:
    client = client_at(live.url)  # real time for the client: its token is fresh
    auth = client.auth()
    requests.get(live.url + RESOURCE_PATH, auth=auth, timeout=5)
    clock.advance(7200)  # the mock's clock: expired there
    answer = requests.get(live.url + RESOURCE_PATH, auth=auth, timeout=5)
    assert answer.status_code == 200
    assert token_requests(mock_app) == 2


def test_other_refusals_are_not_retried(mock_app: Flask, live: LiveServer) -> None:
    client = client_at(live.url)
    answer = requests.post(live.url + RESOURCE_PATH, auth=client.auth(), timeout=5)
    assert answer.status_code == 405
    assert len(exchanges(mock_app)) == 2  # token + one 405, no retry


def test_credentials_refused_during_the_401_retry_raise_a_token_error(mock_app: Flask, live: LiveServer) -> None:
    client = client_at(live.url)
    auth = client.auth()
    requests.get(live.url + RESOURCE_PATH, auth=auth, timeout=5)
    mock = mock_app.extensions["tokenmock"]
    mock.store.revoke(client.token().access_token)
    mock.vendors["vision10"].settings["clients"][0]["client_secret"] = "rotated"
    with pytest.raises(AuthenticationError) as caught:
        requests.get(live.url + RESOURCE_PATH, auth=auth, timeout=5)
    assert caught.value.code == "240101"


# Retries, backoff, jitter, Retry-After.


def test_5xx_forever_is_bounded_with_jittered_backoff(fake: Callable[[Script], FakeServer]) -> None:
    server = fake(always(http_reply(503, {"error": "down"})))
    sleeps: list[float] = []
    policy = RetryPolicy(attempts=5, base=0.5, cap=2.0, rng=random.Random(1))
    with pytest.raises(TransportError) as caught:
        client_at(server.url, sleeps, retry=policy).token()
    assert caught.value.status == 503
    assert server.hits == 5
    assert len(sleeps) == 4
    bounds = [0.5, 1.0, 2.0, 2.0]  # base * 2**n, capped
    assert all(0 < delay <= bound for delay, bound in zip(sleeps, bounds, strict=True))
    assert len(set(sleeps)) == 4  # jittered, not a fixed schedule


def test_backoff_bounds_over_many_draws() -> None:
    policy = RetryPolicy(base=0.2, cap=5.0, rng=random.Random(3))
    for attempt in range(1, 12):
        bound = min(5.0, 0.2 * 2 ** (attempt - 1))
        draws = [policy.delay(attempt) for _ in range(300)]
        assert all(0 <= d <= bound for d in draws)
        assert max(draws) > 0.8 * bound  # full jitter spans the range
        assert min(draws) < 0.2 * bound


@pytest.mark.parametrize("attempts", [0, -1])
def test_a_policy_without_attempts_is_refused(attempts: int) -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=attempts)


def test_429_forever_honours_retry_after(fake: Callable[[Script], FakeServer]) -> None:
    server = fake(always(http_reply(429, {"error": "slow down"}, headers={"Retry-After": "2"})))
    sleeps: list[float] = []
    with pytest.raises(TransportError) as caught:
        client_at(server.url, sleeps).token()
    assert caught.value.status == 429
    assert sleeps == [2.0, 2.0]
    assert server.hits == 3


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("3600", 10.0), ("0", 0.0), ("-5", None), ("soon", None), ("1.5", None)],
)
def test_retry_after_is_capped_and_garbage_falls_back_to_backoff(
    fake: Callable[[Script], FakeServer], retry_after: str, expected: float | None
) -> None:
    replies = [http_reply(503, "", headers={"Retry-After": retry_after}), http_reply(200, GOOD)]
    server = fake(lambda n: replies[min(n, 1)])
    sleeps: list[float] = []
    assert client_at(server.url, sleeps).token().access_token == "tok-ACCESS-1"
    assert len(sleeps) == 1
    if expected is None:
        assert 0 <= sleeps[0] <= 0.2  # the first backoff step
    else:
        assert sleeps[0] == expected


def test_retry_after_as_an_http_date(fake: Callable[[Script], FakeServer]) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    replies = [http_reply(503, "", headers={"Retry-After": when}), http_reply(200, GOOD)]
    server = fake(lambda n: replies[min(n, 1)])
    sleeps: list[float] = []
    client_at(server.url, sleeps).token()
    assert sleeps and 8.0 <= sleeps[0] <= 10.0  # ~30 s away, capped at 10


def test_parse_retry_after_unit() -> None:
    assert parse_retry_after("7", 0) == 7.0
    assert parse_retry_after(None, 0) is None
    assert parse_retry_after("", 0) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480.0) == 0.0


def test_connection_refused_is_retried_then_a_transport_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    sleeps: list[float] = []
    with pytest.raises(TransportError, match=rf"cannot reach http://127\.0\.0\.1:{port}: connection refused") as caught:
        client_at(f"http://127.0.0.1:{port}", sleeps).token()
    assert caught.value.status is None
    assert len(sleeps) == 2


def test_a_server_that_never_answers_times_out(fake: Callable[[Script], FakeServer]) -> None:
    server = fake(always(HANG))
    started = time.monotonic()
    with pytest.raises(TransportError, match="no answer within"):
        client_at(server.url, timeout=0.3, retry=RetryPolicy(attempts=2)).token()
    assert time.monotonic() - started < 3
    assert server.hits == 2


def test_headers_dripped_forever_are_cut_by_the_deadline(fake: Callable[[Script], FakeServer]) -> None:
    def drip() -> Iterator[bytes]:
        yield b"HTTP/1.1 200 OK\r\nX-Drip: "
        for _ in range(200):
            time.sleep(0.05)
            yield b"a"

    server = fake(lambda _n: drip())
    started = time.monotonic()
    with pytest.raises(TransportError):
        client_at(server.url, timeout=0.5, retry=RetryPolicy(attempts=1)).token()
    assert time.monotonic() - started < 3


def test_a_body_dripped_forever_is_cut_by_the_deadline(fake: Callable[[Script], FakeServer]) -> None:
    def drip() -> Iterator[bytes]:
        yield b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
        for _ in range(200):
            time.sleep(0.05)
            yield b" "

    server = fake(lambda _n: drip())
    started = time.monotonic()
    with pytest.raises(TransportError, match="did not arrive"):
        client_at(server.url, timeout=0.5, retry=RetryPolicy(attempts=1)).token()
    assert time.monotonic() - started < 3


# For any response whatsoever: a Token or a TokenError.

HTML = "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (http_reply(200, b"hello"), ContractViolation),
        (http_reply(200, b""), ContractViolation),
        (http_reply(200, b"\xff\xfe{}"), ContractViolation),
        (http_reply(200, b"[" * 100_000), ContractViolation),
        (http_reply(200, "null"), ContractViolation),
        (http_reply(200, [GOOD]), ContractViolation),
        (http_reply(200, HTML, "text/html"), ContractViolation),
        (http_reply(400, HTML, "text/html"), ContractViolation),
        (http_reply(200, GOOD, "text/plain"), ContractViolation),
        (http_reply(200, {"token_type": "Bearer", "expires_in": 60}), ContractViolation),
        (http_reply(200, {**GOOD, "access_token": None}), ContractViolation),
        (http_reply(200, {**GOOD, "expires_in": "3600"}), ContractViolation),
        (http_reply(200, {**GOOD, "expires_in": -1}), ContractViolation),
        (http_reply(200, {**GOOD, "expires_in": 0}), ContractViolation),
        (http_reply(200, {**GOOD, "expires_in": 10**12}), ContractViolation),
        (http_reply(200, {**GOOD, "expires_in": 3600.5}), ContractViolation),
        (http_reply(200, {**GOOD, "expires_in": True}), ContractViolation),
        (http_reply(401, {"error": "invalid_client"}), ContractViolation),
        (http_reply(401, [{"errorCode": "240101"}]), ContractViolation),
        (http_reply(403, DOCUMENTED_401), ContractViolation),
        (http_reply(204, b"", None), ContractViolation),
        (http_reply(302, b"", None, {"Location": "http://127.0.0.1:9/elsewhere"}), ContractViolation),
        (http_reply(401, DOCUMENTED_401), AuthenticationError),
        (http_reply(200, b"x" * (2 << 20)), ContractViolation),
        (http_reply(502, HTML, "text/html"), TransportError),
        (b"NOT HTTP AT ALL\r\n\r\n", TransportError),
        (
            b'HTTP/1.1 200 OK\r\nContent-Length: 500\r\nContent-Type: application/json\r\n\r\n{"access',
            TransportError,
        ),
        (b"", TransportError),
    ],
)
def test_every_failure_is_a_token_error(
    fake: Callable[[Script], FakeServer], reply: bytes, kind: type[TokenError]
) -> None:
    server = fake(always(reply))
    with pytest.raises(TokenError) as caught:
        client_at(server.url, timeout=2).token()
    assert type(caught.value) is kind, repr(caught.value)
    assert caught.value.vendor == "vision10"
    assert server.hits <= 3


def test_an_endless_body_stops_at_the_size_cap(fake: Callable[[Script], FakeServer]) -> None:
    def endless() -> Iterator[bytes]:
        yield b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        chunk = b"x" * 65536
        while True:
            yield b"%x\r\n%s\r\n" % (len(chunk), chunk)

    server = fake(lambda _n: endless())
    with pytest.raises(ContractViolation, match="larger than"):
        client_at(server.url).token()
    assert server.hits == 1  # not retried


def test_a_redirect_is_not_followed(fake: Callable[[Script], FakeServer]) -> None:
    target = fake(always(http_reply(200, GOOD)))
    server = fake(always(http_reply(307, b"", None, {"Location": target.url + TOKEN_PATH})))
    with pytest.raises(ContractViolation) as caught:
        client_at(server.url).token()
    assert caught.value.status == 307
    assert target.hits == 0  # the credentials were not sent on to another host


def test_documented_refusals_are_typed(fake: Callable[[Script], FakeServer]) -> None:
    too_long = [
        {
            **DOCUMENTED_401[0],
            "errorCode": "240003",
            "status": 400,
            "title": "Bad Request",
            "invalid-params": ["client_id: too long"],
        }
    ]
    server = fake(lambda n: http_reply(401, DOCUMENTED_401) if n == 0 else http_reply(400, too_long))
    with pytest.raises(AuthenticationError) as refused:
        client_at(server.url).token()
    assert (refused.value.status, refused.value.code) == (401, "240101")
    assert refused.value.message == "Invalid client credentials or scope"
    assert refused.value.payload == DOCUMENTED_401
    with pytest.raises(RequestRejected) as rejected:
        client_at(server.url).token()
    assert (rejected.value.status, rejected.value.code) == (400, "240003")
    assert server.hits == 2  # 4xx are not retried


def test_every_call_has_a_timeout() -> None:
    seen: list[Any] = []

    class Recorder(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> Any:
            seen.append(kwargs.get("timeout"))
            raise requests.ConnectionError("offline")

    client = Vision10Client("id", "secret", base_url="http://127.0.0.1:9", session=Recorder(), sleep=lambda _s: None)
    with pytest.raises(TransportError):
        client.token()
    assert seen == [10.0, 10.0, 10.0]


# Secrets stay out of repr() and str().


def test_secrets_absent_from_repr_and_str(
    mock_app: Flask, live: LiveServer, fake: Callable[[Script], FakeServer]
) -> None:
    client = Vision10Client("demo-client", "demo-secret", base_url=live.url)
    token = client.token()
    refused = Vision10Client("demo-client", "wrong-SECRET-value", base_url=live.url)
    with pytest.raises(AuthenticationError) as auth_error:
        refused.token()
    leaking = fake(always(http_reply(200, {**GOOD, "access_token": "tok-SECRET-leak", "expires_in": "soon"})))
    with pytest.raises(ContractViolation) as violation:
        client_at(leaking.url).token()
    texts = [
        repr(client),
        str(client),
        repr(refused),
        str(refused),
        repr(client.auth()),
        repr(token),
        str(token),
        repr(auth_error.value),
        str(auth_error.value),
        repr(violation.value),
        str(violation.value),
        repr(client.transport.retry),
    ]
    for text in texts:
        assert "demo-secret" not in text and "wrong-SECRET" not in text, text
        assert token.access_token not in text and "tok-SECRET-leak" not in text, text
    assert "demo-client" in repr(client)  # the identity is shown, only secrets are hidden


def test_token_model_expiry_and_round_trip() -> None:
    token = Token("acc-XYZ", expires_at=100.0, refresh_token="ref-XYZ", scope="all", raw={"access_token": "acc-XYZ"})
    assert not token.is_expired(now=99.9)
    assert token.is_expired(now=100.0)
    assert token.is_expired(leeway=10, now=90.0) and not token.is_expired(leeway=10, now=89.9)
    assert not Token("a").is_expired(leeway=10**9)
    assert Token.from_dict(token.to_dict()) == token
    assert "XYZ" not in repr(token) and "XYZ" not in str(token)


# The token stores.


def test_file_store_is_private_and_survives_a_new_instance(mock_app: Flask, live: LiveServer, tmp_path: Path) -> None:
    path = tmp_path / "state" / "tokens.json"
    old_umask = os.umask(0)
    try:
        first = client_at(live.url, store=FileTokenStore(path)).token()
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "demo-secret" not in path.read_text()
    again = client_at(live.url, store=FileTokenStore(path)).token()
    assert again.access_token == first.access_token
    assert again.expires_at == first.expires_at
    assert token_requests(mock_app) == 1
    assert not list(path.parent.glob(".tokens-*"))  # no temporary files left behind


def test_file_store_tightens_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("{}")
    path.chmod(0o644)
    FileTokenStore(path).save("k", Token("a", expires_at=1.0))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert FileTokenStore(path).load("k") == Token("a", expires_at=1.0)


def test_file_store_keeps_clients_apart_and_clears(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "tokens.json")
    store.save("a", Token("ta"))
    store.save("b", Token("tb"))
    assert store.load("a") == Token("ta") and store.load("b") == Token("tb")
    store.clear("a")
    assert store.load("a") is None and FileTokenStore(tmp_path / "tokens.json").load("b") == Token("tb")


@pytest.mark.parametrize("content", ["not json", "[]", '{"k": {"token_type": "Bearer"}}', '{"k": 5}'])
def test_a_damaged_file_store_means_log_in_again(
    mock_app: Flask, live: LiveServer, tmp_path: Path, content: str
) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(content)
    client = client_at(live.url, store=FileTokenStore(path))
    assert client.token().access_token
    assert token_requests(mock_app) == 1
    assert json.loads(path.read_text())[client.store_key]["access_token"]


def test_an_expired_stored_token_is_renewed(mock_app: Flask, live: LiveServer) -> None:
    store = MemoryTokenStore()
    now = Now()
    client_at(live.url, store=store, clock=now).token()
    now.at += 7199
    client_at(live.url, store=store, clock=now).token()
    assert token_requests(mock_app) == 2


def test_a_shared_memory_store_serves_the_same_identity_only(mock_app: Flask, live: LiveServer) -> None:
    store = MemoryTokenStore()
    client_at(live.url, store=store).token()
    client_at(live.url, store=store).token()
    assert token_requests(mock_app) == 1
    Vision10Client("vision-api-user", "abcdefghizklmnopponommnshfghzxxs", base_url=live.url, store=store).token()
    assert token_requests(mock_app) == 2


def test_invalidate_only_drops_the_named_token(mock_app: Flask, live: LiveServer) -> None:
    client = client_at(live.url)
    token = client.token()
    client.invalidate(Token("some-other-token"))
    assert client.token() is token
    client.invalidate(token)
    client.token()
    assert token_requests(mock_app) == 2


def test_transport_reads_with_a_size_cap_unit(fake: Callable[[Script], FakeServer]) -> None:
    server = fake(always(http_reply(200, b"y" * 2048)))
    transport = Transport("vision10", max_body_bytes=1024, retry=RetryPolicy(attempts=1))
    with pytest.raises(ContractViolation, match="larger than 1024 bytes"):
        transport.send("GET", server.url)
    assert Transport("vision10").send("GET", server.url).body == b"y" * 2048
