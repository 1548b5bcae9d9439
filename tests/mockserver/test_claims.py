"""Custom claims: per client (config file and runtime registration, one schema), per test (armed through the
admin API, `MockController` and the pytest plugin), standard claims overridden on purpose, and minted
tokens; every token decoded by PyJWT or Authlib, as a client under test would read it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from flask import Flask

from tests.conftest import LiveServer
from tokenmock import contracts
from tokenmock.mockserver import ControlError, MockController
from tokenmock.mockserver.config import ConfigError, load_settings
from tokenmock.mockserver.controls.claims import MAX_ARMED, MAX_CLAIMS_BYTES

SECRET = "clickview-test-signing-secret-of-32-bytes"
CLICKVIEW = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret",
             "scope": "smartembed.viewkey"}
VISION10 = {"grant_type": "client_credentials", "scope": "all", "client_id": "demo-client",
            "client_secret": "demo-secret"}


def clickview_token(base: str, form: dict[str, str] = CLICKVIEW) -> str:
    answer = requests.post(f"{base}/clickview/connect/token", data=form, timeout=5)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def clickview_claims(token: str) -> dict[str, Any]:
    """What a resource server holding ClickView's key reads (PyJWT, signature checked, clock ignored)."""
    return jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False})


def vision10_token(base: str, body: dict[str, str] = VISION10) -> str:
    answer = requests.post(f"{base}/vision10/v1/api/oauth/token", json=body, timeout=5)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def vision10_claims(base: str, token: str) -> dict[str, Any]:
    """Verified from the published key set, as a resource server does (PyJWKClient)."""
    key = jwt.PyJWKClient(f"{base}/vision10/.well-known/jwks.json").get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["RS256"], options={"verify_exp": False, "verify_aud": False})


@pytest.fixture
def live(make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer]) -> LiveServer:
    return serve(make_app(vendors={"clickview": {"signing_secret": SECRET}}))


@pytest.fixture
def mock(live: LiveServer) -> MockController:
    return MockController(live.url)


# Per client: the config file and runtime registration.


def test_a_configured_clients_claims_are_in_every_token_it_gets(
    make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer]
) -> None:
    client = {"client_id": "tenant-a", "client_secret": "a-secret", "scopes": ["smartembed.viewkey"],
              "claims": {"tenant": "a", "roles": ["reader", "writer"]}}
    live = serve(make_app(vendors={"clickview": {"signing_secret": SECRET, "clients": [client]}}))
    form = {**CLICKVIEW, "client_id": "tenant-a", "client_secret": "a-secret"}
    claims = clickview_claims(clickview_token(live.url, form))
    assert claims["tenant"] == "a" and claims["roles"] == ["reader", "writer"]
    assert claims["client_id"] == "tenant-a"  # the vendor's own claims stay


def test_a_client_registered_at_runtime_carries_its_claims(live: LiveServer, mock: MockController) -> None:
    mock.add_client("vision10", client_id="tenant-b", client_secret="b-secret", scopes=["all"],
                    claims={"tenant": "b", "email": "b@example.com"})
    token = vision10_token(live.url, {**VISION10, "client_id": "tenant-b", "client_secret": "b-secret"})
    claims = vision10_claims(live.url, token)
    assert claims["tenant"] == "b" and claims["email"] == "b@example.com" and claims["client_id"] == "tenant-b"
    resource = requests.get(f"{live.url}/vision10/v1/api/resource", headers={"Authorization": f"Bearer {token}"})
    assert resource.status_code == 200  # extra claims do not stop the vendor's own resource


# One schema for runtime input (issue 22): what the config file refuses, the admin API refuses alike.

HOSTILE_CLIENTS = [
    ("clickview", {"client_id": "ci", "client_secret": "x", "scopes": 5}, "client.scopes: must be array"),
    ("clickview", {"client_id": "ci", "client_secret": "x", "bogus_field": 1}, "client.bogus_field: unknown key"),
    ("clickview", {"client_id": "ci", "client_secret": "x", "claims": "admin"}, "client.claims: must be object"),
    ("clickview", {"client_id": "ci", "client_secret": "x", "claims": {"exp": "soon"}},
     "client.claims.exp: must be integer"),
    ("clickview", {"client_id": "ci", "client_secret": ""}, "client.client_secret: must not be empty"),
    ("vision10", {"client_id": "ci"}, "client: 'client_secret' is required"),
    ("vision10", {"client_id": "ci", "client_secret": "x", "scopes": [7]}, "client.scopes.0: must be string"),
    ("aminotv", {"username": "u", "password": "p", "profiles": []}, "client.profiles: must have at least 1 item"),
    ("aminotv", {"username": "u", "password": "p", "user_id": -1}, "client.user_id: must be at least 0"),
    ("junctiontv", {"client_id": "ci", "client_secret": "x", "claims": {"a": 1}}, "client.claims: unknown key"),
    ("divetv", {"client_key": 5}, "client.client_key: must be string"),
]


