"""ClickView's discovery document (Duende's shape): OIDC-aware clients find the token endpoint there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt
import pytest
import requests
from authlib.integrations.flask_client import OAuth
from flask import Flask

from tests.conftest import LiveServer
from tokenmock import contracts

DISCOVERY = "/.well-known/openid-configuration"
FORM = {
    "grant_type": "client_credentials",
    "client_id": "demo-client",
    "client_secret": "demo-secret",
    "scope": "smartembed.viewkey",
}


def test_authlib_gets_a_clickview_token_through_discovery(
    make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer]
) -> None:
    live = serve(make_app())
    oauth = OAuth(Flask("client-under-test"))
    oauth.register(
        "clickview",
        client_id="demo-client",
        client_secret="demo-secret",
        server_metadata_url=f"{live.url}/clickview{DISCOVERY}",
        client_kwargs={"scope": "smartembed.viewkey"},
    )
    token = oauth.clickview.fetch_access_token(grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and token["scope"] == "smartembed.viewkey"
    example = requests.get(
        f"{live.url}/clickview/api/v1/example", headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=5
    )
    assert example.status_code == 200
    assert oauth.clickview.server_metadata["token_endpoint"] == f"{live.url}/clickview/connect/token"


@pytest.mark.parametrize(
    ("settings", "base_url", "path", "expected"),
    [
        ({}, "http://localhost", "/clickview", "http://localhost/clickview"),
        ({}, "https://Mock.Example:8443", "/clickview", "https://mock.example:8443/clickview"),  # behind TLS
        ({"vendor": "clickview"}, "http://127.0.0.1:8080", "", "http://127.0.0.1:8080"),  # single-vendor root
        ({}, "http://[::1]:8080", "/clickview", "http://[::1]:8080/clickview"),
    ],
)
def test_urls_follow_the_request(
    make_app: Callable[..., Flask], settings: dict[str, Any], base_url: str, path: str, expected: str
) -> None:
    http = make_app(**settings).test_client()
    metadata = http.get(path + DISCOVERY, base_url=base_url).get_json()
    assert metadata["token_endpoint"] == expected + "/connect/token"
    assert metadata["jwks_uri"] == expected + DISCOVERY + "/jwks"
    assert metadata["issuer"] == expected  # Duende infers its issuer from the URL when none is configured
    token = http.post(path + "/connect/token", data=FORM, base_url=base_url).get_json()["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == metadata["issuer"]


def test_a_configured_issuer_is_used_in_the_metadata_and_the_tokens(make_app: Callable[..., Flask]) -> None:
    http = make_app(vendors={"clickview": {"issuer": "https://auth.clickviewapp.com"}}).test_client()
    metadata = http.get("/clickview" + DISCOVERY).get_json()
    assert metadata["issuer"] == "https://auth.clickviewapp.com"
    assert metadata["token_endpoint"] == "http://localhost/clickview/connect/token"  # still where the client is
    token = http.post("/clickview/connect/token", data=FORM).get_json()["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == "https://auth.clickviewapp.com"


@pytest.mark.parametrize(
    ("reading", "methods"),
    [("lenient", ["client_secret_post", "client_secret_basic"]), ("strict", ["client_secret_post"])],
)
def test_the_metadata_lists_what_the_mock_accepts(
    make_app: Callable[..., Flask], reading: str, methods: list[str]
) -> None:
    metadata = make_app(readings={"CV-02": reading}).test_client().get("/clickview" + DISCOVERY).get_json()
    assert metadata["token_endpoint_auth_methods_supported"] == methods
    assert metadata["grant_types_supported"] == ["client_credentials"]
    assert metadata["scopes_supported"] == ["smartembed.viewkey"]
    contracts.validate_response("clickview", "getOpenIdConfiguration", 200, metadata)


def test_the_key_set_is_empty_because_clickview_tokens_are_hs256(make_app: Callable[..., Flask]) -> None:
    http = make_app().test_client()
    assert http.get("/clickview" + DISCOVERY + "/jwks").get_json() == {"keys": []}
    token = http.post("/clickview/connect/token", data=FORM).get_json()["access_token"]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


@pytest.mark.parametrize("host", ['evil"host', "a b", "host/path", "x" * 300])
def test_a_host_that_is_no_host_name_gets_a_clear_error(make_app: Callable[..., Flask], host: str) -> None:
    refused = make_app().test_client().get("/clickview" + DISCOVERY, headers={"Host": host})
    assert refused.status_code == 400
    assert refused.get_json() == {
        "error": "invalid_request",
        "error_description": "the Host header is not a host name with an optional port",
    }


@pytest.mark.parametrize("vendor", ["junctiontv", "vision10", "divetv", "aminotv"])
def test_only_clickview_publishes_metadata(make_app: Callable[..., Flask], vendor: str) -> None:
    """Where the vendor's own server would publish metadata (Duende), the mock does; elsewhere nothing."""
    assert make_app().test_client().get(f"/{vendor}{DISCOVERY}").status_code == 404


