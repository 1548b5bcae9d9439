"""ClickViewClient against a live mock: tokens, caching and renewal by the mock's clock, typed errors,
the 401-renew-retry path, and parsing of every documented (and every broken) token response."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

import jwt
import pytest
import requests
from flask import Flask
from requests.structures import CaseInsensitiveDict

from tests.conftest import EPOCH
from tokenmock.client import (
    AuthenticationError,
    ContractViolation,
    RequestRejected,
    RetryPolicy,
    TokenError,
    TransportError,
)
from tokenmock.client.clickview import ClickViewClient
from tokenmock.client.transport import Reply
from tokenmock.mockserver.controls.clock import Clock

SECRET = "demo-secret"


@pytest.fixture
def mock_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(vendor="clickview")


@pytest.fixture
def base_url(mock_app: Flask, serve: Callable[[Flask], Any]) -> str:
    return str(serve(mock_app).url)


@pytest.fixture
def cv(base_url: str, clock: Clock) -> ClickViewClient:
    """The demo client on the live mock, reading time from the mock's clock."""
    return ClickViewClient("demo-client", SECRET, base_url=base_url, clock=clock.now)


def token_requests(app: Flask) -> int:
    return len(app.extensions["tokenmock"].journal.entries("clickview", "requestToken"))


def test_default_base_url_is_the_documented_host() -> None:
    assert ClickViewClient("id", "secret").base_url == "https://auth.clickviewapp.com"


def test_fetches_the_documented_token(cv: ClickViewClient) -> None:
    token = cv.token()
    assert token.token_type == "Bearer" and token.scope == "smartembed.viewkey"
    assert token.expires_at == EPOCH + 86400 and token.refresh_token is None
    assert jwt.decode(token.access_token, options={"verify_signature": False})["client_id"] == "demo-client"


def test_works_against_the_strict_reading_of_every_switch(
    make_app: Callable[..., Flask], serve: Callable[[Flask], Any]
) -> None:
    url = serve(make_app(vendor="clickview", strict_all=True)).url
    assert ClickViewClient("demo-client", SECRET, base_url=url).token().scope == "smartembed.viewkey"


def test_caches_until_shortly_before_expiry(cv: ClickViewClient, mock_app: Flask, clock: Clock) -> None:
    first = cv.token()
    clock.advance(86400 - 61)
    assert cv.token() is first and token_requests(mock_app) == 1
    clock.advance(1)  # now within the 60 s leeway
    second = cv.token()
    assert second.access_token != first.access_token and token_requests(mock_app) == 2


def test_auth_calls_the_example_resource(cv: ClickViewClient, base_url: str) -> None:
    reply = requests.get(f"{base_url}/api/v1/example", auth=cv.auth(), timeout=5)
    assert reply.status_code == 200 and reply.json()["client_id"] == "demo-client"


def test_a_401_renews_once_and_retries(cv: ClickViewClient, mock_app: Flask, base_url: str) -> None:
    used = cv.token()
    jti = jwt.decode(used.access_token, options={"verify_signature": False})["jti"]
    mock_app.extensions["tokenmock"].store.revoke(jti)
    reply = requests.get(f"{base_url}/api/v1/example", auth=cv.auth(), timeout=5)
    assert reply.status_code == 200
    assert [r.status_code for r in reply.history] == [401]
    assert cv.token().access_token != used.access_token and token_requests(mock_app) == 2


def test_a_resource_that_keeps_refusing_is_retried_only_once(
    cv: ClickViewClient, mock_app: Flask, make_app: Callable[..., Flask], serve: Callable[[Flask], Any]
) -> None:
    other = serve(make_app(vendor="clickview")).url  # its own signing key: refuses every token of ours
    reply = requests.get(f"{other}/api/v1/example", auth=cv.auth(), timeout=5)
    assert reply.status_code == 401 and len(reply.history) == 1
    assert token_requests(mock_app) == 2


REFUSALS = [
    # (case, client_id, secret, scope, error class, code)
    ("wrong secret", "demo-client", "wrong", "smartembed.viewkey", AuthenticationError, "invalid_client"),
    ("unknown client", "stranger", SECRET, "smartembed.viewkey", AuthenticationError, "invalid_client"),
    ("scope not allowed", "demo-client", SECRET, "admin", RequestRejected, "invalid_scope"),
]


@pytest.mark.parametrize(
    ("case", "client_id", "secret", "scope", "kind", "code"), REFUSALS, ids=[r[0] for r in REFUSALS]
)
def test_refusals_over_http_are_typed(
    base_url: str, case: str, client_id: str, secret: str, scope: str, kind: type[TokenError], code: str
) -> None:
    client = ClickViewClient(client_id, secret, scope, base_url=base_url)
    with pytest.raises(kind) as caught:
        client.token()
    assert (caught.value.vendor, caught.value.status, caught.value.code) == ("clickview", 400, code)
    assert secret not in str(caught.value) + repr(caught.value) + repr(client)


