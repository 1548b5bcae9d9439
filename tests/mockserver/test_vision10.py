"""Vision10 mock: the documented exchange, every error code of the contract, every register switch,
expiry and every refusal at the protected resource."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import EPOCH
from tokenmock import contracts
from tokenmock.mockserver.controls.clock import Clock
from tokenmock.mockserver.pipeline.core import TokenMock
from tokenmock.mockserver.vendors.vision10 import Vision10

TOKEN_PATH = "/v1/api/oauth/token"
RESOURCE_PATH = "/v1/api/resource"
DEMO = {
    "grant_type": "client_credentials",
    "scope": "all",
    "client_id": "demo-client",
    "client_secret": "demo-secret",
}
PROBLEM_KEYS = {"detail", "errorCode", "instance", "invalid-params", "source", "status", "title"}


def documented_request() -> dict[str, Any]:
    """The document's own request payload, as the contract quotes it."""
    body = contracts.resolved_spec("vision10")["paths"][TOKEN_PATH]["post"]["requestBody"]
    value: dict[str, Any] = body["content"]["application/json"]["examples"]["documented"]["value"]
    return value


def mock_of(app: Flask) -> TokenMock:
    mock: TokenMock = app.extensions["tokenmock"]
    return mock


def vendor_of(app: Flask) -> Vision10:
    vendor = mock_of(app).vendors["vision10"]
    assert isinstance(vendor, Vision10)
    return vendor


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def problem(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    """Assert the vendor's one-item problem array with this status and errorCode; return the item."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body, list) and len(body) == 1
    item: dict[str, Any] = body[0]
    assert set(item) == PROBLEM_KEYS
    assert item["errorCode"] == code
    assert item["status"] == status
    assert item["source"] == "AGT"
    assert all(isinstance(p, str) for p in item["invalid-params"]) and item["invalid-params"]
    return item


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(vendor="vision10")


@pytest.fixture
def http(app: Flask) -> FlaskClient:
    return app.test_client()


def issue(http: FlaskClient, body: dict[str, Any] | None = None) -> str:
    response = http.post(TOKEN_PATH, json=body or DEMO)
    assert response.status_code == 200, response.get_data(as_text=True)
    token: str = response.get_json()["access_token"]
    return token


def resource(http: FlaskClient, token: str | None, scheme: str = "Bearer") -> TestResponse:
    headers = {} if token is None else {"Authorization": f"{scheme} {token}"}
    return http.get(RESOURCE_PATH, headers=headers)


# The documented exchange.


def test_documented_request_gets_the_documented_shape(app: Flask, http: FlaskClient) -> None:
    response = http.post(TOKEN_PATH, json=documented_request())
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    body = response.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 7199
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "RS256"
    assert header["kid"] == vendor_of(app).signer.kid
    public_pem = vendor_of(app).signer.public_material()
    claims = jwt.decode(body["access_token"], public_pem, algorithms=["RS256"], options={"verify_exp": False})
    assert claims["scope"] == "all"
    assert claims["client_id"] == "vision-api-user"
    assert claims["firstVisionId"] == "00000DEMO2"
    assert claims["exp"] == int(EPOCH) + 7199
    contracts.validate_response("vision10", "getAccessToken", 200, body, dict(response.headers))


def test_issued_token_opens_the_resource(http: FlaskClient) -> None:
    answer = resource(http, issue(http))
    assert answer.status_code == 200
    assert answer.get_json() == {
        "client_id": "demo-client",
        "scope": "all",
        "firstVisionId": "00000DEMO1",
        "exp": int(EPOCH) + 7199,
    }


def test_token_lifetime_is_configurable(make_app: Callable[..., Flask]) -> None:
    http = make_app(vendor="vision10", vendors={"vision10": {"token_lifetime": 60}}).test_client()
    response = http.post(TOKEN_PATH, json=DEMO)
    assert response.get_json()["expires_in"] == 60


# Every error code the contract lists.

LONG = "x" * 51


@pytest.mark.parametrize(
    ("name", "send", "status", "code"),
    [
        ("malformed JSON", {"data": b"{not json", "content_type": "application/json"}, 400, "240001"),
        ("JSON array, not an object", {"json": [DEMO]}, 400, "240001"),
        ("JSON string, not an object", {"json": "grant_type"}, 400, "240001"),
        ("empty JSON body", {"data": b"", "content_type": "application/json"}, 400, "240001"),
        (
            "missing client_secret",
            {"json": {k: v for k, v in DEMO.items() if k != "client_secret"}},
            400,
            "240002",
        ),
        ("missing scope", {"json": {k: v for k, v in DEMO.items() if k != "scope"}}, 400, "240002"),
        ("no body at all", {}, 400, "240002"),
        ("client_id over 50", {"json": {**DEMO, "client_id": LONG}}, 400, "240003"),
        ("client_secret over 100", {"json": {**DEMO, "client_secret": "s" * 101}}, 400, "240003"),
        ("scope not a string", {"json": {**DEMO, "scope": ["all"]}}, 400, "240004"),
        ("client_id a number", {"json": {**DEMO, "client_id": 7}}, 400, "240004"),
        ("grant_type password", {"json": {**DEMO, "grant_type": "password"}}, 400, "240005"),
        ("grant_type case", {"json": {**DEMO, "grant_type": "CLIENT_CREDENTIALS"}}, 400, "240005"),
        ("form body", {"data": DEMO}, 415, "240006"),
        ("text/plain body", {"data": json.dumps(DEMO), "content_type": "text/plain"}, 415, "240006"),
        ("wrong secret", {"json": {**DEMO, "client_secret": "nope"}}, 401, "240101"),
        ("unknown client", {"json": {**DEMO, "client_id": "nobody"}}, 401, "240101"),
        (
            "other client's secret",
            {"json": {**DEMO, "client_secret": "abcdefghizklmnopponommnshfghzxxs"}},
            401,
            "240101",
        ),
        ("scope not granted", {"json": {**DEMO, "scope": "edit"}}, 401, "240101"),
    ],
    ids=lambda v: v if isinstance(v, str) and " " in v else None,
)
def test_token_refusals(http: FlaskClient, name: str, send: dict[str, Any], status: int, code: str) -> None:
    item = problem(http.post(TOKEN_PATH, **send), status, code)
    assert item["instance"] == TOKEN_PATH
    if code == "240101":
        assert item["invalid-params"] == ["Invalid client credentials or scope"]  # as documented
        assert item["title"] == "Unauthorized"


def test_charset_parameter_is_accepted(http: FlaskClient) -> None:
    response = http.post(TOKEN_PATH, data=json.dumps(DEMO), content_type="application/json; charset=utf-8")
    assert response.status_code == 200


def test_oversize_body_is_413(http: FlaskClient) -> None:
    body = json.dumps({**DEMO, "padding": "p" * 70_000})
    problem(http.post(TOKEN_PATH, data=body, content_type="application/json"), 413, "240007")


@pytest.mark.parametrize(("method", "path", "allowed"), [("GET", TOKEN_PATH, "POST"), ("POST", RESOURCE_PATH, "GET")])
def test_wrong_method_is_405_with_allow(http: FlaskClient, method: str, path: str, allowed: str) -> None:
    response = http.open(path, method=method, json=DEMO)
    item = problem(response, 405, "240008")
    assert response.headers["Allow"] == allowed
    assert item["instance"] == path


def test_unknown_path_is_404(http: FlaskClient) -> None:
    item = problem(http.get("/v1/api/nothing-here"), 404, "240009")
    assert item["instance"] == "/v1/api/nothing-here"


def test_unknown_field_under_strict_v10_05_is_240010(make_app: Callable[..., Flask]) -> None:
    http = make_app(vendor="vision10", readings={"V10-05": "strict"}).test_client()
    problem(http.post(TOKEN_PATH, json={**DEMO, "audience": "x"}), 400, "240010")


def test_resource_without_token_is_240103_without_error_attribute(http: FlaskClient) -> None:
    response = resource(http, None)
    item = problem(response, 401, "240103")
    assert item["instance"] == RESOURCE_PATH
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="vision10"'


def test_every_documented_error_code_is_produced_by_this_module() -> None:
    """The table above and the contract's x-error-codes list the same codes (no code left untested)."""
    tested = {
        "240001",
        "240002",
        "240003",
        "240004",
        "240005",
        "240006",
        "240007",
        "240008",
        "240009",
        "240010",
        "240101",
        "240102",
        "240103",
    }
    assert set(contracts.spec("vision10")["components"]["x-error-codes"]) == tested


def test_instance_is_the_vendor_path_when_mounted_under_a_prefix(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    only_vision10 = ("vision10",)
    monkeypatch.setattr(contracts, "vendors", lambda: only_vision10)
    http = make_app().test_client()
    item = problem(http.post("/vision10" + TOKEN_PATH, json={**DEMO, "client_secret": "nope"}), 401, "240101")
    assert item["instance"] == TOKEN_PATH
    assert problem(http.get("/vision10/nope"), 404, "240009")["instance"] == "/nope"


# Register switches, each in both readings.


def switched(make_app: Callable[..., Flask], switch: str, reading: str) -> FlaskClient:
    return make_app(vendor="vision10", readings={switch: reading}).test_client()


def test_v10_01_query_parameters(make_app: Callable[..., Flask]) -> None:
    query = "&".join(f"{k}={v}" for k, v in DEMO.items())
    partial = {k: v for k, v in DEMO.items() if k != "client_secret"}
    strict = switched(make_app, "V10-01", "strict")
    problem(strict.post(f"{TOKEN_PATH}?{query}"), 400, "240002")
    problem(strict.post(f"{TOKEN_PATH}?client_secret=demo-secret", json=partial), 400, "240002")
    lenient = switched(make_app, "V10-01", "lenient")
    assert lenient.post(f"{TOKEN_PATH}?{query}").status_code == 200
    assert lenient.post(f"{TOKEN_PATH}?client_secret=demo-secret", json=partial).status_code == 200
    # The body wins over the query string, and a field missing from both is still refused.
    problem(
        lenient.post(f"{TOKEN_PATH}?client_secret=demo-secret", json={**DEMO, "client_secret": "x"}),
        401,
        "240101",
    )
    problem(lenient.post(TOKEN_PATH, json=partial), 400, "240002")
    # Fields from the query string obey the documented lengths too (V10-04 strict by default).
    problem(lenient.post(f"{TOKEN_PATH}?client_secret={'s' * 101}", json=partial), 400, "240003")
    both = make_app(vendor="vision10", readings={"V10-01": "lenient", "V10-04": "lenient"}).test_client()
    problem(both.post(f"{TOKEN_PATH}?client_secret={'s' * 101}", json=partial), 401, "240101")


def test_v10_02_form_body(make_app: Callable[..., Flask]) -> None:
    problem(switched(make_app, "V10-02", "strict").post(TOKEN_PATH, data=DEMO), 415, "240006")
    lenient = switched(make_app, "V10-02", "lenient")
    assert lenient.post(TOKEN_PATH, data=DEMO).status_code == 200
    problem(lenient.post(TOKEN_PATH, data={**DEMO, "client_secret": "x"}), 401, "240101")
    problem(lenient.post(TOKEN_PATH, data={**DEMO, "client_id": LONG}), 400, "240003")


def test_v10_02_lenient_parses_json_without_content_type(make_app: Callable[..., Flask]) -> None:
    """The register's lenient reading: 'a JSON body without a Content-Type is parsed as JSON'."""
    http = switched(make_app, "V10-02", "lenient")
    assert http.post(TOKEN_PATH, data=json.dumps(DEMO).encode()).status_code == 200
    problem(http.post(TOKEN_PATH, data=b"client_id=x"), 400, "240001")  # read as JSON, so not JSON
    problem(switched(make_app, "V10-02", "strict").post(TOKEN_PATH, data=json.dumps(DEMO).encode()), 415, "240006")


def test_v10_04_lengths(make_app: Callable[..., Flask]) -> None:
    problem(
        switched(make_app, "V10-04", "strict").post(TOKEN_PATH, json={**DEMO, "client_id": LONG}),
        400,
        "240003",
    )
    lenient = switched(make_app, "V10-04", "lenient")
    problem(lenient.post(TOKEN_PATH, json={**DEMO, "client_id": LONG}), 401, "240101")
    problem(lenient.post(TOKEN_PATH, json={**DEMO, "scope": "s" * 60}), 401, "240101")
    # Types are still checked when lengths are not.
    problem(lenient.post(TOKEN_PATH, json={**DEMO, "client_id": 5}), 400, "240004")


def test_v10_05_unknown_fields(make_app: Callable[..., Flask]) -> None:
    extra = {**DEMO, "audience": "vision10", "nested": {"a": 1}}
    problem(switched(make_app, "V10-05", "strict").post(TOKEN_PATH, json=extra), 400, "240010")
    assert switched(make_app, "V10-05", "lenient").post(TOKEN_PATH, json=extra).status_code == 200


def test_v10_12_grant_type(make_app: Callable[..., Flask]) -> None:
    other = {**DEMO, "grant_type": "password"}
    problem(switched(make_app, "V10-12", "strict").post(TOKEN_PATH, json=other), 400, "240005")
    lenient = switched(make_app, "V10-12", "lenient")
    assert lenient.post(TOKEN_PATH, json=other).status_code == 200
    problem(lenient.post(TOKEN_PATH, json={**DEMO, "grant_type": "g" * 51}), 400, "240003")


def test_v10_13_scope(make_app: Callable[..., Flask]) -> None:
    problem(switched(make_app, "V10-13", "strict").post(TOKEN_PATH, json={**DEMO, "scope": "edit"}), 401, "240101")
    lenient = switched(make_app, "V10-13", "lenient")
    token = issue(lenient, {**DEMO, "scope": "edit"})
    assert resource(lenient, token).get_json()["scope"] == "edit"
    # A lenient scope never excuses bad credentials.
    problem(lenient.post(TOKEN_PATH, json={**DEMO, "scope": "edit", "client_secret": "x"}), 401, "240101")


def test_defaults_follow_the_register(app: Flask) -> None:
    expected = {e.id: e.mock for e in contracts.register("vision10") if e.switchable}
    assert vendor_of(app).readings == expected
    assert set(expected) == {"V10-01", "V10-02", "V10-04", "V10-05", "V10-12", "V10-13"}


def test_strict_all_makes_every_switch_strict(make_app: Callable[..., Flask]) -> None:
    app = make_app(vendor="vision10", strict_all=True)
    assert set(vendor_of(app).readings.values()) == {"strict"}
    problem(app.test_client().post(TOKEN_PATH, json={**DEMO, "extra": "x"}), 400, "240010")


def test_explicit_reading_beats_strict_all(make_app: Callable[..., Flask]) -> None:
    app = make_app(vendor="vision10", strict_all=True, readings={"V10-05": "lenient"})
    assert app.test_client().post(TOKEN_PATH, json={**DEMO, "extra": "x"}).status_code == 200


# Expiry, driven by the mock clock.


def test_token_expires_at_the_resource(http: FlaskClient, clock: Clock) -> None:
    token = issue(http)
    clock.advance(7198)
    assert resource(http, token).status_code == 200
    clock.advance(1)
    response = resource(http, token)
    problem(response, 401, "240102")
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="vision10", error="invalid_token"')
    assert "expired" in challenge
    # A new token is issued on request (no refresh flow), and works.
    assert resource(http, issue(http)).status_code == 200


def test_expiry_follows_the_issuing_time_not_the_first_use(http: FlaskClient, clock: Clock) -> None:
    token = issue(http)
    clock.advance(7000)
    assert resource(http, token).status_code == 200
    clock.advance(199)
    problem(resource(http, token), 401, "240102")


# Refusals at the protected resource.


def forge(app: Flask, http: FlaskClient, kind: str) -> str:
    """A token that must be refused, made from a genuine one."""
    genuine = issue(http)
    header_b64, payload_b64, signature = genuine.split(".")
    signer = vendor_of(app).signer
    claims = jwt.decode(genuine, options={"verify_signature": False})
    if kind == "tampered":
        changed = {**claims, "scope": "admin"}
        return f"{header_b64}.{b64url(json.dumps(changed).encode())}.{signature}"
    if kind == "signature_stripped":
        return f"{header_b64}.{payload_b64}."
    if kind == "alg_none":
        header = b64url(json.dumps({"alg": "none", "typ": "JWT", "kid": signer.kid}).encode())
        return f"{header}.{b64url(json.dumps(claims).encode())}."
    if kind == "hs256_with_public_key":
        header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": signer.kid}).encode())
        body = b64url(json.dumps(claims).encode())
        mac = hmac.new(signer.public_material(), f"{header}.{body}".encode(), hashlib.sha256).digest()
        return f"{header}.{body}.{b64url(mac)}"
    if kind == "wrong_kid":
        return jwt.encode(claims, signer._signing_key, algorithm="RS256", headers={"kid": "another-key"})
    if kind == "foreign_key":
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return jwt.encode(claims, other, algorithm="RS256", headers={"kid": signer.kid})
    if kind == "no_exp":
        without = {k: v for k, v in claims.items() if k != "exp"}
        return jwt.encode(without, signer._signing_key, algorithm="RS256", headers={"kid": signer.kid})
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "tampered",
        "signature_stripped",
        "alg_none",
        "hs256_with_public_key",
        "wrong_kid",
        "foreign_key",
        "no_exp",
    ],
)
def test_forged_tokens_are_refused(app: Flask, http: FlaskClient, kind: str) -> None:
    response = resource(http, forge(app, http, kind))
    item = problem(response, 401, "240102")
    assert item["instance"] == RESOURCE_PATH
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("token", "scheme"),
    [
        ("not-a-jwt", "Bearer"),
        ("a.b.c", "Bearer"),
        ("ZGVtbzpkZW1v", "Basic"),
        ("", "Bearer"),
        ("x" * 3000, "Bearer"),
    ],
)
def test_malformed_credentials_are_refused(http: FlaskClient, token: str, scheme: str) -> None:
    response = resource(http, token, scheme)
    problem(response, 401, "240102")  # credentials were sent, so not 240103
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="vision10", error="invalid_token"')


