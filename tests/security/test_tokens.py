"""Forged, stale and misplaced tokens at every protected resource and refresh endpoint, table-driven.

Every attack starts from a genuine token of the vendor and changes one thing: the algorithm (`none`,
HS256 keyed with the RS256 public key), the key id, the key, the time window, the audience, a claim
behind the signature's back, the vendor, the token kind. The mock's keys are configured, so a test can
sign what only the server should be able to sign and show that the one change is what gets refused.
Each refusal is the vendor's documented one (status, error shape, Bearer challenge).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from flask import Flask

from tests.conftest import EPOCH
from tests.security.flows import (
    REFRESH_OPERATION,
    REFRESHING,
    RESOURCES,
    VENDORS,
    Answer,
    Http,
    call_resource,
    flask_http,
    login,
    refresh,
    tokens_of,
)
from tokenmock import contracts
from tokenmock.mockserver.controls.clock import Clock


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


SERVER_RSA, ATTACKER_RSA = _rsa(), _rsa()
SERVER_PEM = SERVER_RSA.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
PUBLIC_PEM = SERVER_RSA.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
SECRETS = {
    "junctiontv": b"junctiontv-test-secret-0123456789abcdef",
    "clickview": b"clickview-test-secret-0123456789abcdef",
    "divetv": b"divetv-test-secret-0123456789abcdef",
    "aminotv": b"aminotv-test-secret-0123456789abcdef",
}
ATTACKER_SECRET = b"attacker-secret-0123456789abcdef0123"
SETTINGS: dict[str, Any] = {
    "vendors": {
        "junctiontv": {"token_secret": SECRETS["junctiontv"].decode()},
        "clickview": {"signing_secret": SECRETS["clickview"].decode()},
        "vision10": {"private_key_pem": SERVER_PEM},
        "divetv": {"secret": SECRETS["divetv"].decode()},
        "aminotv": {"secret": SECRETS["aminotv"].decode()},
    },
    # AminoTV rotates refresh tokens only under the strict reading (AMINO-10); Dive does by default.
    "readings": {"AMINO-10": "strict"},
}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def jws(header: dict[str, Any], claims: dict[str, Any], key: Any) -> str:
    """A compact JWS signed exactly as `header["alg"]` says, with whatever key is given (or none)."""
    signing_input = f"{b64(dumps(header))}.{b64(dumps(claims))}".encode()
    alg = header["alg"]
    if alg == "none":
        signature = b""
    elif alg == "HS256":
        signature = hmac.new(key, signing_input, hashlib.sha256).digest()
    else:
        signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode()}.{b64(signature)}"


def opaque(claims: dict[str, Any], key: bytes) -> str:
    """JunctionTV's sealed token: base64url(claims).base64url(HMAC-SHA256)."""
    body = b64(dumps(claims))
    return f"{body}.{b64(hmac.new(key, body.encode(), hashlib.sha256).digest())}"


@dataclass
class Genuine:
    """A token the mock issued, taken apart, with what signing it again would need."""

    vendor: str
    token: str
    now: float

    @property
    def opaque(self) -> bool:
        return self.vendor == "junctiontv"

    @property
    def header(self) -> dict[str, Any]:
        return {} if self.opaque else json.loads(unb64(self.token.split(".")[0]))

    @property
    def claims(self) -> dict[str, Any]:
        return json.loads(unb64(self.token.split(".")[0 if self.opaque else 1]))

    @property
    def key(self) -> Any:
        return SERVER_RSA if self.vendor == "vision10" else SECRETS[self.vendor]

    def signed(self, claims: dict[str, Any], *, header: dict[str, Any] | None = None, key: Any = None) -> str:
        """`claims` signed as the server would (or with `key`, under `header`)."""
        if self.opaque:
            return opaque(claims, key if key is not None else self.key)
        return jws(header or self.header, claims, key if key is not None else self.key)

    def attacker_key(self) -> Any:
        return ATTACKER_RSA if self.header.get("alg") == "RS256" else ATTACKER_SECRET


