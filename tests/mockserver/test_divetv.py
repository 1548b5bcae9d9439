"""Dive mock: the documented exchange, refresh rotation and reuse detection, every refusal in Spring
Security OAuth2's JSON, token-kind confusion, expiry by the clock, and each register switch both ways.
Response validation is on, so every reply is also checked against openapi/divetv.yaml."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import EPOCH
from tokenmock import contracts
from tokenmock.mockserver.controls.clock import Clock
from tokenmock.mockserver.pipeline.core import TokenMock
from tokenmock.mockserver.vendors.divetv import DiveTV

TOKEN_PATH, RESOURCE_PATH = "/v1/token", "/v1/resource"
DEVICE, REFRESH = f"{TOKEN_PATH}?grant_type=device_credentials", f"{TOKEN_PATH}?grant_type=refresh_token"
KEY = "demo-client-key"
RAW_KEY = {"Authorization": f"Basic {KEY}"}
MD5 = hashlib.md5(b"demo-password").hexdigest()
DEMO = {"username": "demo-user", "password": MD5}
DAY = 86400
ACCESS_CLAIMS = {"aud", "device_id", "grant_type", "scope", "exp", "authorities", "client_id", "jti"}


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(vendor="divetv")


@pytest.fixture
def http(app: Flask) -> FlaskClient:
    return app.test_client()


def mock_of(app: Flask) -> TokenMock:
    mock: TokenMock = app.extensions["tokenmock"]
    return mock


def dive(app: Flask) -> DiveTV:
    vendor = mock_of(app).vendors["divetv"]
    assert isinstance(vendor, DiveTV)
    return vendor


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def login(
    http: FlaskClient, body: Any = None, *, headers: dict[str, str] | None = None, **kwargs: Any
) -> TestResponse:
    """The document's request: JSON body, raw key in Basic, grant_type in the query."""
    return http.post(
        DEVICE, json=DEMO if body is None else body, headers=RAW_KEY if headers is None else headers, **kwargs
    )


def refresh(http: FlaskClient, token: str, *, headers: dict[str, str] | None = None) -> TestResponse:
    return http.post(REFRESH, json={"refresh_token": token}, headers=RAW_KEY if headers is None else headers)


def tokens(response: TestResponse) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


def resource(http: FlaskClient, token: str | None, scheme: str = "Bearer") -> TestResponse:
    return http.get(RESOURCE_PATH, headers={} if token is None else {"Authorization": f"{scheme} {token}"})


def refusal(response: TestResponse, status: int, code: str) -> str:
    """Assert Spring's `{error, error_description}` with this status and code; return the description."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "error_description"} and body["error"] == code
    description: str = body["error_description"]
    assert description.isascii() and '"' not in description
    return description


def token_refusal(response: TestResponse, status: int, code: str) -> str:
    """A token-endpoint refusal: Spring's JSON, never cached, a Basic challenge exactly when it is a 401."""
    description = refusal(response, status, code)
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Pragma"] == "no-cache"
    assert response.headers.get("WWW-Authenticate") == (
        'Basic realm="oauth2/client"' if status == 401 else None
    )
    return description


def bearer_refusal(response: TestResponse) -> str:
    description = refusal(response, 401, "invalid_token")
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="oauth2-resource", error="invalid_token", error_description="')
    return description


# The documented exchange.


