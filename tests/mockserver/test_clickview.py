"""ClickView mock: the documented curl, every token error, each CV switch both ways, the resource's refusals.

Every reply is also checked against openapi/clickview.yaml (make_app turns response validation on).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import EPOCH
from tokenmock.mockserver.controls.clock import Clock

DEMO = {
    "grant_type": "client_credentials",
    "client_id": "demo-client",
    "client_secret": "demo-secret",
    "scope": "smartembed.viewkey",
}
# A client whose secret RFC 6749 §2.3.1 encoding changes, and one without the resource's scope.
ODD = {"client_id": "odd client", "client_secret": "p+s%2:w&=", "scopes": ["smartembed.viewkey"]}
NARROW = {"client_id": "narrow", "client_secret": "narrow-secret", "scopes": ["library.read"]}
CLIENTS = [
    {"client_id": "demo-client", "client_secret": "demo-secret", "scopes": ["smartembed.viewkey"]},
    ODD,
    NARROW,
]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def basic(client_id: str, secret: str, *, encode: bool = True) -> dict[str, str]:
    """Authorization: Basic, with RFC 6749 §2.3.1 form-urlencoding or raw as Authlib sends it."""
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}" if encode else f"{client_id}:{secret}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


@pytest.fixture
def cv(make_app: Callable[..., Flask]) -> Callable[..., FlaskClient]:
    """A test client of a ClickView-only mock, with readings and settings as given."""

    def build(**readings: str) -> FlaskClient:
        app = make_app(vendor="clickview", readings=readings, vendors={"clickview": {"clients": CLIENTS}})
        return app.test_client()

    return build


@pytest.fixture
def http(cv: Callable[..., FlaskClient]) -> FlaskClient:
    return cv()


def fetch(http: FlaskClient, **form: Any) -> str:
    """A token for the given form (demo credentials by default)."""
    reply = http.post("/connect/token", data={**DEMO, **form})
    assert reply.status_code == 200, body(reply)
    return str(body(reply)["access_token"])


def example(http: FlaskClient, token: str, scheme: str = "Bearer") -> TestResponse:
    return http.get("/api/v1/example", headers={"Authorization": f"{scheme} {token}"})


def body(reply: TestResponse) -> dict[str, Any]:
    """The reply's JSON object (every ClickView reply is one)."""
    data = reply.get_json()
    assert isinstance(data, dict), reply.data
    return data


def challenge(reply: TestResponse) -> str:
    return str(reply.headers["WWW-Authenticate"])


# The token endpoint.


def test_the_documents_curl_gets_the_documented_token(http: FlaskClient) -> None:
    # curl --data ... sends each pair form-urlencoded, in this order.
    reply = http.post(
        "/connect/token",
        data="grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret&scope=smartembed.viewkey",
        content_type="application/x-www-form-urlencoded",
    )
    assert reply.status_code == 200
    token = body(reply)
    assert {k: v for k, v in token.items() if k != "access_token"} == {
        "token_type": "Bearer",
        "expires_in": 86400,
        "scope": "smartembed.viewkey",
    }
    assert reply.headers["Cache-Control"] == "no-store" and reply.headers["Pragma"] == "no-cache"
    header = jwt.get_unverified_header(token["access_token"])
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert header["alg"] == "HS256" and header["typ"] == "at+jwt"
    assert claims["client_id"] == "demo-client" and claims["scope"] == ["smartembed.viewkey"]
    assert claims["iat"] == int(EPOCH) and claims["exp"] == int(EPOCH) + 86400
    assert "refresh_token" not in token  # CV-12: the client-credentials grant issues none


def test_lifetime_is_configurable(make_app: Callable[..., Flask]) -> None:
    http = make_app(vendor="clickview", vendors={"clickview": {"token_lifetime": 600}}).test_client()
    reply = http.post("/connect/token", data=DEMO)
    claims = jwt.decode(body(reply)["access_token"], options={"verify_signature": False})
    assert body(reply)["expires_in"] == 600 and claims["exp"] - claims["iat"] == 600


