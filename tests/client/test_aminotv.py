"""AminoTV client over HTTP against the mock: login, caching, refresh then login fallback, profile tokens,
the 401 renew-and-retry path, expiry by the mock's clock, and parsing of every documented reply."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests
from flask import Flask
from requests.structures import CaseInsensitiveDict

from tests.conftest import LiveServer
from tokenmock import contracts
from tokenmock.client import AuthenticationError, ContractViolation, RequestRejected, TokenError
from tokenmock.client.aminotv import AminoTVClient, AminoTVProfileClient, attributes_of
from tokenmock.client.transport import Reply
from tokenmock.mockserver.controls.clock import Clock
from tokenmock.mockserver.pipeline.core import TokenMock

DEFAULT_PROFILE = "84eb61a9-75d4-42c7-8c15-84c3d7776227"
SECOND_PROFILE = "3f1c2a9e-5b7d-4e8a-9c61-2d4b8e7f0a13"
OTHER_USERS_PROFILE = "b5e0c1d2-7a8b-4c9d-8e0f-1a2b3c4d5e6f"
STREAMS = "/channels/demo-channel/relationships/streams"


class Amino:
    """A live AminoTV mock and what the tests look at: its URL, its state and its journal."""

    def __init__(self, app: Flask, server: LiveServer, clock: Clock) -> None:
        self.mock: TokenMock = app.extensions["tokenmock"]
        self.url = server.url
        self.clock = clock

    def client(self, password: str = "demo-password", **options: Any) -> AminoTVClient:
        return AminoTVClient("demo@example.com", password, base_url=self.url, clock=self.clock.now, **options)

    def trace(self) -> list[tuple[str, int]]:
        """(operation, status) of every request the mock answered, oldest first."""
        return [(e["operation"], e["status"]) for e in self.mock.journal.entries("aminotv")]

    def forget(self) -> None:
        self.mock.journal.clear()


@pytest.fixture
def start(
    make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer], clock: Clock
) -> Callable[..., Amino]:
    def factory(**readings: str) -> Amino:
        app = make_app(vendor="aminotv", readings=readings)
        return Amino(app, serve(app), clock)

    return factory


@pytest.fixture
def amino(start: Callable[..., Amino]) -> Amino:
    return start()


# The user token.


def test_token_logs_in_once_and_caches(amino: Amino) -> None:
    client = amino.client()
    token = client.token()
    assert client.token() is token
    assert token.token_type == "Bearer" and token.refresh_token
    assert token.expires_at == amino.clock.now() + 3600
    assert attributes_of(token)["user_profile_id"] == DEFAULT_PROFILE
    assert amino.trace() == [("loginUser", 200)]


def test_expired_token_is_renewed_with_the_refresh_token(amino: Amino) -> None:
    client = amino.client()
    first = client.token()
    amino.clock.advance(3600 - 59)  # inside the 60 s leeway
    amino.forget()
    renewed = client.token()
    assert renewed.access_token != first.access_token
    assert amino.trace() == [("createAccessToken", 200)]


@pytest.mark.parametrize("readings", [{"AMINO-10": "lenient"}, {"AMINO-10": "strict"}])
def test_refused_refresh_falls_back_to_login(start: Callable[..., Amino], readings: dict[str, str]) -> None:
    amino = start(**readings)
    client = amino.client()
    client.token()
    amino.clock.advance(98 * 86400)  # the refresh token has expired too
    amino.forget()
    renewed = client.token()
    assert amino.trace() == [("createAccessToken", 401), ("loginUser", 200)]
    assert renewed.expires_at == amino.clock.now() + 3600


def test_revoked_session_falls_back_to_login(amino: Amino) -> None:
    client = amino.client()
    token = client.token()
    amino.mock.store.revoke(json.loads(_jwt_body(token.refresh_token or ""))["jti"])
    client.invalidate()
    amino.forget()
    client.token()
    assert amino.trace() == [("createAccessToken", 401), ("loginUser", 200)]


def test_wrong_password_is_an_authentication_error_without_the_secret(amino: Amino) -> None:
    client = amino.client(password="hunter2-wrong")
    with pytest.raises(AuthenticationError) as caught:
        client.token()
    assert caught.value.status == 401 and caught.value.code == "invalid_credentials"
    assert "hunter2" not in str(caught.value) + repr(caught.value) + repr(client)


@pytest.mark.parametrize("reading", ["strict", "lenient"])
def test_requests_work_under_both_media_type_readings(start: Callable[..., Amino], reading: str) -> None:
    amino = start(**{"AMINO-07": reading})
    client = amino.client()
    client.token()
    amino.clock.advance(3600)
    client.token()
    assert amino.trace() == [("loginUser", 200), ("createAccessToken", 200)]


@pytest.mark.parametrize("reading", ["strict", "lenient"])
def test_expiry_is_known_under_both_readings_of_amino_03(start: Callable[..., Amino], reading: str) -> None:
    amino = start(**{"AMINO-03": reading})
    token = amino.client().token()
    assert token.expires_at == amino.clock.now() + 3600
    assert not token.is_expired(60, now=amino.clock.now())


def test_single_flight_renewal_under_concurrency(amino: Amino) -> None:
    client = amino.client()
    client.token()
    amino.clock.advance(3600)
    amino.forget()
    barrier = threading.Barrier(16)
    seen: list[str] = []

    def worker() -> None:
        barrier.wait()
        seen.append(client.token().access_token)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 1 and len(seen) == 16
    assert amino.trace() == [("createAccessToken", 200)]


# The bearer auth on the protected resource.


def test_auth_calls_the_resource(amino: Amino) -> None:
    response = requests.get(amino.url + STREAMS, auth=amino.client().auth(), timeout=5)
    assert response.status_code == 200
    assert [s["id"] for s in response.json()["data"]] == ["demo-channel-hd", "demo-channel-sd"]


def test_a_401_renews_once_and_retries_once(amino: Amino) -> None:
    client = amino.client()
    amino.mock.store.revoke(client.token().access_token)
    amino.forget()
    response = requests.get(amino.url + STREAMS, auth=client.auth(), timeout=5)
    assert response.status_code == 200
    assert amino.trace() == [
        ("getChannelStreams", 401),
        ("createAccessToken", 200),
        ("getChannelStreams", 200),
    ]


def test_a_second_401_is_returned_not_looped(amino: Amino) -> None:
    client = amino.client()
    client.token()
    amino.forget()
    # `Prefer: code=401` makes the mock answer its documented 401 whatever the token: renewal cannot help.
    response = requests.get(
        amino.url + STREAMS, auth=client.auth(), headers={"Prefer": "code=401"}, timeout=5
    )
    assert response.status_code == 401 and len(response.history) == 1
    assert [op for op, _ in amino.trace()] == ["getChannelStreams", "createAccessToken", "getChannelStreams"]


# Profile tokens.


def test_profile_client_gets_a_token_for_its_profile(amino: Amino) -> None:
    client = amino.client()
    kids = client.profile_client(SECOND_PROFILE)
    assert client.profile_client(SECOND_PROFILE) is kids and isinstance(kids, AminoTVProfileClient)
    token = kids.token()
    assert attributes_of(token)["user_profile_id"] == SECOND_PROFILE
    assert kids.token() is token
    assert token.access_token != client.token().access_token
    assert amino.trace() == [("loginUser", 200), ("getProfileAuthToken", 200)]
    assert requests.get(amino.url + STREAMS, auth=kids.auth(), timeout=5).status_code == 200


@pytest.mark.parametrize(
    ("reading", "renewal"),
    [
        ("strict", [("createAccessToken", 200)]),
        # Lenient servers renew into the default profile: the client notices and asks for the profile again.
        ("lenient", [("createAccessToken", 200), ("getProfileAuthToken", 200)]),
    ],
)
def test_profile_token_renewal_keeps_the_profile(
    start: Callable[..., Amino], reading: str, renewal: list[tuple[str, int]]
) -> None:
    amino = start(**{"AMINO-11": reading})
    kids = amino.client().profile_client(SECOND_PROFILE)
    kids.token()
    amino.clock.advance(1800)  # the user's token is still fresh; the profile token is renewed on its own
    kids.invalidate()
    amino.forget()
    assert attributes_of(kids.token())["user_profile_id"] == SECOND_PROFILE
    assert amino.trace() == renewal


def test_profile_client_renews_a_refused_user_token(amino: Amino) -> None:
    client = amino.client()
    amino.mock.store.revoke(client.token().access_token)
    amino.forget()
    token = client.profile_client(DEFAULT_PROFILE).token()
    assert attributes_of(token)["user_profile_id"] == DEFAULT_PROFILE
    assert amino.trace() == [
        ("getProfileAuthToken", 401),
        ("createAccessToken", 200),
        ("getProfileAuthToken", 200),
    ]


@pytest.mark.parametrize(
    ("profile_id", "status", "code"),
    [
        (OTHER_USERS_PROFILE, 404, "not_found"),
        ("not-a-uuid", 400, "invalid_request"),
        ("../../auth/login", 404, "not_found"),  # quoted into one path segment: never reaches loginUser
    ],
)
def test_profile_client_refusals(amino: Amino, profile_id: str, status: int, code: str) -> None:
    with pytest.raises(RequestRejected) as caught:
        amino.client().profile_client(profile_id).token()
    assert (caught.value.status, caught.value.code) == (status, code)
    assert [op for op, _ in amino.trace()].count("loginUser") == 1


def test_profile_and_user_tokens_are_stored_apart(amino: Amino) -> None:
    client = amino.client()
    kids = client.profile_client(SECOND_PROFILE)
    assert kids.store is client.store and kids.store_key != client.store_key
    assert client.store.load(kids.store_key) is None
    kids.token()
    stored = client.store.load(kids.store_key)
    assert stored is not None and attributes_of(stored)["user_profile_id"] == SECOND_PROFILE


# Parsing: every documented reply becomes a Token or the right TokenError.


def _reply(status: int, body: Any) -> Reply:
    headers = CaseInsensitiveDict({"Content-Type": "application/vnd.api+json"})
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="aminotv", error="invalid_token"'
    return Reply(status, headers, json.dumps(body).encode(), "http://mock")


DOCUMENTED = [
    (op.operation_id, name, status, value)
    for op in contracts.operations("aminotv")
    for name, status, _, value in op.examples()
    if op.operation_id != "getChannelStreams"
]


@pytest.mark.parametrize(
    ("operation_id", "name", "status", "value"), DOCUMENTED, ids=[f"{d[0]}-{d[1]}" for d in DOCUMENTED]
)
def test_every_documented_reply_parses(operation_id: str, name: str, status: int, value: Any) -> None:
    client = AminoTVClient("u", "p", clock=lambda: 1000.0)
    if status == 200:
        token = client._token_from(client.parse(operation_id, _reply(status, value)), operation_id)
        # AMINO-03: the document's expires_at_timestamp equals login_timestamp; the JWT's exp is 503 s later.
        assert token.expires_at == 1000.0 + 503 and token.refresh_token
        return
    with pytest.raises(TokenError) as caught:
        client.parse(operation_id, _reply(status, value))
    expected = AuthenticationError if status == 401 else RequestRejected
    assert type(caught.value) is expected
    assert caught.value.code == value["errors"][0]["code"] and caught.value.status == status


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, {"data": []}),
        (200, {"data": [{"type": "AuthenticationTokens", "id": "x", "attributes": {"access_token": "a"}}]}),
        (401, {"error": "invalid_grant"}),
        (401, [{"status": "401"}]),
        (418, {"errors": [{"status": "418", "code": "teapot", "title": "x"}]}),
    ],
)
def test_replies_breaking_the_contract_are_contract_violations(status: int, body: Any) -> None:
    with pytest.raises(ContractViolation):
        AminoTVClient("u", "p").parse("loginUser", _reply(status, body))


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {"errors": [{"status": "401", "code": "invalid_cookie", "title": "T", "detail": "D"}]},
            ("invalid_cookie", "D"),
        ),
        ({"errors": [{"status": "401", "code": "x", "title": "T"}]}, ("x", "T")),
        ({"errors": []}, (None, "refused")),
        ({"error": "invalid_grant"}, (None, "refused")),
        ("text", (None, "refused")),
    ],
)
def test_error_of_reads_json_api_errors(payload: Any, expected: tuple[str | None, str]) -> None:
    assert AminoTVClient("u", "p")._error_of(payload) == expected


def test_default_base_url_is_the_documented_placeholder() -> None:
    client = AminoTVClient("u", "p")
    assert client.base_url == "https://customer.domain:443"
    assert client.profile_client(DEFAULT_PROFILE).base_url == client.base_url


# Helpers that peek into the mock's JWTs (the client itself never relies on claims, bar AMINO-03).


def _jwt_body(token: str) -> str:
    import base64

    body = token.split(".")[1]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
