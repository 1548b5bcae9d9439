"""Behaviour checks that look inside a JWT access token, so that what matters is caught without
waiting for it to expire: its lifetime agrees with `expires_in`; its algorithm is the documented one and
where the provider publishes its keys (a JWKS) the token verifies against one of them.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from tokenmock.contracts.verify.registry import behaviour_check, lifetime
from tokenmock.contracts.verify.target import CheckFailed, CheckSkipped, Target, json_of

# Seconds `exp - iat` may differ from `expires_in`: the two are computed a moment apart.
LIFETIME_TOLERANCE = 60
# Signature sizes in bytes a JWS of each algorithm family can have (RSA: 1024- to 8192-bit keys).
SIGNATURE_BYTES = {"HS256": range(32, 33), "HS384": range(48, 49), "HS512": range(64, 65), "ES256": range(64, 65)}
RSA_SIGNATURE_BYTES = range(128, 1025)


def _segment(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jws_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes] | None:
    """(header, claims, signature) of a compact JWS, or None when the token is not one (opaque)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header, claims = json.loads(_segment(parts[0])), json.loads(_segment(parts[1]))
        signature = _segment(parts[2])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return header, claims, signature


def _jws(target: Target, why: str) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    parts = jws_parts(target.token())
    if parts is None:
        if target.profile.token_alg is not None:
            raise CheckFailed(
                "access token is not a JWT",
                f"the document shows a {target.profile.token_alg} JWT ({target.profile.alg_source})",
                status=200,
            )
        raise CheckSkipped(f"the access token is opaque (not a JWT): {why}")
    return parts


def _number(value: Any) -> float | None:
    return None if isinstance(value, bool) or not isinstance(value, int | float) else float(value)


@behaviour_check("token")
def expires_in_matches_token(target: Target) -> None:
    """A JWT's `exp - iat` (else `exp` minus the answer's Date) agrees with `expires_in`, within a minute:
    a token that lives longer or shorter than announced is caught without waiting for it to expire."""
    header_claims = _jws(target, "there is no exp to compare")
    claims = header_claims[1]
    announced = lifetime(target)
    expires = _number(claims.get("exp"))
    if expires is None:
        raise CheckSkipped("the JWT carries no numeric exp claim")
    issued = _number(claims.get("iat"))
    basis = "iat"
    if issued is None:
        response, _ = target.token_answer()
        try:
            issued = parsedate_to_datetime(response.headers["Date"]).timestamp()
            basis = "the answer's Date"
        except (KeyError, TypeError, ValueError):
            raise CheckSkipped("the JWT has no iat and the answer no Date header to measure exp against") from None
    real = expires - issued
    if not math.isfinite(real) or abs(real - announced) > LIFETIME_TOLERANCE:
        raise CheckFailed(
            "token lifetime differs from expires_in",
            f"exp - {basis} is {real:.0f} s, expires_in says {announced} s (tolerance {LIFETIME_TOLERANCE} s)",
            status=200,
        )


def _alg_as_documented(target: Target, header: dict[str, Any], signature: bytes) -> None:
    """The JWT's `alg` is the one the document shows, its signature the size that algorithm makes (an
    `RS256` header over an HMAC signature is caught without any key)."""
    expected = target.profile.token_alg
    if expected is None:
        return
    alg = header.get("alg")
    if alg != expected:
        raise CheckFailed(
            "token signed with an undocumented algorithm",
            f"alg is {alg!r}; the document shows {expected} ({target.profile.alg_source})",
            status=200,
        )
    sizes = RSA_SIGNATURE_BYTES if expected.startswith(("RS", "PS")) else SIGNATURE_BYTES.get(expected)
    if sizes is not None and len(signature) not in sizes:
        raise CheckFailed(
            "token signature does not fit its alg",
            f"a {len(signature)}-byte signature under alg {alg} (expected {sizes.start} to {sizes.stop - 1} bytes)",
            status=200,
        )


def _jwks_url(target: Target) -> str | None:
    """Where the provider publishes its keys; None with the reason why verify cannot know."""
    if target.jwks_url is not None:
        return target.jwks_url
    operation = target.profile.jwks_operation
    if operation is None or target.serves(operation) is not None:
        return None
    return target.base_url + target.label(operation).split(" ", 1)[1]


def _no_jwks_reason(target: Target) -> str:
    operation = target.profile.jwks_operation
    why = target.serves(operation) if operation is not None else None
    if why is not None:
        return f"{why}; give --jwks URL where the provider publishes its keys"
    return "the vendor publishes no signing keys (no JWKS; give --jwks URL where there is one)"


@behaviour_check("token")
def token_verifies_with_published_keys(target: Target) -> None:
    """The JWT's `alg` is the documented one and its signature the size that alg makes; where the
    provider publishes a JWKS, the token verifies against a key in it (a key it does not publish is a
    failure)."""
    import jwt

    if target.profile.token_alg is None and _jwks_url(target) is None:
        raise CheckSkipped(f"the document names no signing algorithm, and {_no_jwks_reason(target)}")
    header, _, signature = _jws(target, "nothing to verify")
    _alg_as_documented(target, header, signature)
    url = _jwks_url(target)
    if url is None:
        return  # the alg is all that can be checked without the keys
    response = target.exchange(requests.Request("GET", url))
    document = json_of(response)
    if response.status_code != 200 or not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise CheckFailed(
            "no key set where the keys are published",
            f'the JWKS answered {response.status_code} without a JSON {{"keys": [...]}}',
            status=response.status_code,
        )
    alg = str(header.get("alg", ""))
    if not document["keys"]:
        if alg.startswith("HS"):
            raise CheckSkipped("the JWKS is empty and the token is HMAC-signed (a shared secret, never published)")
        raise CheckFailed("token signed with an unpublished key", f"an {alg} token, and the JWKS is empty", status=200)
    keys = []
    for entry in document["keys"]:
        try:
            keys.append(jwt.PyJWK.from_dict(entry))
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue
    kid = header.get("kid")
    candidates = [key for key in keys if kid is None or key.key_id == kid]
    for key in candidates:
        try:
            jwt.decode(target.token(), key.key, algorithms=[alg], options={"verify_aud": False, "verify_exp": False})
        except jwt.PyJWTError:
            continue
        return
    which = f"kid {kid!r}" if kid is not None else "no kid"
    raise CheckFailed(
        "token signed with an unpublished key",
        f"the token ({alg}, {which}) verifies against none of the {len(document['keys'])} published key(s)",
        status=200,
    )
