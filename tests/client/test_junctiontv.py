"""The JunctionTV client against the mock over HTTP: tokens, caching, renewal, the 401 loop, every error."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests
from flask import Flask
from requests.structures import CaseInsensitiveDict

from tests.conftest import EPOCH
from tokenmock.client.errors import AuthenticationError, ContractViolation, RequestRejected, TokenError
from tokenmock.client.junctiontv import JunctionTVClient, basic_header
from tokenmock.client.transport import Reply, RetryPolicy
from tokenmock.mockserver.controls.clock import Clock

RESOURCE_PATH = "/ums/2.0/resource"


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(vendor="junctiontv")


@pytest.fixture
def base_url(app: Flask, serve: Callable[[Flask], Any]) -> str:
    return str(serve(app).url)


def make_client(base_url: str, clock: Clock, secret: str = "demo-secret", **options: Any) -> JunctionTVClient:
    """A client on the mock's clock (so expiry is consistent) that never sleeps between retries."""
    options.setdefault("retry", RetryPolicy(attempts=1))
    return JunctionTVClient("demo-client", secret, base_url=base_url, clock=clock.now, **options)


def token_requests(app: Flask) -> int:
    return len(app.extensions["tokenmock"].journal.entries("junctiontv", "getAccessToken"))


def test_default_base_url_is_the_documented_host() -> None:
    assert JunctionTVClient("id", "secret").base_url == "https://cloud.junctiontv.net"


def test_basic_header_is_base64_of_utf8_without_url_encoding() -> None:
    assert basic_header("demo-client", "demo-secret") == "Basic ZGVtby1jbGllbnQ6ZGVtby1zZWNyZXQ="
    assert basic_header("a", "p+ss:w%rd\u00e9") == "Basic YTpwK3NzOnclcmTDqQ=="


def test_token_over_http(base_url: str, clock: Clock) -> None:
    token = make_client(base_url, clock).token()
    assert token.token_type == "Bearer"  # JunctionTV sends none (JTV-08); bearer is assumed
    assert token.expires_at == EPOCH + 3600
    assert token.refresh_token is None and token.scope is None
    assert token.raw["version"] == "1.1" and token.raw["client_id"] == "demo-client"


def test_strict_server_and_odd_secret(
    make_app: Callable[..., Flask], serve: Callable[[Flask], Any], clock: Clock
) -> None:
    # Strict readings want the form Content-Type (JTV-03), Base64 (JTV-01) and no URL-encoding (JTV-02).
    odd = "p+ss:w%rd\u00e9"
    clients = [{"client_id": "demo-client", "client_secret": odd}]
    app = make_app(vendor="junctiontv", strict_all=True, vendors={"junctiontv": {"clients": clients}})
    token = make_client(serve(app).url, clock, secret=odd).token()
    assert token.raw["client_id"] == "demo-client"


def test_token_is_cached_until_shortly_before_expiry(app: Flask, base_url: str, clock: Clock) -> None:
    client = make_client(base_url, clock)
    first = client.token()
    clock.advance(3600 - 61)
    assert client.token() is first
    assert token_requests(app) == 1
    clock.advance(1)  # inside the 60 s leeway
    assert client.token().access_token != first.access_token
    assert token_requests(app) == 2