def test_revoked_token_is_refused(app: Flask, http: FlaskClient) -> None:
    token, other = (
        issue(http),
        issue(
            http,
            {**DEMO, "client_id": "vision-api-user", "client_secret": "abcdefghizklmnopponommnshfghzxxs"},
        ),
    )
    mock_of(app).store.revoke(token)
    response = resource(http, token)
    problem(response, 401, "240102")
    assert "revoked" in response.headers["WWW-Authenticate"]
    assert resource(http, other).status_code == 200  # only that token


def test_tokens_of_another_app_instance_are_refused(make_app: Callable[..., Flask], http: FlaskClient) -> None:
    """Keys are generated per app: a token from another mock (another key) fails the kid/signature check."""
    foreign = issue(make_app(vendor="vision10").test_client())
    problem(resource(http, foreign), 401, "240102")


def test_configured_private_key_is_used(make_app: Callable[..., Flask]) -> None:
    from cryptography.hazmat.primitives import serialization

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    first = make_app(vendor="vision10", vendors={"vision10": {"private_key_pem": pem}}).test_client()
    second = make_app(vendor="vision10", vendors={"vision10": {"private_key_pem": pem}}).test_client()
    token = issue(first)
    jwt.decode(token, key.public_key(), algorithms=["RS256"], options={"verify_exp": False})
    assert resource(second, token).status_code == 200  # same key, same kid: accepted across instances


def test_runtime_client_gets_a_token(app: Flask, http: FlaskClient) -> None:
    mock_of(app).store.add_client("vision10", {"client_id": "ci", "client_secret": "ci-secret", "scopes": ["all"]})
    token = issue(http, {**DEMO, "client_id": "ci", "client_secret": "ci-secret"})
    assert resource(http, token).get_json()["client_id"] == "ci"
