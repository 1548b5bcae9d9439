"""Secrets stay secret: not in the mock's log, its journal or its answers, not in the client's repr or errors.

Also: every credential check goes through `hmac.compare_digest` (counted by wrapping it), and the client's
token file is readable by its owner only.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from tests.reliability.serving import Served, served
from tests.security.flows import (
    DEMO_PROFILE,
    JSON_API,
    RESOURCES,
    VENDORS,
    Answer,
    Credentials,
    Http,
    call_resource,
    flask_http,
    login,
    md5_hex,
    refresh,
    requests_http,
    tokens_of,
)
from tokenmock.client import CLIENTS, FileTokenStore, Token, TokenClient, TransportError
from tokenmock.client.base import MIN_SCRUBBED
from tokenmock.mockserver import create_app
from tokenmock.mockserver.controls.clock import Clock

CANARY = "Canary-S3cret-7f3a9c"  # a secret the mock never accepts; it must never be seen again
WRONG = Credentials(client_secret=CANARY, client_key=CANARY, password=CANARY)
DEMO_SECRETS = [
    "demo-secret",
    "demo-password",
    md5_hex("demo-password"),
    "demo-client-key",
    "demo-session",
    "abcdefghizklmnopponommnshfghzxxs",
    base64.b64encode(b"demo-client:demo-secret").decode(),
]


def hostile_battery(http: Http) -> list[str]:
    """Right and wrong credentials, in every place and malformed every way; the secrets that were sent."""
    issued: list[str] = []
    for vendor in VENDORS:
        access, refresh_token = tokens_of(vendor, login(vendor, http))
        issued += [t for t in (access, refresh_token) if t]
        login(vendor, http, WRONG)
        for resource in RESOURCES[vendor]:
            call_resource(vendor, http, access, resource)
            call_resource(vendor, http, CANARY, resource)
            call_resource(vendor, http, access + CANARY, resource)
        if refresh_token:
            refresh(vendor, http, refresh_token)
            refresh(vendor, http, refresh_token)  # the replay
            refresh(vendor, http, CANARY)
    canary_b64 = base64.b64encode(f"demo-client:{CANARY}".encode()).decode()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for method, path, headers, data, params in [
        ("POST", "/junctiontv/ums/2.0/oauth/", {**form, "Authorization": f"Basic {canary_b64}"}, b"", None),
        ("POST", "/junctiontv/ums/2.0/oauth/", {**form, "Authorization": f"Basic demo-client:{CANARY}"}, b"", None),
        ("POST", "/junctiontv/ums/2.0/oauth/", {**form, "Authorization": f"Basic {CANARY}!!"}, b"", None),
        ("GET", "/junctiontv/ums/2.0/resource", {"Authorization": issued[0]}, None, None),
        ("GET", "/junctiontv/ums/2.0/resource", {}, None, {"access_token": issued[0]}),
        ("GET", "/junctiontv/ums/2.0/resource", {}, None, {"access_token": CANARY}),
        (
            "POST",
            "/clickview/connect/token",
            form,
            f"client_id=demo-client&client_secret={CANARY}&client_secret={CANARY}",
            None,
        ),
        ("POST", "/clickview/connect/token", form, b"client_secret=" + CANARY.encode() + b"\xff\xfe", None),
        (
            "POST",
            "/clickview/connect/token",
            {**form, "Authorization": f"Basic {canary_b64}"},
            "grant_type=client_credentials",
            None,
        ),
        ("POST", "/clickview/connect/token", {"Content-Type": "text/plain"}, f"client_secret={CANARY}", None),
        (
            "POST",
            "/vision10/v1/api/oauth/token",
            {"Content-Type": "application/json"},
            json.dumps({"client_secret": [CANARY]}),
            None,
        ),
        (
            "POST",
            "/vision10/v1/api/oauth/token",
            {"Content-Type": "application/json"},
            json.dumps({"client_secret": CANARY * 20}),
            None,
        ),
        (
            "POST",
            "/vision10/v1/api/oauth/token",
            {"Content-Type": "application/json"},
            '{"client_secret": "' + CANARY + '"',
            None,
        ),
        ("POST", "/vision10/v1/api/oauth/token", {}, None, {"client_secret": CANARY, "password": CANARY}),
        (
            "POST",
            "/divetv/v1/token",
            {"Authorization": f"Basic {CANARY}", "Content-Type": "application/json"},
            json.dumps({"username": "demo-user", "password": CANARY}),
            {"grant_type": "device_credentials"},
        ),
        (
            "POST",
            "/divetv/v1/token",
            {"Authorization": "Basic demo-client-key", "Content-Type": "application/json"},
            json.dumps({"username": "demo-user", "password": md5_hex(CANARY)}),
            {"grant_type": "device_credentials"},
        ),
        (
            "POST",
            "/divetv/v1/token",
            {"Authorization": "Basic demo-client-key", "Content-Type": "application/json"},
            json.dumps({"username": "demo-user", "password": md5_hex("demo-password")}),
            {"grant_type": "password"},
        ),
        (
            "POST",
            "/aminotv/auth/login",
            {"Content-Type": JSON_API},
            json.dumps({"username": "nobody@example.com", "password": CANARY}),
            None,
        ),
        (
            "POST",
            "/aminotv/auth/login",
            {"Content-Type": JSON_API},
            json.dumps({"data": {"attributes": {"password": CANARY}}}),
            None,
        ),
        ("POST", "/aminotv/auth/cookie-exchange", {"Cookie": "session=demo-session"}, None, None),
        ("POST", "/aminotv/auth/cookie-exchange", {"Cookie": f"session={CANARY}"}, None, None),
        ("POST", f"/aminotv/profiles/{DEMO_PROFILE}/token", {"Authorization": f"Basic {canary_b64}"}, None, None),
        ("GET", "/__mock/requests", {"Authorization": f"Bearer {CANARY}", "X-Api-Key": CANARY}, None, None),
    ]:
        http(method, path, headers=headers, data=data, params=params)
    return issued


def leaks(text: str, issued: list[str]) -> list[str]:
    """Which secrets (or a JWT's signature part) occur in `text`."""
    candidates = [CANARY, *DEMO_SECRETS, *issued, *(t.rsplit(".", 1)[-1] for t in issued if t.count(".") >= 1)]
    return [c for c in candidates if len(c) >= 8 and c in text]


@pytest.fixture
def app(clock: Clock) -> Flask:
    settings = {"validate_responses": False, "access_log": True, "clock": clock, "journal_size": 10_000}
    return create_app({**settings, "readings": {"V10-01": "lenient", "JTV-12": "lenient"}})


class Recording:
    """An `Http` that keeps every answer, to search them afterwards."""

    def __init__(self, http: Http) -> None:
        self.http = http
        self.answers: list[Answer] = []

    def __call__(self, method: str, path: str, **kwargs: Any) -> Answer:
        answer = self.http(method, path, **kwargs)
        self.answers.append(answer)
        return answer


def test_log_and_journal_never_hold_a_secret(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    http = Recording(flask_http(app.test_client(use_cookies=False)))
    issued = hostile_battery(http)
    journal = app.test_client(use_cookies=False).get("/__mock/requests").get_json()
    assert journal["count"] >= 50
    assert leaks(caplog.text, issued) == []
    assert leaks(json.dumps(journal), issued) == []
    assert len(caplog.records) >= journal["count"]  # one line per request: the log was on


def test_refusals_never_echo_what_was_sent(app: Flask) -> None:
    http = Recording(flask_http(app.test_client(use_cookies=False)))
    hostile_battery(http)
    refusals = [a for a in http.answers if a.status >= 400]
    assert len(refusals) >= 30
    for answer in refusals:
        assert CANARY not in answer.body.decode("utf-8", "replace") + json.dumps(dict(answer.headers))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served([], tmp_path_factory.mktemp("secrets") / "serve.log") as server:
        yield server


def test_the_access_log_of_a_live_server_holds_no_secret(live: Served) -> None:
    with requests.Session() as session:
        issued = hostile_battery(requests_http(session, live.url))
    log = live.log_once(lambda text: text.count("tokenmock.access") >= 50)
    assert log.count("tokenmock.access") >= 50
    assert leaks(log, issued) == []


def test_malformed_requests_do_not_put_their_request_line_in_the_log(live: Served) -> None:
    import socket

    before = len(live.log())
    for line in (
        f"GET /junctiontv/ums/2.0/resource?access_token={CANARY} HTTP/1.1 trailing-junk\r\n\r\n",
        f"GET /junctiontv/ums/2.0/resource?access_token={CANARY}\x00 HTTP/1.1\r\n\r\n",
        f"POST /clickview/connect/token HTTP/1.1\r\nAuthorization: Basic {CANARY}\r\n X-Folded: {CANARY}\r\n\r\n",
    ):
        with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
            sock.sendall(line.encode("latin-1"))
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
    assert requests.get(live.url + "/clickview/api/v1/example", timeout=5).status_code == 401
    marker = "GET /clickview/api/v1/example -> 401"  # its access line is out, so are the lines before it
    log = live.log_once(lambda text: marker in text[before:])
    assert marker in log[before:]
    assert CANARY not in log[before:]


# The reference client.


def _class(vendor: str) -> Any:
    """The vendor's client class (each takes its own credential names)."""
    return CLIENTS[vendor]


def _client(vendor: str, base_url: str, **options: Any) -> TokenClient:
    arguments = {
        "junctiontv": {"client_id": "demo-client", "client_secret": CANARY},
        "clickview": {"client_id": "demo-client", "client_secret": CANARY},
        "vision10": {"client_id": "demo-client", "client_secret": CANARY},
        "divetv": {"client_key": CANARY, "username": "demo-user", "password": CANARY},
        "aminotv": {"username": "demo@example.com", "password": CANARY},
    }[vendor]
    return _class(vendor)(**arguments, base_url=base_url, **options)


def _echoing_server(serve: Callable[[Flask], Any]) -> str:
    """A server that refuses every token request and quotes everything it was sent in its error text."""
    echo = Flask("echo")

    @echo.route("/<path:anything>", methods=["GET", "POST"])
    def refuse(anything: str) -> Any:
        from flask import request

        sent = f"{request.headers} {request.get_data(as_text=True)} {request.query_string.decode()}"
        quoted = "".join(c for c in sent.replace('"', "'").replace("\\", "/") if " " <= c <= "~")
        return echo.response_class(
            _refusal_for(anything, quoted),
            status=401,
            mimetype=_media_for(anything),
            headers={"WWW-Authenticate": 'Basic realm="echo"'},
        )

    return str(serve(echo).url)


def _media_for(path: str) -> str:
    return JSON_API if path.startswith("auth/") else "application/json"


def _refusal_for(path: str, sent: str) -> str:
    if "ums/2.0/oauth" in path:
        return json.dumps({"result": "error", "message": "UNAUTHORIZED", "reason": f"refused {sent}"})
    if "oauth/token" in path:
        return json.dumps(
            [
                {
                    "detail": "x",
                    "errorCode": "240101",
                    "instance": "/",
                    "invalid-params": [f"refused {sent}"],
                    "source": "AGT",
                    "status": 401,
                    "title": "Unauthorized",
                }
            ]
        )
    if path.startswith("auth/"):
        return json.dumps(
            {
                "errors": [
                    {
                        "status": "401",
                        "code": "invalid_credentials",
                        "title": "Invalid credentials",
                        "detail": f"refused {sent}",
                    }
                ]
            }
        )
    return json.dumps({"error": "invalid_client", "error_description": f"refused {sent}"})


SENT_SECRETS = [CANARY, md5_hex(CANARY), base64.b64encode(f"demo-client:{CANARY}".encode()).decode()]


def _text_of(error: BaseException) -> str:
    parts: list[str] = []
    seen: BaseException | None = error
    while seen is not None:
        parts += [str(seen), repr(seen), *map(str, seen.args)]
        seen = seen.__cause__ or seen.__context__
    return " ".join(parts)


@pytest.mark.parametrize("vendor", VENDORS)
def test_client_errors_never_carry_a_secret_a_server_echoed(vendor: str, serve: Callable[[Flask], Any]) -> None:
    client = _client(vendor, _echoing_server(serve))
    with pytest.raises(Exception) as refused:
        client.token()
    text = _text_of(refused.value)
    assert "refused" in text  # the server's message did come through
    assert [s for s in SENT_SECRETS if s in text] == []


@pytest.mark.parametrize("vendor", VENDORS)
def test_client_repr_and_transport_errors_hold_no_secret(vendor: str) -> None:
    client = _client(vendor, "http://127.0.0.1:9", timeout=0.5, sleep=lambda _s: None)
    shown = repr(client) + repr(client.auth()) + str(client)
    with pytest.raises(TransportError) as failed:
        client.token()
    shown += _text_of(failed.value)
    assert [s for s in SENT_SECRETS if s in shown] == []


def test_a_token_hides_its_secrets() -> None:
    token = Token(access_token=CANARY, refresh_token=CANARY + "-r", raw={"access_token": CANARY})
    assert CANARY not in repr(token) and CANARY not in str(token)


def test_short_secrets_are_not_scrubbed_into_garbage() -> None:
    """A secret shorter than MIN_SCRUBBED is left in place: replacing every "ab" would garble the text."""
    client = _client("vision10", "http://127.0.0.1:9")
    client._client_secret = "ab"  # type: ignore[attr-defined]
    assert client._scrub("tab about") == "tab about"
    client._client_secret = "a" * MIN_SCRUBBED  # type: ignore[attr-defined]
    assert client._scrub("x" + "a" * MIN_SCRUBBED + "y") == "x[redacted]y"


@pytest.mark.parametrize("vendor", VENDORS)
def test_client_logs_no_secret(
    vendor: str, serve: Callable[[Flask], Any], make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    base = serve(make_app(vendor=vendor)).url
    client = _client(vendor, base)
    demo = {
        "junctiontv": {"client_id": "demo-client", "client_secret": "demo-secret"},
        "clickview": {"client_id": "demo-client", "client_secret": "demo-secret"},
        "vision10": {"client_id": "demo-client", "client_secret": "demo-secret"},
        "divetv": {"client_key": "demo-client-key", "username": "demo-user", "password": "demo-password"},
        "aminotv": {"username": "demo@example.com", "password": "demo-password"},
    }[vendor]
    good = _class(vendor)(**demo, base_url=base)
    token = good.token()
    with pytest.raises(Exception):  # noqa: B017 - each vendor refuses in its own way; the text is what matters
        client.token()
    secrets = [*SENT_SECRETS, *DEMO_SECRETS, token.access_token, *filter(None, [token.refresh_token])]
    assert [s for s in secrets if s in caplog.text] == []


# Constant-time comparison.


class CompareDigestSpy:
    """Wraps hmac.compare_digest and keeps what it was asked to compare."""

    def __init__(self) -> None:
        self.calls: list[tuple[bytes, bytes]] = []
        self._real = hmac.compare_digest

    def __call__(self, a: Any, b: Any) -> bool:
        self.calls.append(
            (a.encode() if isinstance(a, str) else bytes(a), b.encode() if isinstance(b, str) else bytes(b))
        )
        return self._real(a, b)

    def compared(self, value: str) -> bool:
        wanted = value.encode()
        return any(wanted in (a, b) for a, b in self.calls)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> CompareDigestSpy:
    recorder = CompareDigestSpy()
    monkeypatch.setattr(hmac, "compare_digest", recorder)
    return recorder


CREDENTIAL_CHECKS: dict[str, tuple[Callable[[Http], Answer], str]] = {
    "junctiontv client secret": (lambda h: login("junctiontv", h, WRONG), CANARY),
    "clickview client secret": (lambda h: login("clickview", h, WRONG), CANARY),
    "vision10 client secret": (lambda h: login("vision10", h, WRONG), CANARY),
    "divetv client key": (lambda h: login("divetv", h, Credentials(client_key=CANARY)), CANARY),
    "divetv password": (lambda h: login("divetv", h, Credentials(password=CANARY)), md5_hex(CANARY)),
    "aminotv password": (lambda h: login("aminotv", h, WRONG), CANARY),
    "aminotv session cookie": (
        lambda h: h("POST", "/aminotv/auth/cookie-exchange", headers={"Cookie": f"session={CANARY}"}),
        CANARY,
    ),
    "junctiontv token seal": (
        lambda h: h("GET", "/junctiontv/ums/2.0/resource", headers={"Authorization": f"Bearer e30.{CANARY}"}),
        CANARY,
    ),
}


@pytest.mark.parametrize("check", sorted(CREDENTIAL_CHECKS))
def test_credentials_are_compared_in_constant_time(app: Flask, spy: CompareDigestSpy, check: str) -> None:
    send, secret = CREDENTIAL_CHECKS[check]
    answer = send(flask_http(app.test_client(use_cookies=False)))
    assert answer.status in (400, 401)
    assert spy.compared(secret), f"{check}: {secret!r} never went through hmac.compare_digest"


def test_every_configured_client_is_compared_not_just_the_first_match(app: Flask, spy: CompareDigestSpy) -> None:
    """find_client compares every record in full, so timing does not tell which one nearly matched."""
    assert login("vision10", flask_http(app.test_client(use_cookies=False))).status == 200
    assert len(spy.calls) >= 2 * 2  # two configured Vision10 clients, two fields each


def test_the_admin_token_is_compared_in_constant_time(clock: Clock, spy: CompareDigestSpy) -> None:
    admin = create_app({"admin_token": "the-admin-token-0123", "clock": clock}).test_client(use_cookies=False)
    assert admin.get("/__mock/clock", headers={"Authorization": f"Bearer {CANARY}"}).status_code == 401
    assert spy.compared(CANARY)
    assert admin.get("/__mock/clock", headers={"Authorization": "Bearer the-admin-token-0123"}).status_code == 200


@pytest.mark.parametrize("vendor", ["clickview", "divetv", "aminotv"])
def test_hmac_token_signatures_are_compared_in_constant_time(app: Flask, spy: CompareDigestSpy, vendor: str) -> None:
    http = flask_http(app.test_client(use_cookies=False))
    access, _ = tokens_of(vendor, login(vendor, http))
    head, payload, signature = access.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    spy.calls.clear()
    assert call_resource(vendor, http, forged, RESOURCES[vendor][0]).status == 401
    assert spy.calls, "the signature was not checked with hmac.compare_digest"


# The client's token file.


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _token() -> Token:
    return Token(access_token="a" * 20, refresh_token="r" * 20, expires_at=4e9)


@pytest.mark.usefixtures("open_umask")
def test_the_token_file_is_0600_even_under_umask_0(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "tokens.json"
    FileTokenStore(path).save("k", _token())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.usefixtures("open_umask")
def test_a_world_readable_token_file_is_tightened_and_never_wider_while_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("{}")
    path.chmod(0o666)
    modes: list[int] = []
    real_replace = os.replace

    def replace(source: Any, target: Any) -> None:
        modes.append(stat.S_IMODE(os.stat(source).st_mode))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    store = FileTokenStore(path)
    store.save("k", _token())
    store.save("k2", _token())
    store.clear("k")
    assert modes and set(modes) == {0o600}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.load("k2") == _token()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "tokens.json"]
    assert leftovers == []


def test_the_token_file_holds_tokens_not_credentials(
    tmp_path: Path, serve: Callable[[Flask], Any], make_app: Callable[..., Flask]
) -> None:
    """Dive's client keeps its refresh token on disk; its key and password (and the MD5 of it) stay in memory."""
    path = tmp_path / "dive.json"
    base = serve(make_app(vendor="divetv")).url
    dive = _class("divetv")(
        client_key="demo-client-key",
        username="demo-user",
        password="demo-password",
        base_url=base,
        store=FileTokenStore(path),
    )
    assert dive.token().refresh_token
    stored = path.read_text()
    assert "refresh_token" in stored
    assert [s for s in ("demo-client-key", "demo-password", md5_hex("demo-password")) if s in stored] == []