def _tampered(token: Genuine) -> str:
    """The payload changed (a far expiry, another client) and the genuine signature kept."""
    claims = {**token.claims, "exp": int(token.now) + 10 * 365 * 86400, "client_id": "attacker", "sub": "attacker"}
    parts = token.token.split(".")
    parts[0 if token.opaque else 1] = b64(dumps(claims))
    return ".".join(parts)


def _confusion(token: Genuine) -> str | None:
    """RS256 verified as HS256 keyed with the public key; for HS256 vendors, RS256 with the attacker's key."""
    if token.opaque:
        return None
    if token.header["alg"] == "RS256":
        return jws({**token.header, "alg": "HS256"}, token.claims, PUBLIC_PEM)
    return jws({**token.header, "alg": "RS256"}, token.claims, ATTACKER_RSA)


def _without_exp(token: Genuine) -> str:
    claims = dict(token.claims)
    claims.pop("exp")
    return token.signed(claims)


# Attack name -> forgery from a genuine token (None: does not apply to this vendor's tokens).
FORGERIES: dict[str, Callable[[Genuine], str | None]] = {
    "alg none": lambda t: None if t.opaque else jws({**t.header, "alg": "none"}, t.claims, None),
    "alg none, signature kept": lambda t: (
        None
        if t.opaque
        else (f"{b64(dumps({**t.header, 'alg': 'none'}))}.{t.token.split('.')[1]}.{t.token.split('.')[2]}")
    ),
    "algorithm confusion": _confusion,
    "wrong kid": lambda t: None if t.opaque else t.signed(t.claims, header={**t.header, "kid": "attacker-kid"}),
    "no kid": lambda t: (
        None if t.opaque else t.signed(t.claims, header={k: v for k, v in t.header.items() if k != "kid"})
    ),
    "signed with another key": lambda t: t.signed(t.claims, key=t.attacker_key()),
    "signature stripped": lambda t: t.token.rsplit(".", 1)[0] + ".",
    "expired": lambda t: t.signed({**t.claims, "iat": int(t.now) - 7200, "exp": int(t.now) - 1}),
    "expires now": lambda t: t.signed({**t.claims, "exp": int(t.now)}),
    "no expiry": _without_exp,
    "not yet valid": lambda t: t.signed({**t.claims, "nbf": int(t.now) + 3600}),
    "wrong audience": lambda t: t.signed({**t.claims, "aud": "https://attacker.example"}),
    "audience list without ours": lambda t: t.signed({**t.claims, "aud": ["https://attacker.example", "other"]}),
    "tampered claims": _tampered,
}


@pytest.fixture
def app(clock: Clock) -> Flask:
    from tokenmock.mockserver import create_app

    return create_app({"validate_responses": True, "access_log": False, "clock": clock, **SETTINGS})


@pytest.fixture
def http(app: Flask) -> Http:
    return flask_http(app.test_client(use_cookies=False))


def genuine(vendor: str, http: Http, *, kind: str = "access") -> Genuine:
    access, refresh_token = tokens_of(vendor, login(vendor, http))
    token = access if kind == "access" else refresh_token
    assert token is not None
    return Genuine(vendor, token, EPOCH)