def test_documented_request_gets_the_documented_shape(app: Flask, http: FlaskClient) -> None:
    response = login(http)
    body = tokens(response)
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Pragma"] == "no-cache"
    assert set(body) == {
        "access_token",
        "token_type",
        "refresh_token",
        "expires_in",
        "scope",
        "device_id",
        "client_id",
        "jti",
    }
    assert body["token_type"] == "bearer" and body["expires_in"] == 8999 and body["scope"] == "device"
    assert body["device_id"] == "123456" and body["client_id"] == "demo-client"
    key = dive(app).signer._signing_key
    access = jwt.decode(
        body["access_token"], key, algorithms=["HS256"], options={"verify_aud": False, "verify_exp": False}
    )
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "HS256"
    assert set(access) >= ACCESS_CLAIMS and "ati" not in access
    assert access["aud"] == ["api-server", "oauth-server"] and access["scope"] == ["device"]
    assert access["grant_type"] == "device_credentials" and access["device_id"] == "123456"
    assert access["authorities"] == ["ROLE_CARD_DETAIL", "ROLE_TV_GRID", "ROLE_CATALOG", "ROLE_ONE_SHOT"]
    assert access["client_id"] == body["client_id"]  # DIVE-10: one value in body and token
    assert access["jti"] == body["jti"] and access["exp"] == int(EPOCH) + 9000
    renewal = jwt.decode(
        body["refresh_token"], key, algorithms=["HS256"], options={"verify_aud": False, "verify_exp": False}
    )
    assert renewal["ati"] == access["jti"] and renewal["jti"] != access["jti"]
    assert renewal["exp"] == int(EPOCH) + 180 * DAY
    assert {k: renewal[k] for k in ACCESS_CLAIMS - {"exp", "jti"}} == {
        k: access[k] for k in ACCESS_CLAIMS - {"exp", "jti"}
    }
    contracts.validate_response("divetv", "issueToken", 200, body, dict(response.headers))


def test_issued_token_opens_the_resource(http: FlaskClient) -> None:
    body = tokens(login(http))
    answer = resource(http, body["access_token"])
    assert answer.status_code == 200
    assert answer.get_json() == {k: v for k, v in claims(body["access_token"]).items() if k in ACCESS_CLAIMS}


def test_refresh_issues_a_new_pair_for_the_same_grant(http: FlaskClient, clock: Clock) -> None:
    first = tokens(login(http))
    clock.advance(60)
    renewed = tokens(refresh(http, first["refresh_token"]))
    assert (
        renewed["access_token"] != first["access_token"]
        and renewed["refresh_token"] != first["refresh_token"]
    )
    assert (
        renewed["jti"] != first["jti"] and renewed["device_id"] == "123456" and renewed["expires_in"] == 8999
    )
    access, renewal = claims(renewed["access_token"]), claims(renewed["refresh_token"])
    assert access["grant_type"] == "device_credentials"  # Spring keeps the original grant's claims
    assert access["exp"] == int(EPOCH) + 60 + 9000 and renewal["exp"] == int(EPOCH) + 60 + 180 * DAY
    assert renewal["ati"] == access["jti"] and access["sid"] == claims(first["access_token"])["sid"]
    assert resource(http, renewed["access_token"]).status_code == 200


def test_lifetimes_are_configurable(make_app: Callable[..., Flask]) -> None:
    http = make_app(
        vendor="divetv", vendors={"divetv": {"token_lifetime": 60, "refresh_lifetime": 120}}
    ).test_client()
    body = tokens(login(http))
    assert body["expires_in"] == 59
    assert claims(body["access_token"])["exp"] == int(EPOCH) + 60
    assert claims(body["refresh_token"])["exp"] == int(EPOCH) + 120


def test_configured_secret_signs_tokens_across_instances(make_app: Callable[..., Flask]) -> None:
    settings = {"divetv": {"secret": "a-shared-secret-of-at-least-32-bytes"}}
    first, second = (make_app(vendor="divetv", vendors=settings).test_client() for _ in range(2))
    body = tokens(login(first))
    jwt.decode(
        body["access_token"],
        "a-shared-secret-of-at-least-32-bytes",
        algorithms=["HS256"],
        options={"verify_aud": False, "verify_exp": False},
    )
    assert resource(second, body["access_token"]).status_code == 200


def test_runtime_registered_client_and_user(app: Flask, http: FlaskClient) -> None:
    store = mock_of(app).store
    store.add_client("divetv", {"client_key": "ci-key", "client_id": "ci"})
    store.add_client("divetv", {"username": "ci-user", "password": "ci-pass", "device_id": "ci-box"})
    body = tokens(
        login(
            http,
            {"username": "ci-user", "password": hashlib.md5(b"ci-pass").hexdigest()},
            headers={"Authorization": "Basic ci-key"},
        )
    )
    assert body["client_id"] == "ci" and body["device_id"] == "ci-box"
    assert claims(body["access_token"])["authorities"] == []