@pytest.mark.parametrize(("vendor", "client", "message"), HOSTILE_CLIENTS)
def test_a_runtime_client_is_checked_by_the_config_schema_with_the_same_message(
    make_app: Callable[..., Flask], vendor: str, client: dict[str, Any], message: str
) -> None:
    http = make_app().test_client()
    refused = http.post("/__mock/clients", json={"vendor": vendor, "client": client})
    assert refused.status_code == 400
    assert refused.get_json()["error_description"].startswith(message)
    if vendor == "divetv":  # a runtime record is a client or a user there: no single list of the file's
        return
    with pytest.raises(ConfigError) as in_the_file:  # the config file says the same after its own path
        load_settings({"vendors": {vendor: {"clients": [client]}}}, environ={})
    in_file = in_the_file.value.args[0].split(f"vendors.{vendor}.clients.0", 1)[1]
    assert refused.get_json()["error_description"] == "client" + in_file


def test_no_hostile_registration_makes_a_vendor_answer_5xx(make_app: Callable[..., Flask]) -> None:
    """The red team's case: `scopes: 5` once made ClickView's discovery answer 500 to everyone."""
    http = make_app().test_client()
    for vendor, client, _ in HOSTILE_CLIENTS:
        assert http.post("/__mock/clients", json={"vendor": vendor, "client": client}).status_code == 400
    discovery = http.get("/clickview/.well-known/openid-configuration")
    assert discovery.status_code == 200
    contracts.validate_response("clickview", "getOpenIdConfiguration", 200, discovery.get_json())
    assert http.post("/clickview/connect/token", data=CLICKVIEW).status_code == 200


def test_claims_past_the_budget_are_refused(mock: MockController) -> None:
    too_big = {"blob": "x" * MAX_CLAIMS_BYTES}
    with pytest.raises(ControlError, match=f"at most {MAX_CLAIMS_BYTES} bytes"):
        mock.claims("clickview", too_big)
    with pytest.raises(ControlError, match="claims: must have at most 64 members"):
        mock.claims("clickview", {f"c{i}": i for i in range(65)})
    for _ in range(MAX_ARMED):
        mock.claims("clickview", {"n": 1}, times=1)
    with pytest.raises(ControlError, match=f"at most {MAX_ARMED} claim sets"):
        mock.claims("clickview", {"n": 1})


# Per test: armed claims.


def test_armed_claims_ride_on_the_next_tokens_only(live: LiveServer, mock: MockController) -> None:
    armed = mock.claims("clickview", {"tenant": "acme", "roles": ["admin"]}, times=2)
    assert armed["remaining"] == 2 and mock.armed_claims()[0]["claims"] == {"tenant": "acme", "roles": ["admin"]}
    first, second, third = (clickview_claims(clickview_token(live.url)) for _ in range(3))
    assert first["tenant"] == second["tenant"] == "acme" and first["roles"] == ["admin"]
    assert "tenant" not in third
    assert mock.armed_claims() == []


def test_claims_armed_for_one_client_leave_the_others_alone(live: LiveServer, mock: MockController) -> None:
    mock.add_client("clickview", client_id="other", client_secret="other-secret", scopes=["smartembed.viewkey"])
    mock.claims("clickview", {"tenant": "demo-only"}, client_id="demo-client")
    other = clickview_claims(clickview_token(live.url, {**CLICKVIEW, "client_id": "other",
                                                        "client_secret": "other-secret"}))
    assert "tenant" not in other
    assert clickview_claims(clickview_token(live.url))["tenant"] == "demo-only"
    assert clickview_claims(clickview_token(live.url))["tenant"] == "demo-only"  # no times: until cleared
    mock.clear_claims()
    assert "tenant" not in clickview_claims(clickview_token(live.url))


def test_reset_disarms_claims(live: LiveServer, mock: MockController) -> None:
    mock.claims("clickview", {"tenant": "acme"})
    mock.reset()
    assert mock.armed_claims() == []
    assert "tenant" not in clickview_claims(clickview_token(live.url))


def test_opaque_tokens_take_no_claims(mock: MockController) -> None:
    with pytest.raises(ControlError, match="junctiontv issues opaque tokens"):
        mock.claims("junctiontv", {"tenant": "acme"})
    with pytest.raises(ControlError, match="junctiontv issues opaque tokens"):
        mock.mint("junctiontv")