def assert_bearer_refused(vendor: str, resource: tuple[str, str, str], answer: Answer) -> None:
    """401 in the vendor's documented shape with an RFC 6750 challenge naming invalid_token."""
    operation_id = resource[0]
    assert answer.status == 401, (vendor, operation_id, answer.status, answer.body[:300])
    contracts.validate_response(vendor, operation_id, 401, answer.body, dict(answer.headers))
    challenge = {k.lower(): v for k, v in answer.headers.items()}["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge


def assert_refresh_refused(vendor: str, answer: Answer) -> None:
    """Dive: 400 invalid_grant (Spring Security OAuth2); AminoTV: 401 with its refresh-token codes."""
    operation_id = REFRESH_OPERATION[vendor]
    contracts.validate_response(vendor, operation_id, answer.status, answer.body, dict(answer.headers))
    if vendor == "divetv":
        assert (answer.status, answer.json()["error"]) == (400, "invalid_grant"), answer.body
    else:
        assert answer.status == 401 and answer.json()["errors"][0]["code"] in (
            "invalid_refresh_token",
            "refresh_token_expired",
        ), answer.body


RESOURCE_CASES = [
    pytest.param(vendor, resource, attack, id=f"{vendor}.{resource[0]}-{attack}")
    for vendor in VENDORS
    for resource in RESOURCES[vendor]
    for attack in FORGERIES
    if not (
        vendor == "junctiontv"
        and attack in ("alg none", "alg none, signature kept", "algorithm confusion", "wrong kid", "no kid")
    )
]


@pytest.mark.parametrize(("vendor", "resource", "attack"), RESOURCE_CASES)
def test_forged_access_tokens_are_refused(http: Http, vendor: str, resource: tuple[str, str, str], attack: str) -> None:
    token = genuine(vendor, http)
    assert call_resource(vendor, http, token.token, resource).status == 200  # the genuine one passes
    forged = FORGERIES[attack](token)
    assert forged is not None and forged != token.token
    assert_bearer_refused(vendor, resource, call_resource(vendor, http, forged, resource))


@pytest.mark.parametrize("vendor", VENDORS)
def test_jwt_forgeries_are_refused_by_the_opaque_vendor_too(http: Http, vendor: str) -> None:
    """JunctionTV's tokens are not JWTs: any JWT, unsigned or signed by anyone, is not one of its tokens."""
    resource = RESOURCES["junctiontv"][0]
    claims = Genuine("junctiontv", tokens_of("junctiontv", login("junctiontv", http))[0], EPOCH).claims
    for forged in (
        jws({"alg": "none", "typ": "JWT"}, claims, None),
        jws({"alg": "HS256", "typ": "JWT"}, claims, SECRETS["junctiontv"]),
        jws({"alg": "RS256", "typ": "JWT"}, claims, SERVER_RSA),
    ):
        assert_bearer_refused("junctiontv", resource, call_resource("junctiontv", http, forged, resource))


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_token_expires_by_the_mock_clock(http: Http, clock: Clock, vendor: str) -> None:
    token = genuine(vendor, http)
    for resource in RESOURCES[vendor]:
        assert call_resource(vendor, http, token.token, resource).status == 200
    clock.advance(token.claims["exp"] - clock.now())  # exactly at `exp`: no longer valid
    for resource in RESOURCES[vendor]:
        assert_bearer_refused(vendor, resource, call_resource(vendor, http, token.token, resource))


OTHER_VENDOR_CASES = [
    pytest.param(holder, issuer, resource, id=f"{issuer}-token-at-{holder}.{resource[0]}")
    for holder in VENDORS
    for issuer in VENDORS
    if issuer != holder
    for resource in RESOURCES[holder]
]


@pytest.mark.parametrize(("holder", "issuer", "resource"), OTHER_VENDOR_CASES)
def test_another_vendors_token_is_refused(http: Http, holder: str, issuer: str, resource: tuple[str, str, str]) -> None:
    access, refresh_token = tokens_of(issuer, login(issuer, http))
    for token in filter(None, (access, refresh_token)):
        assert_bearer_refused(holder, resource, call_resource(holder, http, token, resource))


@pytest.mark.parametrize(
    ("vendor", "resource"),
    [(v, r) for v in REFRESHING for r in RESOURCES[v]],
    ids=lambda x: x if isinstance(x, str) else x[0],
)
def test_a_refresh_token_is_not_an_access_token(http: Http, vendor: str, resource: tuple[str, str, str]) -> None:
    refresh_token = genuine(vendor, http, kind="refresh")
    assert_bearer_refused(vendor, resource, call_resource(vendor, http, refresh_token.token, resource))


# At the refresh endpoints: the same forgeries of a genuine refresh token, plus tokens of the wrong kind.
REFRESH_FORGERIES = {name: forge for name, forge in FORGERIES.items() if name not in ("expires now",)}


@pytest.mark.parametrize("attack", sorted(REFRESH_FORGERIES))
@pytest.mark.parametrize("vendor", REFRESHING)
def test_forged_refresh_tokens_are_refused(http: Http, vendor: str, attack: str) -> None:
    token = genuine(vendor, http, kind="refresh")
    forged = REFRESH_FORGERIES[attack](token)
    assert forged is not None
    assert_refresh_refused(vendor, refresh(vendor, http, forged))
    assert refresh(vendor, http, token.token).status == 200  # the genuine one was not used up by them


@pytest.mark.parametrize("vendor", REFRESHING)
def test_wrong_tokens_at_the_refresh_endpoint(http: Http, vendor: str) -> None:
    """An access token, another vendor's refresh or access token, garbage: never a new token."""
    access, _ = tokens_of(vendor, login(vendor, http))
    foreign = [t for other in VENDORS if other != vendor for t in tokens_of(other, login(other, http)) if t]
    for token in (access, *foreign, "x", "a.b.c", "eyJhbGciOiJub25lIn0.e30."):
        assert_refresh_refused(vendor, refresh(vendor, http, token))


@pytest.mark.parametrize("vendor", REFRESHING)
def test_an_expired_refresh_token_is_refused(http: Http, clock: Clock, vendor: str) -> None:
    token = genuine(vendor, http, kind="refresh")
    clock.advance(token.claims["exp"] - clock.now() + 1)
    assert_refresh_refused(vendor, refresh(vendor, http, token.token))


@pytest.mark.parametrize("vendor", REFRESHING)
def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(http: Http, vendor: str) -> None:
    """OAuth 2.0 Security BCP §4.14.2: a replayed refresh token means theft; every token of the login dies."""
    first_access, first_refresh = tokens_of(vendor, login(vendor, http))
    assert first_refresh is not None
    second_access, second_refresh = tokens_of(vendor, refresh(vendor, http, first_refresh))
    assert second_refresh is not None and second_refresh != first_refresh
    resource = RESOURCES[vendor][0]
    assert call_resource(vendor, http, second_access, resource).status == 200

    assert_refresh_refused(vendor, refresh(vendor, http, first_refresh))  # the replay

    assert_refresh_refused(vendor, refresh(vendor, http, second_refresh))  # the thief's (or owner's) newer one
    for access in (first_access, second_access):
        for resource in RESOURCES[vendor]:
            assert_bearer_refused(vendor, resource, call_resource(vendor, http, access, resource))
    # Another login of the same user is a new family, untouched.
    fresh_access, fresh_refresh = tokens_of(vendor, login(vendor, http))
    assert call_resource(vendor, http, fresh_access, resource).status == 200
    assert fresh_refresh is not None and refresh(vendor, http, fresh_refresh).status == 200


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_revoked_access_token_is_refused(app: Flask, http: Http, vendor: str) -> None:
    token = genuine(vendor, http)
    assert app.test_client(use_cookies=False).post("/__mock/revoke", json={"token": token.token}).status_code == 204
    for resource in RESOURCES[vendor]:
        assert_bearer_refused(vendor, resource, call_resource(vendor, http, token.token, resource))


def test_pyjwt_agrees_the_forgeries_are_invalid() -> None:
    """A cross-check of the forging helpers: a standard verifier with pinned algorithms refuses them too."""
    clock = Clock()
    clock.freeze(EPOCH)
    claims = {"sub": "x", "iat": int(EPOCH), "exp": int(EPOCH) + 60}
    header = {"alg": "RS256", "typ": "JWT", "kid": "k"}
    genuine_token = jws(header, claims, SERVER_RSA)
    public = SERVER_RSA.public_key()
    assert jwt.decode(genuine_token, public, algorithms=["RS256"], options={"verify_exp": False})["sub"] == "x"
    token = Genuine("vision10", genuine_token, EPOCH)
    for name in ("alg none", "algorithm confusion", "signed with another key", "tampered claims"):
        forged = FORGERIES[name](token)
        assert forged is not None
        with pytest.raises(jwt.InvalidTokenError):
            jwt.decode(forged, public, algorithms=["RS256"], options={"verify_exp": False})