def test_user_configured_by_password_digest(make_app: Callable[..., Flask]) -> None:
    users = [{"username": "hashed", "password_md5": hashlib.md5(b"pw").hexdigest().upper(), "device_id": "d"}]
    http = make_app(vendor="divetv", vendors={"divetv": {"users": users}}).test_client()
    assert (
        tokens(login(http, {"username": "hashed", "password": hashlib.md5(b"pw").hexdigest()}))["device_id"]
        == "d"
    )


def test_index_lists_the_demo_credentials(http: FlaskClient) -> None:
    demo = http.get("/").get_json()["vendors"]["divetv"]["demo_credentials"]
    assert demo["client_key"] == KEY and demo["username"] == "demo-user" and demo["password_md5"] == MD5


# Refusals at the token endpoint (default readings).

TOKEN_REFUSALS = [
    # (case, path, headers, send, status, code)
    ("no Authorization", DEVICE, {}, {"json": DEMO}, 401, "invalid_client"),
    ("Bearer instead of Basic", DEVICE, {"Authorization": "Bearer x"}, {"json": DEMO}, 401, "invalid_client"),
    ("empty Basic", DEVICE, {"Authorization": "Basic "}, {"json": DEMO}, 401, "invalid_client"),
    ("unknown key", DEVICE, {"Authorization": "Basic other-key"}, {"json": DEMO}, 401, "invalid_client"),
    (
        "base64 of key:secret",
        DEVICE,
        {"Authorization": f"Basic {b64(KEY + ':x')}"},
        {"json": DEMO},
        401,
        "invalid_client",
    ),
    (
        "wrong password",
        DEVICE,
        RAW_KEY,
        {"json": {**DEMO, "password": hashlib.md5(b"nope").hexdigest()}},
        400,
        "invalid_grant",
    ),
    ("unknown user", DEVICE, RAW_KEY, {"json": {**DEMO, "username": "nobody"}}, 400, "invalid_grant"),
    (
        "plain password",
        DEVICE,
        RAW_KEY,
        {"json": {**DEMO, "password": "demo-password"}},
        400,
        "invalid_request",
    ),
    (
        "plain password beside a refresh_token",
        DEVICE,
        RAW_KEY,
        {"json": {**DEMO, "password": "demo-password", "refresh_token": "x"}},
        400,
        "invalid_request",
    ),
    ("no username", DEVICE, RAW_KEY, {"json": {"password": MD5}}, 400, "invalid_request"),
    ("no password", DEVICE, RAW_KEY, {"json": {"username": "demo-user"}}, 400, "invalid_request"),
    ("only a refresh_token", DEVICE, RAW_KEY, {"json": {"refresh_token": "x"}}, 400, "invalid_request"),
    ("empty username", DEVICE, RAW_KEY, {"json": {**DEMO, "username": ""}}, 400, "invalid_request"),
    ("username not a string", DEVICE, RAW_KEY, {"json": {**DEMO, "username": 7}}, 400, "invalid_request"),
    ("refresh without refresh_token", REFRESH, RAW_KEY, {"json": DEMO}, 400, "invalid_request"),
    (
        "unknown grant_type",
        f"{TOKEN_PATH}?grant_type=password",
        RAW_KEY,
        {"json": DEMO},
        400,
        "unsupported_grant_type",
    ),
    ("no grant_type", TOKEN_PATH, RAW_KEY, {"json": DEMO}, 400, "invalid_request"),
    (
        "body not JSON",
        DEVICE,
        RAW_KEY,
        {"data": "{", "content_type": "application/json"},
        400,
        "invalid_request",
    ),
    ("JSON array", DEVICE, RAW_KEY, {"json": [DEMO]}, 400, "invalid_request"),
    ("no body", DEVICE, RAW_KEY, {}, 400, "invalid_request"),
    (
        "repeated form field",
        DEVICE,
        RAW_KEY,
        {
            "data": f"username=demo-user&password={MD5}&password={MD5}",
            "content_type": "application/x-www-form-urlencoded",
        },
        400,
        "invalid_request",
    ),
    ("text/plain", DEVICE, RAW_KEY, {"data": "hi", "content_type": "text/plain"}, 415, "invalid_request"),
]