# Standard claims overridden on purpose: the client under test gets a wrong token; the journal says so.


def test_a_wrong_issuer_and_audience_reach_the_client_and_the_journal_marks_them(
    live: LiveServer, mock: MockController
) -> None:
    mock.claims("vision10", {"iss": "https://evil.example", "aud": "someone-else"}, times=1)
    token = vision10_token(live.url)
    with pytest.raises(jwt.InvalidIssuerError):  # what a careful client does with it
        key = jwt.PyJWKClient(f"{live.url}/vision10/.well-known/jwks.json").get_signing_key_from_jwt(token)
        jwt.decode(token, key.key, algorithms=["RS256"], issuer="https://vision10.example", audience="someone-else",
                   options={"verify_exp": False})
    refused = requests.get(f"{live.url}/vision10/v1/api/resource", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401  # the vendor's own resource refuses a token for another audience
    entry = mock.requests(vendor="vision10", operation="getAccessToken")[-1]
    assert entry["claims"] == {"custom": ["aud", "iss"], "overridden": ["aud", "iss"], "armed": 1}
    plain = vision10_token(live.url)
    assert "claims" not in mock.requests(vendor="vision10", operation="getAccessToken")[-1]
    assert "iss" not in vision10_claims(live.url, plain)


def test_an_already_expired_token_and_an_unknown_key_id(live: LiveServer, mock: MockController) -> None:
    mock.claims("clickview", {"exp": 1000}, times=1)  # long past by any clock
    expired = clickview_token(live.url)
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(expired, SECRET, algorithms=["HS256"], options={"verify_nbf": False})
    refused = requests.get(f"{live.url}/clickview/api/v1/example", headers={"Authorization": f"Bearer {expired}"})
    assert refused.status_code == 401 and "expired" in refused.headers["WWW-Authenticate"]

    mock.claims("clickview", {}, kid="retired-key", times=1)
    foreign = clickview_token(live.url)
    assert jwt.get_unverified_header(foreign)["kid"] == "retired-key"
    assert jwt.get_unverified_header(foreign)["alg"] == "HS256"  # the algorithm stays pinned
    refused = requests.get(f"{live.url}/clickview/api/v1/example", headers={"Authorization": f"Bearer {foreign}"})
    assert refused.status_code == 401 and "unknown signing key" in refused.headers["WWW-Authenticate"]
    assert mock.requests(vendor="clickview", operation="requestToken")[-1]["claims"]["overridden"] == ["header.kid"]


def test_the_header_may_not_name_another_algorithm(mock: MockController) -> None:
    with pytest.raises(ControlError, match="400"):
        mock._send("POST", "/claims", {"vendor": "clickview", "claims": {}, "header": {"alg": "none"}})


@pytest.mark.parametrize("vendor", ["clickview", "vision10", "divetv", "aminotv"])
def test_every_jwt_vendor_carries_armed_claims(
    make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer], vendor: str
) -> None:
    """Through each vendor's own token request (the reference client), decoded without the key."""
    from tokenmock.client import CLIENTS

    live = serve(make_app())
    mock = MockController(live.url)
    mock.claims(vendor, {"tenant": vendor}, times=1)
    demo = requests.get(f"{live.url}/", timeout=5).json()["vendors"][vendor]["demo_credentials"]
    arguments = {k: v for k, v in demo.items() if k in ("client_id", "client_secret", "scope", "client_key",
                                                        "username", "password")}
    client = CLIENTS[vendor](**arguments, base_url=f"{live.url}/{vendor}")
    token = client.token().access_token
    assert jwt.decode(token, options={"verify_signature": False})["tenant"] == vendor


# Minted tokens.


@pytest.mark.parametrize("vendor", ["clickview", "vision10", "divetv", "aminotv"])
def test_a_minted_token_is_accepted_by_the_vendors_resource(
    live: LiveServer, mock: MockController, vendor: str
) -> None:
    minted = mock.mint(vendor, claims={"tenant": "minted"}, lifetime=120)
    assert minted["expires_in"] == 120 and minted["claims"]["tenant"] == "minted"
    assert jwt.decode(minted["access_token"], options={"verify_signature": False})["tenant"] == "minted"
    url, header = minted["curl"].removeprefix("curl ").split(" -H ")
    name, _, value = header.strip("'").partition(": ")
    assert requests.get(url, headers={name: value}, timeout=5).status_code == 200


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # authlib.jose points at joserfc, not installed here
def test_a_minted_token_for_a_named_client_verifies_with_authlib(live: LiveServer, mock: MockController) -> None:
    from authlib.jose import JsonWebKey, JsonWebToken

    minted = mock.mint("vision10", client_id="vision-api-user", claims={"sub": "user-7"})
    key_set = JsonWebKey.import_key_set(requests.get(f"{live.url}/vision10/.well-known/jwks.json", timeout=5).json())
    claims = JsonWebToken(["RS256"]).decode(minted["access_token"], key_set)
    assert claims["client_id"] == "vision-api-user" and claims["sub"] == "user-7"
    with pytest.raises(ControlError, match="has no client 'nobody'"):
        mock.mint("vision10", client_id="nobody")


