"""AminoTV mock: login, cookie exchange, profile tokens, refresh and the streams resource; every refusal in
JSON:API shape; each register switch both ways. Response validation is on, so every reply is also checked
against openapi/aminotv.yaml."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import EPOCH
from tokenmock.mockserver.controls.clock import Clock
from tokenmock.mockserver.vendors.aminotv import AminoTV

JSON_API = "application/vnd.api+json"
DEMO = {"username": "demo@example.com", "password": "demo-password"}
DEFAULT_PROFILE = "84eb61a9-75d4-42c7-8c15-84c3d7776227"
SECOND_PROFILE = "3f1c2a9e-5b7d-4e8a-9c61-2d4b8e7f0a13"
OTHER_USERS_PROFILE = "b5e0c1d2-7a8b-4c9d-8e0f-1a2b3c4d5e6f"
STREAMS = "/channels/demo-channel/relationships/streams"


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(vendor="aminotv")


@pytest.fixture
def http(app: Flask) -> FlaskClient:
    return app.test_client()


def amino(app: Flask) -> AminoTV:
    vendor = app.extensions["tokenmock"].vendors["aminotv"]
    assert isinstance(vendor, AminoTV)
    return vendor


def login(http: FlaskClient, credentials: dict[str, Any] = DEMO, media_type: str = JSON_API) -> TestResponse:
    return http.post("/auth/login", json=credentials, content_type=media_type)


def attributes(response: TestResponse) -> dict[str, Any]:
    assert response.status_code == 200, response.json
    return response.json["data"][0]["attributes"]  # type: ignore[index]


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refresh(http: FlaskClient, token: str, media_type: str = JSON_API) -> TestResponse:
    return http.post("/auth/refresh", json={"refresh_token": token}, content_type=media_type)


def profile_token(http: FlaskClient, access_token: str, profile_id: str) -> TestResponse:
    return http.post(f"/profiles/{profile_id}/token", headers=bearer(access_token))


def error(response: TestResponse, status: int) -> dict[str, Any]:
    """The single JSON:API error of a refusal, after checking the status and the envelope."""
    assert response.status_code == status, response.json
    assert response.content_type == JSON_API
    (item,) = response.json["errors"]  # type: ignore[index]
    assert item["status"] == str(status)
    return item


# Flows.


def test_login_issues_the_documented_envelope_with_shaped_jwts(http: FlaskClient) -> None:
    response = login(http)
    got = attributes(response)
    assert response.content_type == JSON_API
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Pragma"] == "no-cache"
    item = response.json["data"][0]  # type: ignore[index]
    assert item["type"] == "AuthenticationTokens"
    assert got["user_id"] == 1234 and got["user_profile_id"] == DEFAULT_PROFILE
    # AMINO-03 lenient by default: expires_at_timestamp equals login_timestamp, as in the document.
    assert got["login_timestamp"] == int(EPOCH) and got["expires_at_timestamp"] == int(EPOCH)
    access, refreshing = claims(got["access_token"]), claims(got["refresh_token"])
    assert jwt.get_unverified_header(got["access_token"])["alg"] == "HS256"
    assert {"iss", "iat", "exp", "aud", "sub", "profile_id", "type", "stb_serial_no"} <= set(access)
    assert access["type"] == "access" and access["sub"] == DEMO["username"]
    assert access["profile_id"] == DEFAULT_PROFILE and access["stb_serial_no"] == "615500266162"
    assert access["exp"] == int(EPOCH) + 3600 and access["jti"] == item["id"]
    assert refreshing["type"] == "refresh" and refreshing["exp"] == int(EPOCH) + 98 * 86400
    assert refreshing["sid"] == access["sid"]


def test_cookie_exchange_gives_the_sessions_user_a_token_and_keeps_the_session(http: FlaskClient) -> None:
    http.set_cookie("session", "demo-session")
    first, second = http.post("/auth/cookie-exchange"), http.post("/auth/cookie-exchange")
    assert claims(attributes(first)["access_token"])["sub"] == DEMO["username"]
    assert attributes(second)["user_profile_id"] == DEFAULT_PROFILE


@pytest.mark.parametrize("profile_id", [DEFAULT_PROFILE, SECOND_PROFILE, SECOND_PROFILE.upper()])
def test_profile_token_is_bound_to_the_asked_profile(http: FlaskClient, profile_id: str) -> None:
    user = attributes(login(http))
    got = attributes(profile_token(http, user["access_token"], profile_id))
    assert got["user_profile_id"] == profile_id.lower()
    assert claims(got["access_token"])["profile_id"] == profile_id.lower()
    assert http.get(STREAMS, headers=bearer(got["access_token"])).status_code == 200


def test_channel_streams_lists_the_demo_channel(http: FlaskClient) -> None:
    response = http.get(STREAMS, headers=bearer(attributes(login(http))["access_token"]))
    assert response.status_code == 200 and response.content_type == JSON_API
    assert [s["id"] for s in response.json["data"]] == ["demo-channel-hd", "demo-channel-sd"]  # type: ignore[index]


def test_refresh_issues_a_new_pair_for_the_same_user(http: FlaskClient, clock: Clock) -> None:
    first = attributes(login(http))
    clock.advance(60)
    renewed = attributes(refresh(http, first["refresh_token"]))
    assert renewed["access_token"] != first["access_token"]
    assert renewed["refresh_token"] != first["refresh_token"]
    assert renewed["login_timestamp"] == int(EPOCH) + 60
    assert claims(renewed["access_token"])["sid"] == claims(first["access_token"])["sid"]
    assert http.get(STREAMS, headers=bearer(renewed["access_token"])).status_code == 200


def test_runtime_registered_user_gets_a_stable_default_profile(app: Flask, http: FlaskClient) -> None:
    amino(app).store.add_client("aminotv", {"username": "new@example.com", "password": "pw"})
    first = attributes(login(http, {"username": "new@example.com", "password": "pw"}))
    second = attributes(login(http, {"username": "new@example.com", "password": "pw"}))
    assert first["user_profile_id"] == second["user_profile_id"]
    assert isinstance(first["user_id"], int)


def test_demo_credentials_are_listed_at_the_root(http: FlaskClient) -> None:
    demo = http.get("/").json["vendors"]["aminotv"]["demo_credentials"]  # type: ignore[index]
    assert demo["cookie"] == "session=demo-session" and demo["profiles"] == [DEFAULT_PROFILE, SECOND_PROFILE]


# Refusals of the token operations.

LOGIN_REFUSALS = [
    ("wrong password", {"json": {**DEMO, "password": "nope"}}, 401, "invalid_credentials", None),
    ("unknown user", {"json": {**DEMO, "username": "who@example.com"}}, 401, "invalid_credentials", None),
    (
        "other user's password",
        {"json": {**DEMO, "password": "other-password"}},
        401,
        "invalid_credentials",
        None,
    ),
    (
        "missing password",
        {"json": {"username": DEMO["username"]}},
        400,
        "invalid_request",
        {"pointer": "/password"},
    ),
    ("empty username", {"json": {**DEMO, "username": ""}}, 400, "invalid_request", {"pointer": "/username"}),
    (
        "number as password",
        {"json": {**DEMO, "password": 7}},
        400,
        "invalid_request",
        {"pointer": "/password"},
    ),
    ("array body", {"json": [DEMO]}, 400, "invalid_request", None),
    ("not JSON", {"data": b"{nope", "content_type": JSON_API}, 400, "invalid_request", None),
    ("no body", {"content_type": JSON_API}, 400, "invalid_request", None),
    ("form body", {"data": DEMO}, 415, "unsupported_media_type", None),
    ("text body", {"data": "x", "content_type": "text/plain"}, 415, "unsupported_media_type", None),
    ("oversize body", {"json": {**DEMO, "pad": "x" * 70_000}}, 413, "payload_too_large", None),
]


@pytest.mark.parametrize(
    ("case", "request_", "status", "code", "source"), LOGIN_REFUSALS, ids=[c[0] for c in LOGIN_REFUSALS]
)
def test_login_refusals(
    http: FlaskClient, case: str, request_: dict[str, Any], status: int, code: str, source: Any
) -> None:
    item = error(http.post("/auth/login", **request_), status)
    assert item["code"] == code
    assert item.get("source") == source


@pytest.mark.parametrize("cookie", [None, "", "other-session", "demo-session "])
def test_cookie_exchange_refuses_a_missing_or_unknown_session(http: FlaskClient, cookie: str | None) -> None:
    if cookie is not None:
        http.set_cookie("session", cookie)
    item = error(http.post("/auth/cookie-exchange"), 401)
    assert item["code"] == "invalid_cookie"


def test_cookie_of_a_session_whose_user_is_gone_is_refused(make_app: Callable[..., Flask]) -> None:
    http = make_app(
        vendor="aminotv", vendors={"aminotv": {"sessions": {"ghost": "ghost@example.com"}}}
    ).test_client()
    http.set_cookie("session", "ghost")
    assert error(http.post("/auth/cookie-exchange"), 401)["code"] == "invalid_cookie"


@pytest.mark.parametrize(
    ("profile_id", "status", "code"),
    [
        (OTHER_USERS_PROFILE, 404, "not_found"),
        ("00000000-0000-4000-8000-000000000000", 404, "not_found"),
        ("not-a-uuid", 400, "invalid_request"),
    ],
)
def test_profile_token_refuses_profiles_not_of_this_user(
    http: FlaskClient, profile_id: str, status: int, code: str
) -> None:
    item = error(profile_token(http, attributes(login(http))["access_token"], profile_id), status)
    assert item["code"] == code
    if status == 400:
        assert item["source"] == {"parameter": "profile_id"}


def test_profile_token_needs_an_access_token(http: FlaskClient) -> None:
    user = attributes(login(http))
    missing = http.post(f"/profiles/{DEFAULT_PROFILE}/token")
    assert error(missing, 401)["code"] == "missing_token"
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="aminotv"'
    wrong_kind = profile_token(http, user["refresh_token"], DEFAULT_PROFILE)
    assert error(wrong_kind, 401)["code"] == "invalid_token"
    assert 'error="invalid_token"' in wrong_kind.headers["WWW-Authenticate"]


REFRESH_REFUSALS = [
    ("missing member", {"json": {}}, 400, "invalid_request"),
    ("empty token", {"json": {"refresh_token": ""}}, 400, "invalid_request"),
    ("garbage", {"json": {"refresh_token": "not-a-jwt"}}, 401, "invalid_refresh_token"),
    ("form body", {"data": {"refresh_token": "x"}}, 415, "unsupported_media_type"),
]


@pytest.mark.parametrize(
    ("case", "request_", "status", "code"), REFRESH_REFUSALS, ids=[c[0] for c in REFRESH_REFUSALS]
)
def test_refresh_refusals(
    http: FlaskClient, case: str, request_: dict[str, Any], status: int, code: str
) -> None:
    assert error(http.post("/auth/refresh", **request_), status)["code"] == code


def test_an_access_token_is_not_a_refresh_token(http: FlaskClient) -> None:
    item = error(refresh(http, attributes(login(http))["access_token"]), 401)
    assert item["code"] == "invalid_refresh_token" and "not a refresh token" in item["detail"]


def test_refresh_token_expires(http: FlaskClient, clock: Clock) -> None:
    token = attributes(login(http))["refresh_token"]
    clock.advance(98 * 86400 - 1)
    assert refresh(http, token).status_code == 200
    clock.advance(1)
    assert error(refresh(http, token), 401)["code"] == "refresh_token_expired"


def test_another_apps_refresh_token_is_refused(http: FlaskClient, make_app: Callable[..., Flask]) -> None:
    foreign = attributes(login(make_app(vendor="aminotv").test_client()))["refresh_token"]
    assert error(refresh(http, foreign), 401)["code"] == "invalid_refresh_token"


def test_revoked_refresh_token_is_refused(app: Flask, http: FlaskClient) -> None:
    token = attributes(login(http))["refresh_token"]
    amino(app).store.revoke(claims(token)["jti"])
    assert error(refresh(http, token), 401)["code"] == "invalid_refresh_token"


# The protected resource.


def _signed(app: Flask, **overrides: Any) -> str:
    """A token signed with the mock's own key, with claims of our choosing."""
    base = {"iss": "AminoTV API", "aud": "www.aminocom.com", "sub": DEMO["username"], "type": "access"}
    return amino(app).signer.issue({**base, **overrides}, 3600).token