@pytest.mark.parametrize(
    ("case", "path", "headers", "send", "status", "code"), TOKEN_REFUSALS, ids=[c[0] for c in TOKEN_REFUSALS]
)
def test_token_refusals(
    http: FlaskClient,
    case: str,
    path: str,
    headers: dict[str, str],
    send: dict[str, Any],
    status: int,
    code: str,
) -> None:
    token_refusal(http.post(path, headers=headers, **send), status, code)


def test_bad_user_credentials_read_as_spring_says(http: FlaskClient) -> None:
    wrong = login(http, {**DEMO, "password": hashlib.md5(b"nope").hexdigest()})
    assert token_refusal(wrong, 400, "invalid_grant") == "Bad credentials"


def test_oversize_body_is_413(http: FlaskClient) -> None:
    response = login(http, {**DEMO, "padding": "x" * 70_000})
    refusal(response, 413, "invalid_request")


@pytest.mark.parametrize(
    ("method", "path", "allowed"), [("GET", TOKEN_PATH, "POST"), ("POST", RESOURCE_PATH, "GET")]
)
def test_wrong_method_is_405_with_allow(http: FlaskClient, method: str, path: str, allowed: str) -> None:
    response = http.open(path, method=method, headers=RAW_KEY)
    refusal(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == allowed


def test_unknown_path_is_404(http: FlaskClient) -> None:
    refusal(http.post("/v1/tokens", json=DEMO, headers=RAW_KEY), 404, "not_found")


def test_every_documented_error_code_is_produced() -> None:
    """Each `error` the contract allows for issueToken appears in a refusal case above."""
    spec = contracts.resolved_spec("divetv")["components"]["schemas"]
    documented = {
        c
        for name in ("TokenError", "ClientAuthError")
        for c in spec[name]["allOf"][1]["properties"]["error"]["enum"]
    }
    assert documented == {c[5] for c in TOKEN_REFUSALS}


# Refresh: refusals, rotation and reuse detection.


def test_refresh_refusals(app: Flask, http: FlaskClient, make_app: Callable[..., Flask]) -> None:
    body = tokens(login(http))
    foreign = tokens(login(make_app(vendor="divetv").test_client()))["refresh_token"]
    cases = {
        "garbage": "not-a-jwt",
        "access token": body["access_token"],
        "another mock's refresh token": foreign,
        "tampered": _tampered(body["refresh_token"], device_id="evil"),
        "alg none": jwt.encode(
            claims(body["refresh_token"]), "", algorithm="none", headers={"kid": dive(app).signer.kid}
        ),
    }
    descriptions = {
        case: token_refusal(refresh(http, token), 400, "invalid_grant") for case, token in cases.items()
    }
    assert descriptions["access token"] == "Encoded token is not a refresh token"
    assert descriptions["garbage"] == "Invalid refresh token"
    assert all(token not in text for token, text in zip(cases.values(), descriptions.values(), strict=True))
    assert tokens(refresh(http, body["refresh_token"]))  # none of that touched the genuine one


def test_refresh_token_of_another_client_is_refused(app: Flask, http: FlaskClient) -> None:
    mock_of(app).store.add_client("divetv", {"client_key": "other-key", "client_id": "other"})
    body = tokens(login(http))
    other = refresh(http, body["refresh_token"], headers={"Authorization": "Basic other-key"})
    assert token_refusal(other, 400, "invalid_grant") == "Wrong client for this refresh token"


def test_refresh_token_expires_after_180_days(http: FlaskClient, clock: Clock) -> None:
    first = tokens(login(http))
    clock.advance(180 * DAY - 1)
    second = tokens(refresh(http, first["refresh_token"]))
    clock.advance(180 * DAY)
    assert token_refusal(refresh(http, second["refresh_token"]), 400, "invalid_grant") == (
        "Invalid refresh token (expired)"
    )


def test_used_refresh_token_is_refused_and_its_family_revoked(http: FlaskClient) -> None:
    first = tokens(login(http))
    bystander = tokens(login(http))  # another session of the same user
    second = tokens(refresh(http, first["refresh_token"]))
    assert resource(http, second["access_token"]).status_code == 200
    replay = refresh(http, first["refresh_token"])
    assert "already used" in token_refusal(replay, 400, "invalid_grant")
    # The whole session is revoked: the rotated refresh token and every access token issued in it.
    token_refusal(refresh(http, second["refresh_token"]), 400, "invalid_grant")
    assert bearer_refusal(resource(http, second["access_token"])) == "Token was revoked"
    bearer_refusal(resource(http, first["access_token"]))
    assert resource(http, bystander["access_token"]).status_code == 200
    assert tokens(refresh(http, bystander["refresh_token"]))


def test_revoked_refresh_token_is_refused(app: Flask, http: FlaskClient) -> None:
    body = tokens(login(http))
    mock_of(app).store.revoke(claims(body["refresh_token"])["jti"])
    assert token_refusal(refresh(http, body["refresh_token"]), 400, "invalid_grant") == (
        "Invalid refresh token (revoked)"
    )


def test_refresh_forgotten_after_reset_is_refused(app: Flask, http: FlaskClient) -> None:
    body = tokens(login(http))
    mock_of(app).store.reset()
    assert "unknown" in token_refusal(refresh(http, body["refresh_token"]), 400, "invalid_grant")


# Refusals at the protected resource.


def _tampered(token: str, **changes: Any) -> str:
    header, _, signature = token.split(".")
    body = base64.urlsafe_b64encode(json.dumps({**claims(token), **changes}).encode()).rstrip(b"=").decode()
    return f"{header}.{body}.{signature}"


def test_resource_without_token_has_no_error_attribute(http: FlaskClient) -> None:
    response = resource(http, None)
    refusal(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="oauth2-resource"'


def test_access_token_expires_at_the_resource(http: FlaskClient, clock: Clock) -> None:
    token = tokens(login(http))["access_token"]
    clock.advance(8999)
    assert resource(http, token).status_code == 200
    clock.advance(1)
    assert "expired" in bearer_refusal(resource(http, token))


def test_refresh_token_is_not_an_access_token(http: FlaskClient) -> None:
    token = tokens(login(http))["refresh_token"]
    assert bearer_refusal(resource(http, token)) == "Encoded token is a refresh token"


def test_another_vendors_token_is_refused(http: FlaskClient, make_app: Callable[..., Flask]) -> None:
    amino = make_app(vendor="aminotv").test_client()
    answer = amino.post(
        "/auth/login",
        json={"username": "demo@example.com", "password": "demo-password"},
        content_type="application/vnd.api+json",
    )
    token = answer.get_json()["data"][0]["attributes"]["access_token"]
    bearer_refusal(resource(http, token))


@pytest.mark.parametrize(
    "kind", ["tampered", "signature_stripped", "alg_none", "wrong_kid", "foreign_key", "no_exp"]
)
def test_forged_tokens_are_refused(app: Flask, http: FlaskClient, kind: str) -> None:
    genuine = tokens(login(http))["access_token"]
    signer = dive(app).signer
    found = claims(genuine)
    forged = {
        "tampered": lambda: _tampered(genuine, authorities=["ROLE_ADMIN"]),
        "signature_stripped": lambda: genuine.rsplit(".", 1)[0] + ".",
        "alg_none": lambda: jwt.encode(found, "", algorithm="none", headers={"kid": signer.kid}),
        "wrong_kid": lambda: jwt.encode(
            found, dive(app).signer._signing_key, algorithm="HS256", headers={"kid": "other"}
        ),
        "foreign_key": lambda: jwt.encode(
            found, "another-secret-of-32-bytes-or-more!", algorithm="HS256", headers={"kid": signer.kid}
        ),
        "no_exp": lambda: jwt.encode(
            {k: v for k, v in found.items() if k != "exp"},
            dive(app).signer._signing_key,
            algorithm="HS256",
            headers={"kid": signer.kid},
        ),
    }[kind]()
    bearer_refusal(resource(http, forged))


@pytest.mark.parametrize(
    ("token", "scheme"),
    [("not-a-jwt", "Bearer"), ("a.b.c", "Bearer"), (KEY, "Basic"), ("x" * 3000, "Bearer")],
)
def test_malformed_credentials_are_refused(http: FlaskClient, token: str, scheme: str) -> None:
    bearer_refusal(resource(http, token, scheme))


def test_documented_bearer_example_is_refused(http: FlaskClient) -> None:
    """DIVE-09: the document's Authorization line carries a damaged, long-expired token."""
    scheme = contracts.spec("divetv")["components"]["securitySchemes"]["bearerToken"]
    line: str = scheme["x-documented-example"]
    response = http.get(RESOURCE_PATH, headers={"Authorization": line.removeprefix("Authorization: ")})
    bearer_refusal(response)


def test_revoked_access_token_is_refused(app: Flask, http: FlaskClient) -> None:
    token, other = tokens(login(http))["access_token"], tokens(login(http))["access_token"]
    mock_of(app).store.revoke(claims(token)["jti"])
    bearer_refusal(resource(http, token))
    assert resource(http, other).status_code == 200


# Register switches, each both ways.

FORM = {"content_type": "application/x-www-form-urlencoded"}


def test_defaults_follow_the_register(app: Flask) -> None:
    expected = {e.id: e.mock for e in contracts.register("divetv") if e.switchable}
    assert dive(app).readings == expected and set(expected) == DiveTV.switches


def test_strict_all_makes_every_switch_strict(make_app: Callable[..., Flask]) -> None:
    vendor = dive(make_app(vendor="divetv", strict_all=True))
    assert all(not vendor.lenient(i) for i in DiveTV.switches)


@pytest.mark.parametrize(("reading", "status"), [("lenient", 200), ("strict", 415)])
def test_dive_01_form_body(make_app: Callable[..., Flask], reading: str, status: int) -> None:
    http = make_app(vendor="divetv", readings={"DIVE-01": reading}).test_client()
    response = http.post(DEVICE, data=DEMO, headers=RAW_KEY, **FORM)
    if status == 200:
        assert tokens(response)["device_id"] == "123456"
        assert tokens(
            http.post(
                REFRESH, data={"refresh_token": response.get_json()["refresh_token"]}, headers=RAW_KEY, **FORM
            )
        )
    else:
        assert "is not accepted; use application/json" in token_refusal(response, 415, "invalid_request")
    assert tokens(login(http))  # JSON, as the document's header says, under both readings


@pytest.mark.parametrize(
    "authorization", [f"Basic {b64(KEY)}", f"Basic {b64(KEY + ':')}", f"basic {b64(KEY + ':')}"]
)
@pytest.mark.parametrize("reading", ["lenient", "strict"])
def test_dive_02_base64_keys(make_app: Callable[..., Flask], reading: str, authorization: str) -> None:
    http = make_app(vendor="divetv", readings={"DIVE-02": reading}).test_client()
    response = login(http, headers={"Authorization": authorization})
    if reading == "lenient":
        assert tokens(response)["client_id"] == "demo-client"
    else:
        token_refusal(response, 401, "invalid_client")
    assert tokens(login(http))  # the raw key, exactly as written, under both readings


def test_dive_03_strict_needs_grant_type_in_the_query(make_app: Callable[..., Flask]) -> None:
    http = make_app(vendor="divetv", readings={"DIVE-03": "strict"}).test_client()
    response = http.post(TOKEN_PATH, json={**DEMO, "grant_type": "device_credentials"}, headers=RAW_KEY)
    assert "grant_type" in token_refusal(response, 400, "invalid_request")


def test_dive_03_lenient_reads_grant_type_from_the_body(make_app: Callable[..., Flask]) -> None:
    http = make_app(vendor="divetv", readings={"DIVE-03": "lenient"}).test_client()
    response = http.post(TOKEN_PATH, json={**DEMO, "grant_type": "device_credentials"}, headers=RAW_KEY)
    assert tokens(response)["device_id"] == "123456"


@pytest.mark.parametrize("reading", ["lenient", "strict"])
def test_dive_03_query_wins_over_the_body(make_app: Callable[..., Flask], reading: str) -> None:
    http = make_app(vendor="divetv", readings={"DIVE-03": reading}).test_client()
    assert tokens(login(http, {**DEMO, "grant_type": "refresh_token"}))["device_id"] == "123456"


@pytest.mark.parametrize(("reading", "status"), [("lenient", 200), ("strict", 400)])
def test_dive_04_upper_case_digest(make_app: Callable[..., Flask], reading: str, status: int) -> None:
    http = make_app(vendor="divetv", readings={"DIVE-04": reading}).test_client()
    response = login(http, {**DEMO, "password": MD5.upper()})
    if status == 200:
        assert tokens(response)
    else:
        assert "lower-case" in token_refusal(response, 400, "invalid_request")
    assert tokens(login(http))


@pytest.mark.parametrize(("reading", "expires_in"), [("lenient", 8999), ("strict", 9000)])
def test_dive_05_expires_in(make_app: Callable[..., Flask], reading: str, expires_in: int) -> None:
    http = make_app(vendor="divetv", readings={"DIVE-05": reading}).test_client()
    body = tokens(login(http))
    assert body["expires_in"] == expires_in
    assert claims(body["access_token"])["exp"] == int(EPOCH) + 9000  # the validity is 9000 s either way


@pytest.mark.parametrize(("reading", "device_id"), [("lenient", "box-42"), ("strict", "123456")])
def test_dive_06_device_id_in_the_body(make_app: Callable[..., Flask], reading: str, device_id: str) -> None:
    http = make_app(vendor="divetv", readings={"DIVE-06": reading}).test_client()
    body = tokens(login(http, {**DEMO, "device_id": "box-42"}))
    assert body["device_id"] == device_id and claims(body["access_token"])["device_id"] == device_id
    renewed = tokens(refresh(http, body["refresh_token"]))  # the refresh token remembers the device
    assert renewed["device_id"] == device_id and claims(renewed["refresh_token"])["device_id"] == device_id
    assert tokens(login(http))["device_id"] == "123456"


@pytest.mark.parametrize("bad", [7, "", "x" * 129])
def test_dive_06_lenient_refuses_a_malformed_device_id(http: FlaskClient, bad: Any) -> None:
    token_refusal(login(http, {**DEMO, "device_id": bad}), 400, "invalid_request")


def test_dive_11_lenient_keeps_the_refresh_token(make_app: Callable[..., Flask], clock: Clock) -> None:
    app = make_app(vendor="divetv", readings={"DIVE-11": "lenient"})
    http = app.test_client()
    first = tokens(login(http))
    renewals = [tokens(refresh(http, first["refresh_token"])) for _ in range(3)]
    assert {r["refresh_token"] for r in renewals} == {first["refresh_token"]}
    assert len({r["access_token"] for r in renewals}) == 3
    assert all(resource(http, r["access_token"]).status_code == 200 for r in renewals)
    clock.advance(180 * DAY)  # still only for its 180 days
    token_refusal(refresh(http, first["refresh_token"]), 400, "invalid_grant")


def test_dive_11_lenient_still_honours_revocation(make_app: Callable[..., Flask]) -> None:
    app = make_app(vendor="divetv", readings={"DIVE-11": "lenient"})
    http = app.test_client()
    first = tokens(login(http))
    mock_of(app).store.revoke(claims(first["refresh_token"])["sid"])
    token_refusal(refresh(http, first["refresh_token"]), 400, "invalid_grant")
    bearer_refusal(resource(http, first["access_token"]))


def test_dive_11_strict_rotates(http: FlaskClient) -> None:
    first = tokens(login(http))
    second = tokens(refresh(http, first["refresh_token"]))
    assert second["refresh_token"] != first["refresh_token"]
    token_refusal(refresh(http, first["refresh_token"]), 400, "invalid_grant")
