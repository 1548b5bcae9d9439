"""DiveTVClient against a live mock: the documented login, refresh first then login when refused, a
refresh token that survives a restart through FileTokenStore, the 401-renew-retry path, expiry by the
mock's clock, and parsing of every documented reply."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from flask import Flask
from requests.structures import CaseInsensitiveDict

from tests.conftest import EPOCH, LiveServer
from tokenmock.client import AuthenticationError, ContractViolation, FileTokenStore, RequestRejected, TokenError
from tokenmock.client.divetv import DiveTVClient
from tokenmock.client.transport import Reply
from tokenmock.mockserver.controls.clock import Clock
from tokenmock.mockserver.pipeline.core import TokenMock

KEY, USER, PASSWORD = "demo-client-key", "demo-user", "demo-password"
DAY = 86400


class Dive:
    """A live Dive mock and what the tests look at: its URL, its state and its journal."""

    def __init__(self, app: Flask, server: LiveServer, clock: Clock) -> None:
        self.mock: TokenMock = app.extensions["tokenmock"]
        self.url = server.url
        self.clock = clock

    def client(self, password: str = PASSWORD, **options: Any) -> DiveTVClient:
        return DiveTVClient(KEY, USER, password, base_url=self.url, clock=self.clock.now, **options)

    def trace(self) -> list[tuple[str, str, int]]:
        """(operation, grant_type, status) of every request the mock answered, oldest first."""
        return [
            (e["operation"], e["query"].get("grant_type", "-"), e["status"])
            for e in self.mock.journal.entries("divetv")
        ]

    def forget(self) -> None:
        self.mock.journal.clear()


LOGIN = ("issueToken", "device_credentials", 200)
REFRESHED = ("issueToken", "refresh_token", 200)
REFRESH_REFUSED = ("issueToken", "refresh_token", 400)


@pytest.fixture
def start(
    make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer], clock: Clock
) -> Callable[..., Dive]:
    def factory(**settings: Any) -> Dive:
        app = make_app(vendor="divetv", **settings)
        return Dive(app, serve(app), clock)

    return factory


@pytest.fixture
def dive(start: Callable[..., Dive]) -> Dive:
    return start()


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def jti(token: str | None) -> str:
    return str(jwt.decode(token or "", options={"verify_signature": False})["jti"])


# Login and caching.


def test_default_base_url_is_the_documented_host() -> None:
    assert DiveTVClient(KEY, USER, PASSWORD).base_url == "https://rest.dive.tv"


def test_logs_in_as_documented_and_caches(dive: Dive) -> None:
    client = dive.client()
    token = client.token()
    assert client.token() is token
    assert token.token_type == "bearer" and token.scope == "device" and token.refresh_token
    assert token.expires_at == dive.clock.now() + 8999
    assert token.raw["device_id"] == "123456"
    assert dive.trace() == [LOGIN]
    (entry,) = dive.mock.journal.entries("divetv")
    assert entry["method"] == "POST" and entry["path"] == "/v1/token"
    assert (
        entry["headers"]["Authorization"] == "Basic ***"
        and entry["headers"]["Content-Type"] == "application/json"
    )
    assert set(entry["body"]) == {"username", "password"} and entry["body"]["username"] == USER


def test_the_password_is_sent_as_its_md5_digest(dive: Dive) -> None:
    """The mock accepts only the digest (a plain password is invalid_request), so a token proves the MD5."""
    sent: list[bytes] = []
    session = requests.Session()
    session.hooks["response"].append(lambda r, **_: sent.append(r.request.body))
    dive.client(session=session).token()
    assert json.loads(sent[0])["password"] == _md5(PASSWORD)


@pytest.mark.parametrize("strict_all", [False, True])
def test_works_under_both_readings_of_every_switch(start: Callable[..., Dive], strict_all: bool) -> None:
    dive = start(strict_all=strict_all)
    client = dive.client()
    first = client.token()
    dive.clock.advance(9000)
    renewed = client.token()
    assert renewed.access_token != first.access_token
    assert dive.trace() == [LOGIN, REFRESHED]
    response = requests.get(f"{dive.url}/v1/resource", auth=client.auth(), timeout=5)
    assert response.status_code == 200 and response.json()["jti"] == jti(renewed.access_token)


def test_wrong_password_is_an_authentication_error_without_secrets(dive: Dive) -> None:
    client = dive.client(password="hunter2-wrong")
    with pytest.raises(AuthenticationError) as caught:
        client.token()
    assert caught.value.status == 400 and caught.value.code == "invalid_grant"
    shown = str(caught.value) + repr(caught.value) + repr(client)
    assert "hunter2" not in shown and _md5("hunter2-wrong") not in shown and KEY not in shown


def test_unknown_client_key_is_an_authentication_error(dive: Dive) -> None:
    client = DiveTVClient("wrong-key", USER, PASSWORD, base_url=dive.url, clock=dive.clock.now)
    with pytest.raises(AuthenticationError) as caught:
        client.token()
    assert caught.value.status == 401 and caught.value.code == "invalid_client"
    assert "wrong-key" not in str(caught.value) + repr(client)


# Renewal: refresh first, login when the refresh is refused.


def test_expiring_token_is_renewed_with_the_refresh_token(dive: Dive) -> None:
    client = dive.client()
    first = client.token()
    dive.clock.advance(8999 - 59)  # inside the 60 s leeway
    dive.forget()
    renewed = client.token()
    assert dive.trace() == [REFRESHED]
    assert renewed.refresh_token != first.refresh_token  # rotated (DIVE-11 strict), and the new one kept
    dive.clock.advance(9000)
    client.token()
    assert dive.trace() == [REFRESHED, REFRESHED]


def test_expired_refresh_token_falls_back_to_login(dive: Dive) -> None:
    client = dive.client()
    client.token()
    dive.clock.advance(180 * DAY)  # the refresh token has expired too
    dive.forget()
    renewed = client.token()
    assert dive.trace() == [REFRESH_REFUSED, LOGIN]
    assert renewed.expires_at == dive.clock.now() + 8999


def test_revoked_session_falls_back_to_login(dive: Dive) -> None:
    client = dive.client()
    token = client.token()
    session = jwt.decode(token.access_token, options={"verify_signature": False})["sid"]
    dive.mock.store.revoke(session)
    client.invalidate()
    dive.forget()
    client.token()
    assert dive.trace() == [REFRESH_REFUSED, LOGIN]


def test_keeps_refreshing_when_the_server_reuses_refresh_tokens(start: Callable[..., Dive]) -> None:
    dive = start(readings={"DIVE-11": "lenient"})
    client = dive.client()
    first = client.token()
    for _ in range(3):
        dive.clock.advance(9000)
        assert client.token().refresh_token == first.refresh_token
    assert dive.trace() == [LOGIN, REFRESHED, REFRESHED, REFRESHED]


# Persistence: the refresh token survives a restart.


def test_file_store_survives_a_restart(dive: Dive, tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    first = dive.client(store=FileTokenStore(path)).token()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert first.access_token not in repr(FileTokenStore(path))

    restarted = dive.client(store=FileTokenStore(path))  # a new process: nothing cached in memory
    assert restarted.token().access_token == first.access_token
    assert dive.trace() == [LOGIN]

    dive.clock.advance(9000)
    again = dive.client(store=FileTokenStore(path))
    renewed = again.token()
    assert dive.trace() == [LOGIN, REFRESHED]  # the stored refresh token, no second login
    assert renewed.access_token != first.access_token
    stored = json.loads(path.read_text())
    assert [entry["refresh_token"] for entry in stored.values()] == [renewed.refresh_token]


def test_file_store_with_a_rotated_away_refresh_token_logs_in(dive: Dive, tmp_path: Path) -> None:
    """Two processes on one stale file: the second refresh replays a used token, so it logs in."""
    path = tmp_path / "tokens.json"
    dive.client(store=FileTokenStore(path)).token()
    stale = path.read_text()
    dive.clock.advance(9000)
    dive.client(store=FileTokenStore(path)).token()  # rotates the stored refresh token
    path.write_text(stale)
    dive.forget()
    dive.client(store=FileTokenStore(path)).token()
    assert dive.trace() == [REFRESH_REFUSED, LOGIN]


def test_store_keys_separate_users_and_client_keys(dive: Dive, tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "tokens.json")
    mine = dive.client(store=store)
    other = DiveTVClient("another-key", USER, PASSWORD, base_url=dive.url, store=store)
    assert mine.store_key != other.store_key
    assert KEY not in mine.store_key


# The 401-renew-retry path.


def test_a_401_renews_once_and_retries(dive: Dive) -> None:
    client = dive.client()
    token = client.token()
    dive.mock.store.revoke(jti(token.access_token))  # the API now refuses the cached token
    dive.forget()
    response = requests.get(f"{dive.url}/v1/resource", auth=client.auth(), timeout=5)
    assert response.status_code == 200 and response.json()["jti"] != jti(token.access_token)
    assert dive.trace() == [("getProtectedResource", "-", 401), REFRESHED, ("getProtectedResource", "-", 200)]


def test_a_resource_that_keeps_refusing_is_retried_only_once(dive: Dive, start: Callable[..., Dive]) -> None:
    other = start()  # its own signing key: refuses every token of ours
    client = dive.client()
    reply = requests.get(f"{other.url}/v1/resource", auth=client.auth(), timeout=5)
    assert reply.status_code == 401 and len(reply.history) == 1
    assert dive.trace() == [LOGIN, REFRESHED]  # one renewal for the one retry
    assert [e[0] for e in other.trace()] == ["getProtectedResource"] * 2


def test_a_401_with_the_session_revoked_logs_in_again(dive: Dive) -> None:
    client = dive.client()
    client.token()
    session = jwt.decode(client.token().access_token, options={"verify_signature": False})["sid"]
    dive.mock.store.revoke(session)  # every token of the session, including the refresh token
    dive.forget()
    with requests.Session() as http:
        first = http.get(f"{dive.url}/v1/resource", auth=client.auth(), timeout=5)
    assert first.status_code == 200  # renewed by a fresh login, since the refresh was refused
    assert dive.trace() == [
        ("getProtectedResource", "-", 401),
        REFRESH_REFUSED,
        LOGIN,
        ("getProtectedResource", "-", 200),
    ]


def test_expired_access_token_is_renewed_before_the_call(dive: Dive) -> None:
    client = dive.client()
    client.token()
    dive.clock.advance(9000)
    dive.forget()
    assert requests.get(f"{dive.url}/v1/resource", auth=client.auth(), timeout=5).status_code == 200
    assert dive.trace() == [REFRESHED, ("getProtectedResource", "-", 200)]


# Parsing of every documented reply (and broken ones).


def reply(status: int, body: Any, **headers: str) -> Reply:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Reply(
        status, CaseInsensitiveDict({"Content-Type": "application/json", **headers}), raw, "http://mock"
    )


DOCUMENTED: dict[str, Any] = {
    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVwJ9.eyJhdWQiOlsiYXBpLXNlcnZlciJdfQ.uRhnAvVvkVU",
    "token_type": "bearer",
    "refresh_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IfpXVCJ9.eyJhdWQiOlsiYXBpLXNlcnZlciJdfQ.AEaXnE3PRsJ",
    "expires_in": 8999,
    "scope": "device",
    "device_id": "123456",
    "client_id": "test",
    "jti": "e4c32ebb-b264-4c84-95b9-ce063bb29a58",
}
ECHOED = "Invalid refresh token: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdGkiOiJ4In0.c2lnbmF0dXJlLXNpZw"
BASIC = {"WWW-Authenticate": 'Basic realm="oauth2/client"'}
PARSED = [
    # (case, status, body, headers, error class, code)
    (
        "bad credentials",
        400,
        {"error": "invalid_grant", "error_description": "Bad credentials"},
        {},
        AuthenticationError,
        "invalid_grant",
    ),
    (
        "refresh token echoed",
        400,
        {"error": "invalid_grant", "error_description": ECHOED},
        {},
        AuthenticationError,
        "invalid_grant",
    ),
    (
        "unsupported grant",
        400,
        {"error": "unsupported_grant_type", "error_description": "Unsupported grant type"},
        {},
        RequestRejected,
        "unsupported_grant_type",
    ),
    (
        "invalid_request",
        400,
        {"error": "invalid_request", "error_description": "Missing parameter: password"},
        {},
        RequestRejected,
        "invalid_request",
    ),
    (
        "bad client key",
        401,
        {"error": "invalid_client", "error_description": "Bad client credentials"},
        BASIC,
        AuthenticationError,
        "invalid_client",
    ),
    (
        "413",
        413,
        {"error": "invalid_request", "error_description": "Request body too large"},
        {},
        RequestRejected,
        "invalid_request",
    ),
    (
        "415",
        415,
        {"error": "invalid_request", "error_description": "Unsupported Content-Type: text/plain"},
        {},
        RequestRejected,
        "invalid_request",
    ),
    (
        "401 without a challenge",
        401,
        {"error": "invalid_client", "error_description": "x"},
        {},
        ContractViolation,
        None,
    ),
    ("no error_description", 400, {"error": "invalid_grant"}, {}, ContractViolation, None),
    (
        "Spring Boot error shape (DIVE-12)",
        400,
        {"timestamp": 1, "status": 400, "error": "Bad Request", "message": "x"},
        {},
        ContractViolation,
        None,
    ),
    (
        "undocumented status",
        403,
        {"error": "access_denied", "error_description": "x"},
        {},
        ContractViolation,
        None,
    ),
    (
        "no refresh_token",
        200,
        {k: v for k, v in DOCUMENTED.items() if k != "refresh_token"},
        {},
        ContractViolation,
        None,
    ),
    ("expires_in as a string", 200, {**DOCUMENTED, "expires_in": "8999"}, {}, ContractViolation, None),
    ("not JSON", 200, b"<html>ok</html>", {}, ContractViolation, None),
]


@pytest.mark.parametrize(
    ("case", "status", "body", "headers", "kind", "code"), PARSED, ids=[p[0] for p in PARSED]
)
def test_reply_parsing(
    case: str, status: int, body: Any, headers: dict[str, str], kind: type[TokenError], code: str | None
) -> None:
    client = DiveTVClient(KEY, USER, PASSWORD)
    with pytest.raises(kind) as caught:
        client.parse("issueToken", reply(status, body, **headers))
    assert type(caught.value) is kind and caught.value.code == code and caught.value.status == status
    assert "eyJ" not in str(caught.value)  # an echoed token never reaches the message


@pytest.mark.parametrize("token_type", ["bearer", "Bearer", "BEARER"])
def test_token_type_parses_in_any_case(token_type: str) -> None:
    """RFC 6749 §7.1: the token type is case-insensitive (the contract allows any case, DIVE token_type)."""
    client = DiveTVClient(KEY, USER, PASSWORD, clock=lambda: EPOCH)
    payload = client.parse("issueToken", reply(200, {**DOCUMENTED, "token_type": token_type}))
    assert client._token_from(payload, "issueToken").token_type == token_type


def test_the_documented_payload_parses() -> None:
    client = DiveTVClient(KEY, USER, PASSWORD, clock=lambda: EPOCH)
    payload = client.parse("issueToken", reply(200, DOCUMENTED))
    token = client._token_from(payload, "issueToken")
    assert (
        token.access_token == DOCUMENTED["access_token"]
        and token.refresh_token == DOCUMENTED["refresh_token"]
    )
    assert (
        token.expires_at == EPOCH + 8999 and token.scope == "device" and token.raw["jti"] == DOCUMENTED["jti"]
    )


def test_the_expired_refresh_error_keeps_its_code_but_not_the_token() -> None:
    client = DiveTVClient(KEY, USER, PASSWORD)
    with pytest.raises(AuthenticationError) as caught:
        client.parse("issueToken", reply(400, {"error": "invalid_grant", "error_description": ECHOED}))
    assert caught.value.message == "Invalid refresh token: [token]"
    assert caught.value.payload["error_description"] == ECHOED  # the raw payload stays inspectable


def test_concurrent_callers_on_an_expired_token_cause_one_refresh(dive: Dive) -> None:
    import threading

    client = dive.client()
    client.token()
    dive.clock.advance(9000)
    dive.forget()
    barrier = threading.Barrier(16)
    seen: list[str] = []

    def call() -> None:
        barrier.wait()
        seen.append(client.token().access_token)

    threads = [threading.Thread(target=call) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(seen) == 16 and len(set(seen)) == 1
    assert dive.trace() == [REFRESHED]
