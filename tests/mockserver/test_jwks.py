"""Vision10's JWKS: a resource server verifies the mock's tokens from it, through key rotations."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from flask import Flask

from tests.conftest import LiveServer
from tokenmock import contracts
from tokenmock.mockserver import create_app
from tokenmock.mockserver.controls.clock import Clock
from tokenmock.mockserver.keyring import UPCOMING

DEMO = {"grant_type": "client_credentials", "scope": "all", "client_id": "demo-client", "client_secret": "demo-secret"}
LIFETIME = 7199  # Vision10's token_lifetime


def token_from(base: str) -> str:
    response = requests.post(f"{base}/vision10/v1/api/oauth/token", json=DEMO, timeout=5)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def verified_claims(base: str, token: str) -> dict[str, Any]:
    """What a resource server does: fetch the JWKS, pick the key by the token's kid, verify."""
    client = jwt.PyJWKClient(f"{base}/vision10/.well-known/jwks.json", cache_jwk_set=False, cache_keys=False)
    key = client.get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["RS256"], options={"verify_exp": False})


@pytest.fixture
def live(make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer]) -> LiveServer:
    return serve(make_app())


def test_pyjwkclient_verifies_a_vision10_token_from_the_served_jwks(live: LiveServer) -> None:
    token = token_from(live.url)
    claims = verified_claims(live.url, token)
    assert claims["client_id"] == "demo-client" and claims["scope"] == "all"


def test_the_jwks_holds_public_members_only_and_the_tokens_kid(live: LiveServer) -> None:
    answer = requests.get(f"{live.url}/vision10/.well-known/jwks.json", timeout=5)
    keys = answer.json()["keys"]
    assert len(keys) == 1 + UPCOMING  # the signing key, then the keys that will sign next
    assert all(set(key) == {"kty", "use", "alg", "kid", "n", "e"} for key in keys)  # no d, p, q, dp, dq, qi
    assert keys[0]["kid"] == jwt.get_unverified_header(token_from(live.url))["kid"]
    assert answer.headers["Cache-Control"] == "public, max-age=300"
    contracts.validate_response("vision10", "getJwks", 200, {"keys": keys}, dict(answer.headers))


def rotate(base: str, vendor: str = "vision10") -> requests.Response:
    return requests.post(f"{base}/__mock/keys/rotate", json={"vendor": vendor}, timeout=30)


def kids(base: str) -> list[str]:
    return [k["kid"] for k in requests.get(f"{base}/vision10/.well-known/jwks.json", timeout=5).json()["keys"]]


def test_rotation_keeps_the_old_key_published_until_its_tokens_expire(live: LiveServer, clock: Clock) -> None:
    old_token = token_from(live.url)
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    published_next = kids(live.url)[1]
    rotated = rotate(live.url)
    assert rotated.status_code == 200, rotated.text
    new_kid = rotated.json()["kid"]
    assert new_kid == published_next  # the key that signs now was published before it signed
    assert rotated.json()["retired"] == [{"kid": old_kid, "until": clock.now() + LIFETIME}]
    upcoming = rotated.json()["next"]
    assert len(upcoming) == UPCOMING and new_kid not in upcoming

    new_token = token_from(live.url)
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    assert kids(live.url) == [new_kid, *upcoming, old_kid]
    for token in (old_token, new_token):  # both verify, from the JWKS and at the mock's own resource
        assert verified_claims(live.url, token)["client_id"] == "demo-client"
        resource = requests.get(f"{live.url}/vision10/v1/api/resource", headers={"Authorization": f"Bearer {token}"})
        assert resource.status_code == 200, resource.text

    clock.advance(LIFETIME - 1)
    assert kids(live.url) == [new_kid, *upcoming, old_kid]
    clock.advance(1)  # every token the old key signed has now expired
    assert kids(live.url) == [new_kid, *upcoming]


def test_a_vendor_without_a_published_key_cannot_rotate(live: LiveServer) -> None:
    refused = rotate(live.url, "clickview")  # HS256: its key is never published (the contract says so)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"
    assert "vision10" in refused.json()["error_description"]


def test_a_rotation_reaches_every_process_sharing_the_store(tmp_path: Path, clock: Clock) -> None:
    """Two apps on one SQLite store stand for two workers (or hosts): one rotates, both follow."""
    store = f"sqlite://{tmp_path}/state.db"
    first, second = (
        create_app({"store": store, "clock": clock, "access_log": False, "validate_responses": True}).test_client()
        for _ in range(2)
    )
    jwks = "/vision10/.well-known/jwks.json"
    assert first.get(jwks).get_json() == second.get(jwks).get_json()
    new_kid = first.post("/__mock/keys/rotate", json={"vendor": "vision10"}).get_json()["kid"]
    assert second.get(jwks).get_json()["keys"][0]["kid"] == new_kid
    token = second.post("/vision10/v1/api/oauth/token", json=DEMO).get_json()["access_token"]
    assert jwt.get_unverified_header(token)["kid"] == new_kid
    accepted = first.get("/vision10/v1/api/resource", headers={"Authorization": f"Bearer {token}"})
    assert accepted.status_code == 200