def test_connection_failure_is_a_transport_error_after_bounded_retries() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    waits: list[float] = []
    client = ClickViewClient(
        "demo-client",
        SECRET,
        base_url=f"http://127.0.0.1:{port}",
        retry=RetryPolicy(attempts=3),
        sleep=waits.append,
    )
    with pytest.raises(TransportError):
        client.token()
    assert len(waits) == 2 and all(0 <= w <= 5 for w in waits)


def reply(status: int, body: Any, **headers: str) -> Reply:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Reply(
        status, CaseInsensitiveDict({"Content-Type": "application/json", **headers}), raw, "http://mock"
    )


DOCUMENTED = {
    "access_token": "eyJz93a...k4laUWw",
    "token_type": "Bearer",
    "expires_in": 86400,
    "scope": "smartembed.viewkey",
}
PARSED_ERRORS = [
    # (case, status, body, headers, error class, code)
    (
        "documented invalid_client",
        400,
        {"error": "invalid_client", "error_description": "Client authentication failed."},
        {},
        AuthenticationError,
        "invalid_client",
    ),
    (
        "invalid_request",
        400,
        {"error": "invalid_request", "error_description": "client_id is missing."},
        {},
        RequestRejected,
        "invalid_request",
    ),
    (
        "unsupported_grant_type without description",
        400,
        {"error": "unsupported_grant_type"},
        {},
        RequestRejected,
        "unsupported_grant_type",
    ),
    ("invalid_scope", 400, {"error": "invalid_scope"}, {}, RequestRejected, "invalid_scope"),
    (
        "unauthorized_client",
        400,
        {"error": "unauthorized_client"},
        {},
        RequestRejected,
        "unauthorized_client",
    ),
    (
        "401 after Basic (CV-11 strict)",
        401,
        {"error": "invalid_client"},
        {"WWW-Authenticate": 'Basic realm="clickview"'},
        AuthenticationError,
        "invalid_client",
    ),
    (
        "413",
        413,
        {"error": "invalid_request", "error_description": "Request body too large."},
        {},
        RequestRejected,
        "invalid_request",
    ),
    # RFC 6749 §5.2: the challenge is required only after Authorization-header credentials; this client
    # sends them in the body (CV-11), so a bare 401 is a refusal of its credentials, not a broken answer.
    ("401 without a challenge", 401, {"error": "invalid_client"}, {}, AuthenticationError, "invalid_client"),
    ("error outside RFC 6749", 400, {"error": "access_denied"}, {}, ContractViolation, None),
    ("error of another shape", 400, {"message": "bad"}, {}, ContractViolation, None),
    ("undocumented status", 418, {"error": "invalid_request"}, {}, ContractViolation, None),
    (
        "no access_token",
        200,
        {k: v for k, v in DOCUMENTED.items() if k != "access_token"},
        {},
        ContractViolation,
        None,
    ),
    ("expires_in as a string", 200, {**DOCUMENTED, "expires_in": "86400"}, {}, ContractViolation, None),
    (
        "no scope (CV-05 strict)",
        200,
        {k: v for k, v in DOCUMENTED.items() if k != "scope"},
        {},
        ContractViolation,
        None,
    ),
    ("not JSON", 200, b"<html>ok</html>", {}, ContractViolation, None),
]


@pytest.mark.parametrize(
    ("case", "status", "body", "headers", "kind", "code"), PARSED_ERRORS, ids=[p[0] for p in PARSED_ERRORS]
)
def test_error_parsing(
    case: str, status: int, body: Any, headers: dict[str, str], kind: type[TokenError], code: str | None
) -> None:
    client = ClickViewClient("demo-client", SECRET)
    with pytest.raises(kind) as caught:
        client.parse("requestToken", reply(status, body, **headers))
    assert type(caught.value) is kind and caught.value.code == code and caught.value.status == status


@pytest.mark.parametrize("token_type", ["Bearer", "bearer"])
def test_the_documented_payload_parses_and_token_type_case_is_free(token_type: str) -> None:
    client = ClickViewClient("demo-client", SECRET, clock=lambda: EPOCH)
    payload = client.parse("requestToken", reply(200, {**DOCUMENTED, "token_type": token_type}))
    token = client._token_from(payload, "requestToken")
    assert token.access_token == "eyJz93a...k4laUWw" and token.expires_at == EPOCH + 86400
    assert token.scope == "smartembed.viewkey" and token.raw == payload
