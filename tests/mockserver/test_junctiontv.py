"""The JunctionTV mock: the documented request and answers, every refusal, each register switch both ways."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

import jwt
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tokenmock import contracts
from tokenmock.mockserver.controls.clock import Clock
from tokenmock.mockserver.tokens import OpaqueSigner

TOKEN_URL = "/ums/2.0/oauth/"
RESOURCE_URL = "/ums/2.0/resource"
FORM = "application/x-www-form-urlencoded"
EXPIRED_REASON = "Authorization Token Expired"


def basic(client_id: str = "demo-client", secret: str = "demo-secret") -> str:
    """What `curl --user id:secret` sends."""
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


DOCUMENTED_HEADERS = {"Authorization": basic(), "Content-Type": FORM}


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(vendor="junctiontv")


@pytest.fixture
def http(app: Flask) -> FlaskClient:
    return app.test_client()


def body(response: TestResponse) -> Any:
    """The decoded JSON body of a test response."""
    return json.loads(response.data)


def issue(http: FlaskClient) -> str:
    """A fresh access token for the demo client."""
    response = http.post(TOKEN_URL, headers=DOCUMENTED_HEADERS)
    assert response.status_code == 200, body(response)
    return str(body(response)["access_token"])


def conforms(operation_id: str, response: Any) -> None:
    """Check a reply against the contract (refusals of unmatched routes bypass the mock's own check)."""
    status, headers = response.status_code, dict(response.headers)
    contracts.validate_response("junctiontv", operation_id, status, body(response), headers)


# The token endpoint.


def test_documented_request_gets_the_documented_token(http: FlaskClient) -> None:
    # curl --user demo-client:demo-secret -X POST -H "Content-Type: application/x-www-form-urlencoded" URL
    response = http.post(TOKEN_URL, headers=DOCUMENTED_HEADERS)
    assert response.status_code == 200
    payload = body(response)
    assert set(payload) == {"version", "client_id", "access_token", "expires_in"}  # no token_type (JTV-08)
    assert (payload["version"], payload["client_id"], payload["expires_in"]) == ("1.1", "demo-client", 3600)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    assert response.mimetype == "application/json"


def test_the_token_is_opaque_not_a_jwt(http: FlaskClient) -> None:
    token = issue(http)
    assert token.count(".") == 1
    with pytest.raises(jwt.DecodeError):
        jwt.get_unverified_header(token)
    assert issue(http) != token  # each token is unique (own jti)


def test_body_credentials_never_replace_the_basic_header(http: FlaskClient) -> None:
    form = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"}
    response = http.post(TOKEN_URL, data=form)
    assert response.status_code == 401
    assert body(response)["reason"] == "No Authorization Token"


def test_token_lifetime_is_configurable(make_app: Callable[..., Flask], clock: Clock) -> None:
    http = make_app(vendor="junctiontv", vendors={"junctiontv": {"token_lifetime": 120}}).test_client()
    response = http.post(TOKEN_URL, headers=DOCUMENTED_HEADERS)
    assert body(response)["expires_in"] == 120
    bearer = {"Authorization": f"Bearer {body(response)['access_token']}"}
    clock.advance(119)
    assert body(http.get(RESOURCE_URL, headers=bearer))["expires_in"] == 1
    clock.advance(1)
    assert body(http.get(RESOURCE_URL, headers=bearer))["reason"] == EXPIRED_REASON


def test_requests_post_with_auth_gets_a_token_over_http(app: Flask, serve: Callable[[Flask], Any]) -> None:
    # requests.post(url, auth=(id, secret)) sends Basic, Content-Length: 0 and no Content-Type (JTV-03).
    response = requests.post(serve(app).url + TOKEN_URL, auth=("demo-client", "demo-secret"), timeout=5)
    assert response.status_code == 200
    assert response.json()["client_id"] == "demo-client"


BAD_SECRET = {"Authorization": basic(secret="wrong"), "Content-Type": FORM}
MESSAGES = {401: "UNAUTHORIZED", 404: "NOT_FOUND", 413: "PAYLOAD_TOO_LARGE"}
INVALID_CALL = None  # reason "Invalid API Call: <what was wrong>"


def form_with(authorization: str) -> dict[str, str]:
    return {"Authorization": authorization, "Content-Type": FORM}


# (case, method, path, headers, body, status, reason)
TOKEN_REFUSALS = [
    ("no_authorization", "POST", TOKEN_URL, {"Content-Type": FORM}, b"", 401, "No Authorization Token"),
    ("bearer_not_basic", "POST", TOKEN_URL, form_with("Bearer abc"), b"", 401, "No Authorization Token"),
    ("not_base64", "POST", TOKEN_URL, form_with("Basic %%%"), b"", 401, "Malformed Authorization Header"),
    ("no_colon", "POST", TOKEN_URL, form_with("Basic ZGVtbw=="), b"", 401, "Malformed Authorization Header"),
    ("empty_basic", "POST", TOKEN_URL, form_with("Basic"), b"", 401, "Malformed Authorization Header"),
    ("wrong_secret", "POST", TOKEN_URL, BAD_SECRET, b"", 401, "Invalid Client Credentials"),
    ("unknown_client", "POST", TOKEN_URL, form_with(basic("nobody")), b"", 401, "Invalid Client Credentials"),
    ("json_body", "POST", TOKEN_URL, {**form_with(basic()), "Content-Type": "application/json"}, b"{}", 404,
     INVALID_CALL),
    ("text_body", "POST", TOKEN_URL, {**form_with(basic()), "Content-Type": "text/plain"}, b"x", 404,
     INVALID_CALL),
    ("body_without_type", "POST", TOKEN_URL, {"Authorization": basic()}, b"a=b", 404, INVALID_CALL),
    ("repeated_field", "POST", TOKEN_URL, DOCUMENTED_HEADERS, b"a=1&a=2", 404, INVALID_CALL),
    ("get_method", "GET", TOKEN_URL, {"Authorization": basic()}, b"", 404, INVALID_CALL),
    ("put_method", "PUT", TOKEN_URL, DOCUMENTED_HEADERS, b"", 404, INVALID_CALL),
    ("unknown_path", "POST", "/ums/2.0/oauth/token", DOCUMENTED_HEADERS, b"", 404, INVALID_CALL),
    ("oversize_body", "POST", TOKEN_URL, DOCUMENTED_HEADERS, b"a=" + b"x" * 2048, 413,
     "Request body too large"),
]


@pytest.mark.parametrize(
    ("method", "path", "headers", "data", "status", "reason"),
    [case[1:] for case in TOKEN_REFUSALS],
    ids=[case[0] for case in TOKEN_REFUSALS],
)
def test_token_endpoint_refusals(
    make_app: Callable[..., Flask],
    method: str,
    path: str,
    headers: dict[str, str],
    data: bytes,
    status: int,
    reason: str | None,
) -> None:
    http = make_app(vendor="junctiontv", max_body_bytes=1024).test_client()
    response = http.open(path, method=method, headers=headers, data=data)
    assert response.status_code == status
    payload = body(response)
    assert (payload["result"], payload["message"]) == ("error", MESSAGES[status])
    if reason is INVALID_CALL:
        assert payload["reason"].startswith("Invalid API Call: ")
    else:
        assert payload["reason"] == reason
    assert "Allow" not in response.headers  # a wrong method is an invalid call, not a 405
    if status == 401:
        assert response.headers["WWW-Authenticate"] == 'Basic realm="junctiontv"'
    conforms("getAccessToken", response)


def test_refusals_never_echo_the_secret(http: FlaskClient) -> None:
    response = http.post(TOKEN_URL, headers=BAD_SECRET)
    assert b"wrong" not in response.data


# The protected resource.


def test_resource_accepts_a_fresh_token(http: FlaskClient) -> None:
    response = http.get(RESOURCE_URL, headers={"Authorization": f"Bearer {issue(http)}"})
    assert response.status_code == 200
    assert body(response) == {"result": "success", "client_id": "demo-client", "expires_in": 3600}


def test_expiry_is_enforced_at_the_resource(http: FlaskClient, clock: Clock) -> None:
    bearer = {"Authorization": f"Bearer {issue(http)}"}
    clock.advance(3599)
    assert body(http.get(RESOURCE_URL, headers=bearer))["expires_in"] == 1
    clock.advance(1)
    response = http.get(RESOURCE_URL, headers=bearer)
    assert response.status_code == 401
    assert body(response) == {"result": "error", "message": "UNAUTHORIZED", "reason": EXPIRED_REASON}
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert "expired" in response.headers["WWW-Authenticate"]


def tampered(token: str) -> str:
    """The same seal over claims changed to another client and a far expiry."""
    body, _, mac = token.partition(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(client_id="someone-else", exp=claims["exp"] + 10**6)
    forged = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode())
    return f"{forged.rstrip(b'=').decode()}.{mac}"


def foreign_signer_token(clock: Clock) -> str:
    """A well-formed token of the same format sealed with another key (another deployment or vendor)."""
    return OpaqueSigner(clock=clock).issue({"client_id": "demo-client", "jti": "x"}, 3600).token


def vision10_token(make_app: Callable[..., Flask]) -> str:
    """A valid token of another vendor of the mock."""
    other = make_app(vendor="vision10").test_client()
    form = {"grant_type": "client_credentials", "scope": "all", "client_id": "demo-client",
            "client_secret": "demo-secret"}
    return str(body(other.post("/v1/api/oauth/token", json=form))["access_token"])


def alg_none_token() -> str:
    return jwt.encode({"client_id": "demo-client", "exp": 4_000_000_000}, "", algorithm="none")


# (case, Authorization header built from (fresh token, clock, make_app) or None, reason)
RESOURCE_REFUSALS: list[tuple[str, Callable[[str, Clock, Callable[..., Flask]], str | None], str]] = [
    ("missing", lambda t, c, m: None, "No Authorization Token"),
    ("empty_bearer", lambda t, c, m: "Bearer ", "Invalid Authorization Token"),
    ("malformed", lambda t, c, m: "Bearer not-a-token", "Invalid Authorization Token"),
    ("basic_scheme", lambda t, c, m: basic(), "Invalid Authorization Token"),
    ("bare_token", lambda t, c, m: t, "Invalid Authorization Token"),  # JTV-12 strict (default)
    ("tampered", lambda t, c, m: f"Bearer {tampered(t)}", "Invalid Authorization Token"),
    ("foreign_signer", lambda t, c, m: f"Bearer {foreign_signer_token(c)}", "Invalid Authorization Token"),
    ("other_vendor", lambda t, c, m: f"Bearer {vision10_token(m)}", "Invalid Authorization Token"),
    ("alg_none", lambda t, c, m: f"Bearer {alg_none_token()}", "Invalid Authorization Token"),
    ("non_ascii", lambda t, c, m: "Bearer tok\u00e9n", "Invalid Authorization Token"),
]


@pytest.mark.parametrize(
    ("authorization", "reason"), [c[1:] for c in RESOURCE_REFUSALS], ids=[c[0] for c in RESOURCE_REFUSALS]
)
def test_resource_refusals(
    make_app: Callable[..., Flask],
    http: FlaskClient,
    clock: Clock,
    authorization: Callable[[str, Clock, Callable[..., Flask]], str | None],
    reason: str,
) -> None:
    value = authorization(issue(http), clock, make_app)
    headers = {} if value is None else {"Authorization": value}
    response = http.get(RESOURCE_URL, headers=headers)
    assert response.status_code == 401
    assert body(response) == {"result": "error", "message": "UNAUTHORIZED", "reason": reason}
    challenge = response.headers["WWW-Authenticate"]
    if value is None:
        assert challenge == 'Bearer realm="junctiontv"'  # RFC 6750 §3: no error attribute
    else:
        assert challenge.startswith('Bearer realm="junctiontv", error="invalid_token"')


def test_revoked_token_is_refused(app: Flask, http: FlaskClient) -> None:
    token = issue(http)
    bearer = {"Authorization": f"Bearer {token}"}
    assert http.get(RESOURCE_URL, headers=bearer).status_code == 200
    app.extensions["tokenmock"].store.revoke(token)
    response = http.get(RESOURCE_URL, headers=bearer)
    assert response.status_code == 401
    assert body(response)["reason"] == "Invalid Authorization Token"
    assert "revoked" in response.headers["WWW-Authenticate"]
    assert http.get(RESOURCE_URL, headers={"Authorization": f"Bearer {issue(http)}"}).status_code == 200


def test_other_vendors_tokens_are_refused_with_every_vendor_mounted(make_app: Callable[..., Flask]) -> None:
    http = make_app().test_client()  # one app: shared clock and store, separate keys per vendor
    demo = {"client_id": "demo-client", "client_secret": "demo-secret"}
    grant = {**demo, "grant_type": "client_credentials"}
    vision10 = http.post("/vision10/v1/api/oauth/token", json={**grant, "scope": "all"})
    clickview = http.post("/clickview/connect/token", data={**grant, "scope": "smartembed.viewkey"})
    own = http.post("/junctiontv" + TOKEN_URL, headers=DOCUMENTED_HEADERS)

    def call_resource(token_reply: TestResponse) -> TestResponse:
        bearer = {"Authorization": f"Bearer {body(token_reply)['access_token']}"}
        return http.get("/junctiontv" + RESOURCE_URL, headers=bearer)

    for foreign in (vision10, clickview):
        response = call_resource(foreign)
        assert response.status_code == 401
        assert body(response)["reason"] == "Invalid Authorization Token"
    assert call_resource(own).status_code == 200
    # JTV-05 strict applies under the /junctiontv mount too.
    assert http.post("/junctiontv/ums/2.0/oauth", headers=DOCUMENTED_HEADERS).status_code == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_resource_wrong_method_is_an_invalid_call(http: FlaskClient, method: str) -> None:
    response = http.open(RESOURCE_URL, method=method, headers={"Authorization": f"Bearer {issue(http)}"})
    assert response.status_code == 404
    assert body(response)["message"] == "NOT_FOUND"
    conforms("getProtectedResource", response)


# The register's switches, each in both readings.


def test_default_readings_are_the_lenient_ones_where_servers_accept_both(app: Flask) -> None:
    readings = app.extensions["tokenmock"].vendors["junctiontv"].readings
    assert readings == {
        "JTV-01": "lenient", "JTV-02": "lenient", "JTV-03": "lenient", "JTV-04": "lenient",
        "JTV-05": "strict", "JTV-08": "strict", "JTV-12": "strict",
    }


def reading(make_app: Callable[..., Flask], switch: str, value: str, **settings: Any) -> FlaskClient:
    return make_app(vendor="junctiontv", readings={switch: value}, **settings).test_client()


@pytest.mark.parametrize(("value", "status"), [("lenient", 200), ("strict", 401)])
def test_jtv01_raw_credentials(make_app: Callable[..., Flask], value: str, status: int) -> None:
    http = reading(make_app, "JTV-01", value)
    raw = http.post(TOKEN_URL, headers=form_with("Basic demo-client:demo-secret"))
    assert raw.status_code == status
    if status == 401:
        assert body(raw)["reason"] == "Malformed Authorization Header"
    assert http.post(TOKEN_URL, headers=DOCUMENTED_HEADERS).status_code == 200  # Base64 in both readings


ODD_CLIENT = {"client_id": "tv app", "client_secret": "p+ss:w%rd"}


@pytest.mark.parametrize(("value", "status"), [("lenient", 200), ("strict", 401)])
def test_jtv02_url_encoded_parts(make_app: Callable[..., Flask], value: str, status: int) -> None:
    http = reading(make_app, "JTV-02", value, vendors={"junctiontv": {"clients": [ODD_CLIENT]}})
    encoded = basic(quote_plus(ODD_CLIENT["client_id"]), quote_plus(ODD_CLIENT["client_secret"]))
    response = http.post(TOKEN_URL, headers={"Authorization": encoded, "Content-Type": FORM})
    assert response.status_code == status
    if status == 200:
        assert body(response)["client_id"] == "tv app"
    as_is = basic(ODD_CLIENT["client_id"], ODD_CLIENT["client_secret"])  # split at the first colon
    assert http.post(TOKEN_URL, headers={"Authorization": as_is, "Content-Type": FORM}).status_code == 200


@pytest.mark.parametrize(("value", "status"), [("lenient", 200), ("strict", 404)])
def test_jtv03_no_body_no_content_type(make_app: Callable[..., Flask], value: str, status: int) -> None:
    http = reading(make_app, "JTV-03", value)
    assert http.post(TOKEN_URL, headers={"Authorization": basic()}).status_code == status
    assert http.post(TOKEN_URL, headers=DOCUMENTED_HEADERS).status_code == 200  # empty form: both readings
    json_body = http.post(TOKEN_URL, headers={"Authorization": basic()}, json={})
    assert json_body.status_code == 404  # another Content-Type: both readings


@pytest.mark.parametrize(("value", "status"), [("lenient", 200), ("strict", 404)])
def test_jtv04_form_parameters(make_app: Callable[..., Flask], value: str, status: int) -> None:
    http = reading(make_app, "JTV-04", value)
    for form in ({"grant_type": "client_credentials"}, {"grant_type": "password", "scope": "x"}):
        assert http.post(TOKEN_URL, headers={"Authorization": basic()}, data=form).status_code == status


@pytest.mark.parametrize(
    ("value", "with_credentials", "without"), [("lenient", 200, 401), ("strict", 404, 404)]
)
def test_jtv05_path_without_trailing_slash(
    make_app: Callable[..., Flask], value: str, with_credentials: int, without: int
) -> None:
    http = reading(make_app, "JTV-05", value)
    path = TOKEN_URL.rstrip("/")
    response = http.post(path, headers=DOCUMENTED_HEADERS)
    assert response.status_code == with_credentials
    assert response.headers.get("Location") is None  # never a redirect
    assert http.post(path, headers={"Content-Type": FORM}).status_code == without  # unknown path beats 401
    conforms("getAccessToken", response)


@pytest.mark.parametrize(("value", "token_type"), [("lenient", "Bearer"), ("strict", None)])
def test_jtv08_token_type(make_app: Callable[..., Flask], value: str, token_type: str | None) -> None:
    response = reading(make_app, "JTV-08", value).post(TOKEN_URL, headers=DOCUMENTED_HEADERS)
    assert body(response).get("token_type") == token_type


def test_jtv12_strict_accepts_only_the_bearer_header(make_app: Callable[..., Flask]) -> None:
    http = reading(make_app, "JTV-12", "strict")
    token = issue(http)
    assert http.get(RESOURCE_URL, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert http.get(RESOURCE_URL, headers={"Authorization": token}).status_code == 401
    assert http.get(RESOURCE_URL, query_string={"access_token": token}).status_code == 401


@pytest.mark.parametrize("where", ["bare_header", "query"])
def test_jtv12_lenient_accepts_bare_token_and_query(make_app: Callable[..., Flask], where: str) -> None:
    http = reading(make_app, "JTV-12", "lenient")
    token = issue(http)
    assert http.get(RESOURCE_URL, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    if where == "bare_header":
        response = http.get(RESOURCE_URL, headers={"Authorization": token})
    else:
        response = http.get(RESOURCE_URL, query_string={"access_token": token})
    assert response.status_code == 200


def test_strict_all_still_serves_the_documented_request(make_app: Callable[..., Flask]) -> None:
    http = make_app(vendor="junctiontv", strict_all=True).test_client()
    assert http.post(TOKEN_URL, headers=DOCUMENTED_HEADERS).status_code == 200
    assert http.post(TOKEN_URL, headers={"Authorization": basic()}).status_code == 404