def test_each_token_is_unique(http: FlaskClient) -> None:
    assert fetch(http) != fetch(http)


def form(**changes: str | None) -> dict[str, Any]:
    """Request options for the demo form with fields changed (None removes one)."""
    return {"data": {k: v for k, v in {**DEMO, **changes}.items() if v is not None}}


REPEATED = "grant_type=client_credentials&grant_type=client_credentials&client_id=demo-client&client_secret=x"
TOKEN_ERRORS = [
    # (case, request options, RFC 6749 §5.2 code); Duende answers every one with 400.
    ("wrong secret", form(client_secret="nope"), "invalid_client"),
    ("unknown client", form(client_id="stranger"), "invalid_client"),
    ("missing grant_type", form(grant_type=None), "invalid_request"),
    ("empty grant_type", form(grant_type=""), "invalid_request"),
    ("password grant", form(grant_type="password"), "unsupported_grant_type"),
    ("refresh grant (CV-12)", form(grant_type="refresh_token"), "unsupported_grant_type"),
    ("unknown scope", form(scope="admin"), "invalid_scope"),
    ("one scope too many", form(scope="smartembed.viewkey admin"), "invalid_scope"),
    ("blank scope", form(scope="   "), "invalid_scope"),
    ("missing client_id", form(client_id=None), "invalid_request"),
    ("missing client_secret", form(client_secret=None), "invalid_request"),
    ("empty client_id", form(client_id=""), "invalid_request"),
    (
        "repeated parameter",
        {"data": REPEATED, "content_type": "application/x-www-form-urlencoded"},
        "invalid_request",
    ),
    ("JSON body", {"json": DEMO}, "invalid_request"),
    ("no body", {}, "invalid_request"),
]


@pytest.mark.parametrize(("case", "options", "code"), TOKEN_ERRORS, ids=[c[0] for c in TOKEN_ERRORS])
def test_token_errors_are_rfc6749_json_with_status_400(
    http: FlaskClient, case: str, options: dict[str, Any], code: str
) -> None:
    reply = http.post("/connect/token", **options)
    assert (reply.status_code, body(reply)["error"]) == (400, code), body(reply)
    assert "WWW-Authenticate" not in reply.headers
    assert reply.headers["Cache-Control"] == "no-store" and reply.headers["Pragma"] == "no-cache"


def test_invalid_client_uses_the_documents_wording(http: FlaskClient) -> None:
    reply = http.post("/connect/token", data={**DEMO, "client_secret": "wrong"})
    assert body(reply) == {"error": "invalid_client", "error_description": "Client authentication failed."}


def test_oversize_body_is_413_in_the_oauth_shape(make_app: Callable[..., Flask]) -> None:
    http = make_app(vendor="clickview", max_body_bytes=256).test_client()
    reply = http.post("/connect/token", data={**DEMO, "padding": "x" * 1024})
    assert reply.status_code == 413 and body(reply)["error"] == "invalid_request"


def test_unknown_path_and_wrong_method_answer_in_the_oauth_shape(http: FlaskClient) -> None:
    missing = http.get("/connect/authorize")
    assert missing.status_code == 404 and body(missing)["error"] == "invalid_request"
    wrong = http.get("/connect/token")
    assert (
        wrong.status_code == 405
        and wrong.headers["Allow"] == "POST"
        and body(wrong)["error"] == "invalid_request"
    )


# CV-02: client authentication by HTTP Basic.