def test_the_config_file_takes_claims_for_a_jwt_vendors_clients_only(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("vendors:\n  divetv:\n    clients:\n      - {client_key: k, claims: {tenant: t}}\n")
    assert load_settings(good, environ={})["vendors"]["divetv"]["clients"][0]["claims"] == {"tenant": "t"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("vendors:\n  junctiontv:\n    clients:\n      - {client_id: a, client_secret: b, claims: {t: 1}}\n")
    with pytest.raises(ConfigError, match=r"vendors\.junctiontv\.clients\.0\.claims: unknown key"):
        load_settings(bad, environ={})


# `tokenmock token ... --claims`.


def test_the_token_command_gets_a_token_carrying_the_claims(live: LiveServer) -> None:
    from click.testing import CliRunner

    from tokenmock.cli import main

    result = CliRunner().invoke(
        main,
        ["token", "clickview", "--base-url", f"{live.url}/clickview", "--client-id", "demo-client",
         "--client-secret", "demo-secret", "--claims", '{"tenant": "acme", "iss": "https://other.example"}'],
        env={},
    )
    assert result.exit_code == 0, result.output
    claims = clickview_claims(json.loads(result.output)["access_token"])
    assert claims["tenant"] == "acme" and claims["iss"] == "https://other.example"
    assert "tenant" not in clickview_claims(clickview_token(live.url))  # armed for that one token


@pytest.mark.parametrize(
    ("claims", "message"),
    [("{tenant}", "--claims must be a JSON object"), ("[1]", "--claims must be a JSON object"),
     ('{"exp": "soon"}', "claims.exp: must be integer")],
)
def test_the_token_command_refuses_bad_claims_in_one_line(live: LiveServer, claims: str, message: str) -> None:
    from click.testing import CliRunner

    from tokenmock.cli import main

    result = CliRunner().invoke(
        main,
        ["token", "vision10", "--base-url", f"{live.url}/vision10", "--client-id", "demo-client",
         "--client-secret", "demo-secret", "--scope", "all", "--claims", claims],
        env={},
    )
    assert result.exit_code in (1, 2) and message in result.output
    assert "Traceback" not in result.output


# What docs/controls.md and docs/oauth-surfaces.md state about claims, keys and clients.


def test_the_documented_budgets_and_messages_are_the_codes(make_app: Callable[..., Flask]) -> None:
    from tests.documentation import section
    from tokenmock.mockserver.controls.claims import CLAIMS_SCHEMA, STANDARD
    from tokenmock.mockserver.keyring import JWKS_CACHE_CONTROL, UPCOMING

    text = " ".join(section("Custom claims").split())
    assert f"at most {CLAIMS_SCHEMA['maxProperties']} members" in text
    names = CLAIMS_SCHEMA["propertyNames"]
    assert f"names of {names['minLength']} to {names['maxLength']} characters" in text
    assert f"at most {MAX_CLAIMS_BYTES} bytes of JSON" in text and f"at most {MAX_ARMED} claim sets" in text
    assert "`" + "`, `".join(STANDARD) + "` and the header's `kid`" in text
    admin = " ".join(section("The admin API (`/__mock/`)").split())
    http = make_app().test_client()
    scopes = http.post("/__mock/clients", json={"vendor": "clickview", "client": {
        "client_id": "ci", "client_secret": "x", "scopes": 5}}).get_json()["error_description"]
    assert f"`400 {scopes}`" in admin
    bogus = http.post("/__mock/clients", json={"vendor": "clickview", "client": {
        "client_id": "ci", "client_secret": "x", "bogus_field": 1}}).get_json()["error_description"]
    assert f"`{bogus}`" in admin
    jwks = " ".join(section("JWKS: verify Vision10 tokens").split())
    assert {2: "the next two keys"}[UPCOMING] in jwks and f"`Cache-Control: {JWKS_CACHE_CONTROL}`" in jwks