# RFC 8414 §2 and OpenID Connect Discovery 1.0 §3: the members each marks REQUIRED.
REQUIRED_BY_SPECS = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
)


def test_authlib_accepts_the_metadata_as_rfc8414_and_as_oidc_discovery(make_app: Callable[..., Flask]) -> None:
    """Authlib's own validators, at their defaults (https URLs, as behind TLS): both the plain-OAuth and the
    OIDC reading of the document pass, where before `response_types_supported` was missing."""
    from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
    from authlib.oidc.discovery import OpenIDProviderMetadata

    served = make_app().test_client().get("/clickview" + DISCOVERY, base_url="https://mock.example")
    metadata = served.get_json()
    AuthorizationServerMetadata(metadata).validate()
    OpenIDProviderMetadata(metadata).validate()
    assert set(REQUIRED_BY_SPECS) <= set(metadata)
    assert metadata["authorization_endpoint"] == "https://mock.example/clickview/connect/authorize"


def test_authlib_validates_the_metadata_a_live_server_publishes(
    make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over plain HTTP on loopback, with Authlib's documented switch for local testing."""
    from authlib.oidc.discovery import OpenIDProviderMetadata

    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    live = serve(make_app())
    metadata = requests.get(f"{live.url}/clickview{DISCOVERY}", timeout=5).json()
    OpenIDProviderMetadata(metadata).validate()
    assert metadata["subject_types_supported"] == ["public"]
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    assert metadata["response_types_supported"] == ["code"]  # Duende's defaults, as docs/oauth-surfaces.md says
    assert metadata["authorization_endpoint"] == f"{live.url}/clickview/connect/authorize"


@pytest.mark.parametrize("member", REQUIRED_BY_SPECS)
def test_the_contract_refuses_metadata_without_a_member_the_specs_require(member: str) -> None:
    metadata = dict(contracts.operation("clickview", "getOpenIdConfiguration").response(200)["content"][
        "application/json"]["examples"]["discovery"]["value"])
    contracts.validate_response("clickview", "getOpenIdConfiguration", 200, metadata)  # the example is whole
    del metadata[member]
    with pytest.raises(contracts.Violation):
        contracts.validate_response("clickview", "getOpenIdConfiguration", 200, metadata)


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("subject_types_supported", ["secret"]),  # public or pairwise only
        ("subject_types_supported", []),
        ("id_token_signing_alg_values_supported", ["HS256"]),  # RS256 MUST be included
        ("response_types_supported", []),
        ("issuer", "https://mock.example/clickview?tenant=1"),  # no query or fragment
        ("scopes_supported", "smartembed.viewkey"),  # a JSON array
    ],
)
def test_the_contract_refuses_values_the_specs_forbid(member: str, value: Any) -> None:
    metadata = dict(contracts.operation("clickview", "getOpenIdConfiguration").response(200)["content"][
        "application/json"]["examples"]["discovery"]["value"])
    metadata[member] = value
    with pytest.raises(contracts.Violation):
        contracts.validate_response("clickview", "getOpenIdConfiguration", 200, metadata)