@pytest.mark.parametrize(
    ("client", "encode"),
    [(CLIENTS[0], True), (ODD, True), (ODD, False)],
    ids=["demo", "rfc6749-encoded", "raw-as-libraries-send"],
)
def test_cv02_lenient_accepts_basic(http: FlaskClient, client: dict[str, Any], encode: bool) -> None:
    reply = http.post(
        "/connect/token",
        data={"grant_type": "client_credentials"},
        headers=basic(client["client_id"], client["client_secret"], encode=encode),
    )
    assert reply.status_code == 200, body(reply)
    claims = jwt.decode(body(reply)["access_token"], options={"verify_signature": False})
    assert claims["client_id"] == client["client_id"]


BASIC_REFUSALS = [
    ("wrong secret", basic("demo-client", "wrong"), {}, "invalid_client"),
    ("not base64", {"Authorization": "Basic ***"}, {}, "invalid_client"),
    (
        "no colon",
        {"Authorization": "Basic " + base64.b64encode(b"demo-client").decode()},
        {},
        "invalid_client",
    ),
    ("two methods", basic("demo-client", "demo-secret"), {"client_secret": "other-secret"}, "invalid_request"),
    ("body id differs", basic("demo-client", "demo-secret"), {"client_id": "odd client"}, "invalid_request"),
]


@pytest.mark.parametrize(
    ("case", "headers", "form", "code"), BASIC_REFUSALS, ids=[c[0] for c in BASIC_REFUSALS]
)
def test_cv02_lenient_basic_refusals(
    http: FlaskClient, case: str, headers: dict[str, str], form: dict[str, str], code: str
) -> None:
    reply = http.post("/connect/token", data={"grant_type": "client_credentials", **form}, headers=headers)
    assert (reply.status_code, body(reply)["error"]) == (400, code)


def test_cv02_lenient_takes_the_same_secret_in_both_places_as_one_client(http: FlaskClient) -> None:
    """What contract-driven tools send when the contract allows both methods (Specmatic adds the Basic
    header to the documented form body): Duende reads the header first; the same secret is one client."""
    form = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret",
            "scope": "smartembed.viewkey"}
    assert http.post("/connect/token", data=form, headers=basic("demo-client", "demo-secret")).status_code == 200


def test_cv02_lenient_allows_a_matching_body_client_id(http: FlaskClient) -> None:
    form = {"grant_type": "client_credentials", "client_id": "demo-client"}
    assert (
        http.post("/connect/token", data=form, headers=basic("demo-client", "demo-secret")).status_code == 200
    )


def test_cv02_strict_ignores_basic(cv: Callable[..., FlaskClient]) -> None:
    http = cv(**{"CV-02": "strict"})
    only_basic = http.post(
        "/connect/token",
        data={"grant_type": "client_credentials", "scope": "smartembed.viewkey"},
        headers=basic("demo-client", "demo-secret"),
    )
    assert (only_basic.status_code, body(only_basic)["error"]) == (400, "invalid_request")
    # The header is not even decoded: body credentials beside garbage Basic still work.
    both = http.post("/connect/token", data=DEMO, headers={"Authorization": "Basic ***"})
    assert both.status_code == 200


# CV-03: scope optional.


@pytest.mark.parametrize("scope", [None, ""], ids=["absent", "empty"])
def test_cv03_lenient_grants_the_clients_scopes_without_scope(http: FlaskClient, scope: str | None) -> None:
    form = {k: v for k, v in {**DEMO, "scope": scope}.items() if v is not None}
    reply = http.post("/connect/token", data=form)
    assert reply.status_code == 200 and body(reply)["scope"] == "smartembed.viewkey"


@pytest.mark.parametrize("scope", [None, ""], ids=["absent", "empty"])
def test_cv03_strict_requires_scope(cv: Callable[..., FlaskClient], scope: str | None) -> None:
    form = {k: v for k, v in {**DEMO, "scope": scope}.items() if v is not None}
    reply = cv(**{"CV-03": "strict"}).post("/connect/token", data=form)
    assert (reply.status_code, body(reply)["error"]) == (400, "invalid_request")


# CV-11: status of invalid_client.