def test_concurrent_callers_cause_one_token_request(app: Flask, base_url: str, clock: Clock) -> None:
    client = make_client(base_url, clock)
    barrier = threading.Barrier(32)
    seen: list[str] = []

    def fetch() -> None:
        barrier.wait()
        seen.append(client.token().access_token)

    threads = [threading.Thread(target=fetch) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(seen) == 32 and len(set(seen)) == 1
    assert token_requests(app) == 1


def test_wrong_secret_is_an_authentication_error_without_the_secret(base_url: str, clock: Clock) -> None:
    client = make_client(base_url, clock, secret="s3cr3t-value")
    with pytest.raises(AuthenticationError) as caught:
        client.token()
    error = caught.value
    assert (error.status, error.code, error.message) == (401, "UNAUTHORIZED", "Invalid Client Credentials")
    for text in (str(error), repr(error), repr(client)):
        assert "s3cr3t-value" not in text


def test_wrong_path_is_a_rejected_request(base_url: str, clock: Clock) -> None:
    with pytest.raises(RequestRejected) as caught:
        make_client(base_url + "/nowhere", clock).token()
    assert (caught.value.status, caught.value.code) == (404, "NOT_FOUND")


# Every documented error example, served by the mock on request (`Prefer`) and parsed by the client.
AUTH, REJECTED = AuthenticationError, RequestRejected
DOCUMENTED_ERRORS = [
    ("code=401, example=documented", AUTH, 401, "UNAUTHORIZED", "No Authorization Token"),
    ("code=401, example=invalid_client", AUTH, 401, "UNAUTHORIZED", "Invalid Client Credentials"),
    ("code=401, example=malformed_authorization", AUTH, 401, "UNAUTHORIZED",
     "Malformed Authorization Header"),
    ("code=404, example=invalid_call", REJECTED, 404, "NOT_FOUND",
     "Invalid API Call: Content-Type must be application/x-www-form-urlencoded"),
    ("code=413, example=payload_too_large", REJECTED, 413, "PAYLOAD_TOO_LARGE", "Request body too large"),
]


@pytest.mark.parametrize(("prefer", "kind", "status", "code", "message"), DOCUMENTED_ERRORS)
def test_documented_errors_are_parsed(
    base_url: str, clock: Clock, prefer: str, kind: type[TokenError], status: int, code: str, message: str
) -> None:
    session = requests.Session()
    session.headers["Prefer"] = prefer
    with pytest.raises(kind) as caught:
        make_client(base_url, clock, session=session).token()
    assert type(caught.value) is kind
    assert (caught.value.status, caught.value.code, caught.value.message) == (status, code, message)


def reply(status: int, body: bytes, content_type: str = "application/json") -> Reply:
    return Reply(status, CaseInsensitiveDict({"Content-Type": content_type}), body, "https://example.test/")


GOOD = {"version": "1.1", "client_id": "XXXX", "access_token": "x" * 39, "expires_in": 3600}
# Responses that break the contract: each must become a ContractViolation, never a stray exception.
BROKEN = [
    ("tomcat_404_page", reply(404, b"<html><title>HTTP Status 404</title></html>", "text/html")),
    ("js_literal_keys", reply(200, b'{version: "1.1", access_token: "x", expires_in: 3600}')),  # JTV-07
    ("no_access_token", reply(200, json.dumps({**GOOD, "access_token": None}).encode())),
    ("expired_in_only", reply(200, json.dumps({k: v for k, v in GOOD.items() if k != "expires_in"}
                                              | {"expired_in": 3600}).encode())),  # JTV-06
    ("expires_in_string", reply(200, json.dumps({**GOOD, "expires_in": "3600"}).encode())),
    ("negative_expires_in", reply(200, json.dumps({**GOOD, "expires_in": -5}).encode())),
    ("error_without_reason", reply(401, b'{"result": "error", "message": "UNAUTHORIZED"}')),
    ("undocumented_status", reply(400, b'{"result": "error", "message": "BAD", "reason": "x"}')),
    ("empty_200", reply(200, b"")),
]


@pytest.mark.parametrize("broken", [b[1] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_contract_violations(clock: Clock, broken: Reply) -> None:
    client = make_client("http://127.0.0.1:9", clock)
    with pytest.raises(ContractViolation):
        client._token_from(client.parse("getAccessToken", broken), "getAccessToken")


def test_documented_success_example_parses(clock: Clock) -> None:
    client = make_client("http://127.0.0.1:9", clock)
    token = client._token_from(client.parse("getAccessToken", reply(200, json.dumps(GOOD).encode())), "x")
    assert token.access_token == "x" * 39 and token.expires_at == EPOCH + 3600


# The documented loop: call the API, on 401 get a new token and retry (once).


def test_auth_renews_and_retries_once_on_401(app: Flask, base_url: str, clock: Clock) -> None:
    client = make_client(base_url, clock)
    old = client.token()
    app.extensions["tokenmock"].store.revoke(old.access_token)
    response = requests.get(base_url + RESOURCE_PATH, auth=client.auth(), timeout=5)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert client.token().access_token != old.access_token
    assert token_requests(app) == 2


def test_expiry_at_the_resource_triggers_the_loop(app: Flask, base_url: str, clock: Clock) -> None:
    # A client that trusts its token too long (negative leeway) learns of expiry from the resource's 401.
    client = make_client(base_url, clock, leeway=-600)
    client.token()
    clock.advance(3600)
    response = requests.get(base_url + RESOURCE_PATH, auth=client.auth(), timeout=5)
    assert response.status_code == 200 and response.json()["expires_in"] == 3600
    assert [r.json()["reason"] for r in response.history] == ["Authorization Token Expired"]


def test_auth_renews_before_expiry_without_a_401(app: Flask, base_url: str, clock: Clock) -> None:
    client = make_client(base_url, clock)
    auth = client.auth()
    assert requests.get(base_url + RESOURCE_PATH, auth=auth, timeout=5).status_code == 200
    clock.advance(3600)
    response = requests.get(base_url + RESOURCE_PATH, auth=auth, timeout=5)
    assert response.status_code == 200 and response.history == []
    assert token_requests(app) == 2


def test_a_refused_renewal_is_an_authentication_error(app: Flask, base_url: str, clock: Clock) -> None:
    client = make_client(base_url, clock)
    client.token()
    mock = app.extensions["tokenmock"]
    mock.vendors["junctiontv"].settings["clients"] = []  # the client's credentials were withdrawn
    mock.store.revoke(client.token().access_token)
    with pytest.raises(AuthenticationError):
        requests.get(base_url + RESOURCE_PATH, auth=client.auth(), timeout=5)