def _unsigned(app: Flask) -> str:
    header = {"kid": amino(app).signer.kid}
    body = {"sub": DEMO["username"], "type": "access", "exp": int(EPOCH) + 3600}
    return jwt.encode(body, "", algorithm="none", headers=header)


def _tampered(token: str) -> str:
    head, body, signature = token.split(".")
    return f"{head}.{body}.{signature[:-4]}AAAA"


RESOURCE_REFUSALS: list[tuple[str, Callable[[Flask, dict[str, Any]], str]]] = [
    ("malformed", lambda app, user: "not.a.jwt"),
    ("refresh token", lambda app, user: user["refresh_token"]),
    ("badly signed", lambda app, user: _tampered(user["access_token"])),
    ("alg none", lambda app, user: _unsigned(app)),
    ("unknown user", lambda app, user: _signed(app, sub="ghost@example.com")),
    ("unknown type", lambda app, user: _signed(app, type="id")),
]


@pytest.mark.parametrize(("case", "make_token"), RESOURCE_REFUSALS, ids=[c[0] for c in RESOURCE_REFUSALS])
def test_resource_refuses_tokens_that_do_not_belong(
    app: Flask, http: FlaskClient, case: str, make_token: Callable[[Flask, dict[str, Any]], str]
) -> None:
    response = http.get(STREAMS, headers=bearer(make_token(app, attributes(login(http)))))
    assert error(response, 401)["code"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="aminotv", error="invalid_token"')


def test_resource_refuses_another_apps_token(http: FlaskClient, make_app: Callable[..., Flask]) -> None:
    foreign = attributes(login(make_app(vendor="aminotv").test_client()))["access_token"]
    assert error(http.get(STREAMS, headers=bearer(foreign)), 401)["code"] == "invalid_token"


@pytest.mark.parametrize("authorization", [None, "Basic ZGVtbzpkZW1v", "Bearer"])
def test_resource_without_a_bearer_token(http: FlaskClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = http.get(STREAMS, headers=headers)
    item = error(response, 401)
    assert item["code"] == ("missing_token" if authorization is None else "invalid_token")


def test_access_token_expires_by_the_mock_clock(http: FlaskClient, clock: Clock) -> None:
    token = attributes(login(http))["access_token"]
    clock.advance(3599)
    assert http.get(STREAMS, headers=bearer(token)).status_code == 200
    clock.advance(1)
    response = http.get(STREAMS, headers=bearer(token))
    assert error(response, 401)["code"] == "invalid_token"
    assert 'error_description="the access token expired"' in response.headers["WWW-Authenticate"]


def test_revoked_access_token_is_refused(app: Flask, http: FlaskClient) -> None:
    token = attributes(login(http))["access_token"]
    amino(app).store.revoke(token)
    assert error(http.get(STREAMS, headers=bearer(token)), 401)["code"] == "invalid_token"


def test_unknown_channel_is_404(http: FlaskClient) -> None:
    response = http.get(
        "/channels/nope/relationships/streams", headers=bearer(attributes(login(http))["access_token"])
    )
    assert error(response, 404)["code"] == "not_found"


def test_unknown_path_and_wrong_method_answer_in_json_api(http: FlaskClient) -> None:
    assert error(http.get("/auth/nowhere"), 404)["code"] == "not_found"
    wrong = http.get("/auth/login")
    assert error(wrong, 405)["code"] == "method_not_allowed"
    assert wrong.headers["Allow"] == "POST"


# Register switches, each both ways.


@pytest.mark.parametrize(("reading", "expected_offset"), [("strict", 3600), ("lenient", 0)])
def test_amino_03_expires_at_timestamp(
    make_app: Callable[..., Flask], reading: str, expected_offset: int
) -> None:
    http = make_app(vendor="aminotv", readings={"AMINO-03": reading}).test_client()
    got = attributes(login(http))
    assert got["expires_at_timestamp"] == got["login_timestamp"] + expected_offset
    assert (
        claims(got["access_token"])["exp"] == got["login_timestamp"] + 3600
    )  # the JWT always tells the truth


@pytest.mark.parametrize(("reading", "json_status"), [("strict", 415), ("lenient", 200)])
def test_amino_07_plain_json_requests(make_app: Callable[..., Flask], reading: str, json_status: int) -> None:
    http = make_app(vendor="aminotv", readings={"AMINO-07": reading}).test_client()
    token = attributes(login(http))["refresh_token"]  # application/vnd.api+json: always accepted
    assert login(http, media_type="application/json").status_code == json_status
    assert refresh(http, token, media_type="application/json").status_code == json_status
    if json_status == 415:
        assert error(login(http, media_type="application/json"), 415)["code"] == "unsupported_media_type"


@pytest.mark.parametrize(("reading", "status"), [("strict", 401), ("lenient", 200)])
def test_amino_09_token_without_type(make_app: Callable[..., Flask], reading: str, status: int) -> None:
    app = make_app(vendor="aminotv", readings={"AMINO-09": reading})
    http = app.test_client()
    base = {"iss": "AminoTV API", "aud": "www.aminocom.com", "sub": DEMO["username"]}
    untyped = amino(app).signer.issue(base, 3600).token
    assert http.get(STREAMS, headers=bearer(untyped)).status_code == status
    assert profile_token(http, untyped, SECOND_PROFILE).status_code == status
    # Whatever the reading, a refresh token is never an access token.
    refreshing = amino(app).signer.issue({**base, "type": "refresh"}, 3600).token
    assert http.get(STREAMS, headers=bearer(refreshing)).status_code == 401


def test_amino_10_is_strict_by_default(http: FlaskClient) -> None:
    """Lenient in what the mock accepts, strict in what clients must handle: a reused refresh token fails."""
    token = attributes(login(http))["refresh_token"]
    assert refresh(http, token).status_code == 200
    assert error(refresh(http, token), 401)["code"] == "invalid_refresh_token"


def test_amino_10_lenient_every_refresh_token_works_until_it_expires(make_app: Callable[..., Flask]) -> None:
    http = make_app(vendor="aminotv", readings={"AMINO-10": "lenient"}).test_client()
    token = attributes(login(http))["refresh_token"]
    assert refresh(http, token).status_code == 200
    assert refresh(http, token).status_code == 200


def test_amino_10_strict_rotates_and_a_replay_revokes_the_session(make_app: Callable[..., Flask]) -> None:
    http = make_app(vendor="aminotv", readings={"AMINO-10": "strict"}).test_client()
    first = attributes(login(http))
    second = attributes(refresh(http, first["refresh_token"]))
    replay = error(refresh(http, first["refresh_token"]), 401)
    assert replay["code"] == "invalid_refresh_token" and "already used" in replay["detail"]
    # The replay revoked the whole session: the rotated pair is refused too.
    assert error(refresh(http, second["refresh_token"]), 401)["code"] == "invalid_refresh_token"
    assert error(http.get(STREAMS, headers=bearer(second["access_token"])), 401)["code"] == "invalid_token"
    # A new login starts a new session.
    assert refresh(http, attributes(login(http))["refresh_token"]).status_code == 200


def test_amino_10_strict_refuses_a_token_the_store_forgot(app: Flask, make_app: Callable[..., Flask]) -> None:
    strict = make_app(vendor="aminotv", readings={"AMINO-10": "strict"})
    http = strict.test_client()
    token = attributes(login(http))["refresh_token"]
    amino(strict).store.reset()
    assert error(refresh(http, token), 401)["code"] == "invalid_refresh_token"


@pytest.mark.parametrize(("reading", "expected"), [("strict", SECOND_PROFILE), ("lenient", DEFAULT_PROFILE)])
def test_amino_11_profile_of_a_renewed_token(
    make_app: Callable[..., Flask], reading: str, expected: str
) -> None:
    http = make_app(vendor="aminotv", readings={"AMINO-11": reading}).test_client()
    profile = attributes(profile_token(http, attributes(login(http))["access_token"], SECOND_PROFILE))
    renewed = attributes(refresh(http, profile["refresh_token"]))
    assert renewed["user_profile_id"] == expected
    assert claims(renewed["access_token"])["profile_id"] == expected


def test_strict_all_turns_every_switch_strict(make_app: Callable[..., Flask]) -> None:
    vendor = amino(make_app(vendor="aminotv", strict_all=True))
    assert not any(vendor.lenient(switch) for switch in AminoTV.switches)