def test_cv11_lenient_answers_400_like_duende(http: FlaskClient) -> None:
    reply = http.post(
        "/connect/token", data={"grant_type": "client_credentials"}, headers=basic("demo-client", "x")
    )
    assert reply.status_code == 400 and "WWW-Authenticate" not in reply.headers


def test_cv11_strict_answers_401_with_a_basic_challenge_after_basic(cv: Callable[..., FlaskClient]) -> None:
    http = cv(**{"CV-11": "strict"})
    reply = http.post(
        "/connect/token", data={"grant_type": "client_credentials"}, headers=basic("demo-client", "x")
    )
    assert reply.status_code == 401 and body(reply)["error"] == "invalid_client"
    assert challenge(reply) == 'Basic realm="clickview"'
    undecodable = http.post(
        "/connect/token", data={"grant_type": "client_credentials"}, headers={"Authorization": "Basic ***"}
    )
    assert undecodable.status_code == 401
    # Credentials in the body are not Authorization-header authentication: still 400.
    body_creds = http.post("/connect/token", data={**DEMO, "client_secret": "x"})
    assert body_creds.status_code == 400 and "WWW-Authenticate" not in body_creds.headers


def test_strict_all_reads_every_switch_strictly(make_app: Callable[..., Flask]) -> None:
    http = make_app(vendor="clickview", strict_all=True).test_client()
    assert (
        http.post(
            "/connect/token",
            data={"grant_type": "client_credentials"},
            headers=basic("demo-client", "demo-secret"),
        ).status_code
        == 400
    )
    token = fetch(http)
    assert example(http, token, "bearer").status_code == 401
    assert example(http, token).status_code == 200


# The protected resource.


def test_a_fresh_token_opens_the_example_resource(http: FlaskClient) -> None:
    reply = example(http, fetch(http))
    assert reply.status_code == 200
    assert body(reply) == {
        "message": "Authenticated.",
        "client_id": "demo-client",
        "scope": "smartembed.viewkey",
    }


def test_the_token_expires_at_the_resource_after_expires_in(http: FlaskClient, clock: Clock) -> None:
    token = fetch(http)
    clock.advance(86399)
    assert example(http, token).status_code == 200
    clock.advance(1)
    reply = example(http, token)
    assert reply.status_code == 401 and body(reply)["error"] == "invalid_token"
    assert 'error="invalid_token"' in challenge(reply) and "expired" in challenge(reply)


@pytest.mark.parametrize("scheme", ["bearer", "BEARER"])
def test_cv07_lenient_accepts_the_scheme_in_any_case(http: FlaskClient, scheme: str) -> None:
    assert example(http, fetch(http), scheme).status_code == 200


@pytest.mark.parametrize(
    "header", ["bearer {t}", "BEARER {t}", "Bearer  {t}"], ids=["lower", "upper", "two-spaces"]
)
def test_cv07_strict_accepts_only_exact_bearer(cv: Callable[..., FlaskClient], header: str) -> None:
    http = cv(**{"CV-07": "strict"})
    token = fetch(http)
    refused = http.get("/api/v1/example", headers={"Authorization": header.format(t=token)})
    assert refused.status_code == 401 and 'error="invalid_token"' in challenge(refused)
    assert example(http, token).status_code == 200


def forged(claims: dict[str, Any], header: dict[str, Any], signature: str = "") -> str:
    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), signature])