def test_a_vendor_not_served_is_not_found(make_app: Callable[..., Flask]) -> None:
    refused = make_app(vendor="clickview").test_client().post("/__mock/keys/rotate", json={"vendor": "vision10"})
    assert refused.status_code == 404 and "not served" in refused.get_json()["error_description"]


def test_pyjwkclient_at_its_defaults_verifies_every_token_across_two_back_to_back_rotations(live: LiveServer) -> None:
    """A resource server with one `PyJWKClient` at every default (a 300 s cached key set, a 30 s cooldown
    before refetching on an unknown kid) verifies each token as it arrives, across two rotations: the keys
    were published before they signed, so the set fetched for the first token holds them all."""
    client = jwt.PyJWKClient(f"{live.url}/vision10/.well-known/jwks.json")
    fetches_before = len(live_jwks_fetches(live))
    kids_seen = set()
    for rotation in range(3):
        if rotation:
            assert rotate(live.url).status_code == 200
        token = token_from(live.url)
        kids_seen.add(jwt.get_unverified_header(token)["kid"])
        key = client.get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=["RS256"], options={"verify_exp": False})
        assert claims["client_id"] == "demo-client"
    assert len(kids_seen) == 3
    assert len(live_jwks_fetches(live)) - fetches_before == 1  # one fetch served all three keys


def live_jwks_fetches(live: LiveServer) -> list[dict[str, Any]]:
    journal = requests.get(f"{live.url}/__mock/requests", params={"vendor": "vision10"}, timeout=5).json()
    return [entry for entry in journal["requests"] if entry.get("operation") == "getJwks"]


def test_a_key_set_cached_before_the_first_rotation_verifies_two_rotations_later(live: LiveServer) -> None:
    """The client caches the set first (as a resource server does at start-up), then the keys rotate twice."""
    client = jwt.PyJWKClient(f"{live.url}/vision10/.well-known/jwks.json")
    client.get_jwk_set()
    for _ in range(2):
        assert rotate(live.url).status_code == 200
        token = token_from(live.url)
        key = client.get_signing_key_from_jwt(token)  # from the cache: the 30 s cooldown forbids a refetch
        assert jwt.decode(token, key.key, algorithms=["RS256"], options={"verify_exp": False})["scope"] == "all"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # authlib.jose points at joserfc, not installed here
def test_authlib_verifies_tokens_from_the_published_key_set_across_rotations(live: LiveServer) -> None:
    from authlib.jose import JsonWebKey, JsonWebToken

    key_set = JsonWebKey.import_key_set(requests.get(f"{live.url}/vision10/.well-known/jwks.json", timeout=5).json())
    tokens = [token_from(live.url)]
    for _ in range(2):
        rotate(live.url)
        tokens.append(token_from(live.url))
    for token in tokens:
        claims = JsonWebToken(["RS256"]).decode(token, key_set)
        assert claims["client_id"] == "demo-client"


def test_an_expired_token_is_refused_as_expired_after_its_key_is_retired(live: LiveServer, clock: Clock) -> None:
    token = token_from(live.url)
    rotate(live.url)
    clock.advance(LIFETIME + 1)  # the token has expired, and its key is no longer published
    assert jwt.get_unverified_header(token)["kid"] not in kids(live.url)
    refused = requests.get(f"{live.url}/vision10/v1/api/resource", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    assert "expired" in refused.headers["WWW-Authenticate"] and "unknown" not in refused.headers["WWW-Authenticate"]


def test_a_retired_key_stays_until_its_longest_lived_token_expires(live: LiveServer, clock: Clock) -> None:
    """A minted token (or one whose `exp` a test set) may outlive the usual lifetime: its key stays published,
    and the token verifies, until it expires too."""
    minted = requests.post(f"{live.url}/__mock/tokens", json={"vendor": "vision10", "lifetime": 3 * LIFETIME},
                           timeout=10).json()["access_token"]
    kid = jwt.get_unverified_header(minted)["kid"]
    rotated = rotate(live.url).json()
    assert rotated["retired"] == [{"kid": kid, "until": clock.now() + 3 * LIFETIME}]
    clock.advance(LIFETIME + 1)  # past the usual lifetime: still published, still good
    assert kid in kids(live.url)
    assert verified_claims(live.url, minted)["client_id"] == "demo-client"
    clock.advance(2 * LIFETIME)  # past the minted token's own expiry
    assert kid not in kids(live.url)