def refusal_token(kind: str, http: FlaskClient, make_app: Callable[..., Flask]) -> str:
    """A token that must be refused, of the given kind."""
    token = fetch(http)
    head, _, signature = token.split(".")
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    if kind == "malformed":
        return "not-a-jwt"
    if kind == "alg none":
        return forged(claims, {**header, "alg": "none"})
    if kind == "tampered":
        return f"{head}.{b64(json.dumps({**claims, 'client_id': 'someone-else'}).encode())}.{signature}"
    if kind == "other key, same kid":
        return jwt.encode(claims, "another-secret-of-32-bytes-length", algorithm="HS256", headers=header)
    if kind == "other clickview instance":
        return fetch(make_app(vendor="clickview").test_client())
    if kind == "vision10 token":
        other = make_app(vendor="vision10").test_client()
        reply = other.post(
            "/v1/api/oauth/token",
            json={
                "grant_type": "client_credentials",
                "scope": "all",
                "client_id": "demo-client",
                "client_secret": "demo-secret",
            },
        )
        return str(body(reply)["access_token"])
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "malformed",
        "alg none",
        "tampered",
        "other key, same kid",
        "other clickview instance",
        "vision10 token",
    ],
)
def test_bad_tokens_are_refused_with_an_rfc6750_challenge(
    http: FlaskClient, make_app: Callable[..., Flask], kind: str
) -> None:
    reply = example(http, refusal_token(kind, http, make_app))
    assert reply.status_code == 401 and body(reply)["error"] == "invalid_token"
    assert challenge(reply).startswith('Bearer realm="clickview", error="invalid_token"')


def test_a_revoked_token_is_refused(http: FlaskClient) -> None:
    token = fetch(http)
    assert example(http, token).status_code == 200
    store = http.application.extensions["tokenmock"].store
    store.revoke(jwt.decode(token, options={"verify_signature": False})["jti"])
    reply = example(http, token)
    assert reply.status_code == 401 and "revoked" in body(reply)["error_description"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic " + base64.b64encode(b"demo-client:demo-secret").decode()}],
    ids=["no header", "basic instead"],
)
def test_no_bearer_token_gets_a_challenge_without_error(http: FlaskClient, headers: dict[str, str]) -> None:
    reply = http.get("/api/v1/example", headers=headers)
    assert reply.status_code == 401 and body(reply)["error"] == "invalid_token"
    if not headers:  # RFC 6750 §3.1: no credentials at all, no error attribute
        assert challenge(reply) == 'Bearer realm="clickview"'
    else:
        assert 'error="invalid_token"' in challenge(reply)


def test_a_token_without_the_resource_scope_gets_403(http: FlaskClient) -> None:
    token = fetch(http, client_id="narrow", client_secret="narrow-secret", scope="library.read")
    reply = example(http, token)
    assert reply.status_code == 403 and body(reply)["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in challenge(reply) and 'scope="smartembed.viewkey"' in challenge(
        reply
    )


# Standard OAuth2 libraries with their default settings, against a live mock.


@pytest.fixture
def live_token_url(make_app: Callable[..., Flask], serve: Callable[[Flask], Any]) -> str:
    app = make_app(vendor="clickview", vendors={"clickview": {"clients": CLIENTS}})
    return f"{serve(app).url}/connect/token"


@pytest.mark.parametrize("client", [CLIENTS[0], ODD], ids=["demo", "secret-with-specials"])
def test_authlib_gets_a_token_with_default_settings(live_token_url: str, client: dict[str, Any]) -> None:
    from authlib.integrations.requests_client import OAuth2Session

    with OAuth2Session(client["client_id"], client["client_secret"]) as session:
        token = session.fetch_token(live_token_url, grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and token["scope"] == "smartembed.viewkey"
    assert token["expires_at"] > EPOCH


@pytest.mark.parametrize("client", [CLIENTS[0], ODD], ids=["demo", "secret-with-specials"])
def test_requests_oauthlib_gets_a_token_with_default_settings(
    live_token_url: str, client: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from oauthlib.oauth2 import BackendApplicationClient
    from requests_oauthlib import OAuth2Session

    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the live mock speaks plain HTTP
    session = OAuth2Session(client=BackendApplicationClient(client_id=client["client_id"]))
    token = session.fetch_token(
        token_url=live_token_url, client_id=client["client_id"], client_secret=client["client_secret"]
    )
    assert token["token_type"] == "Bearer" and token["scope"] == ["smartembed.viewkey"]
