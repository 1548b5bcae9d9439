"""Behaviour checks: what a token server must *do*, beyond answering in the right shape.

Plain functions in a registry (`registry.py`), as schemathesis' checks are. This module holds the
documented flow, the refusals at the token endpoint, the bearers the resource must refuse, refresh and
expiry; `tokens.py` looks inside the tokens (lifetime, algorithm, signing key) and `exposure.py` at what
every answer gives away (secrets, scope, caching, error status). What each vendor documents lives in
`profiles.py`; nothing here names a vendor.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator

import requests

from tokenmock.contracts.verify.profiles import PROFILES, Refusal
from tokenmock.contracts.verify.registry import (
    BEHAVIOUR_CHECKS,
    BehaviourCheck,
    bearer_refused,
    behaviour_check,
    conforms,
    lifetime,
    operation_of,
    refresh_token,
    refused,
    resource,
)
from tokenmock.contracts.verify.target import CheckFailed, CheckSkipped, Target, demo_credentials, json_of, pointer

__all__ = ["BEHAVIOUR_CHECKS", "BehaviourCheck", "checks_for", "operation_of"]

# An access token that lives longer than this is not "sane" (a year and a day, in seconds).
MAX_LIFETIME = 366 * 24 * 3600


def checks_for(vendor: str) -> Iterator[BehaviourCheck]:
    """Every registered check (refusal checks included), in registration order."""
    assert vendor in PROFILES
    yield from BEHAVIOUR_CHECKS.values()


# The documented flow.


@behaviour_check("token")
def token_flow_works(target: Target) -> None:
    """The documented token request, with valid credentials, answers 200 with a token, as documented."""
    response, token = target.token_answer()
    if response.status_code != 200:
        raise CheckFailed(
            "documented token request refused", f"answered {response.status_code}", status=response.status_code
        )
    conforms(target, target.profile.token.operation_id, response, "token answer")
    if not isinstance(token, str) or not token:
        raise CheckFailed("no access token", f"nothing at {target.profile.token_pointer}", status=200)


@behaviour_check("resource")
def token_opens_resource(target: Target) -> None:
    """The issued token opens the protected resource (the contract's, or `--resource`)."""
    response = resource(target, target.token())
    if response.status_code != 200:
        raise CheckFailed(
            "issued token refused at the resource", f"answered {response.status_code}", status=response.status_code
        )
    if target.resource_url is None:
        conforms(target, target.profile.resource_operation, response, "resource answer")


@behaviour_check("token")
def expires_in_sane(target: Target) -> None:
    """expires_in is a positive number of seconds, at most a year and a day."""
    seconds = lifetime(target)
    if not 0 < seconds <= MAX_LIFETIME:
        raise CheckFailed("expires_in is not sane", f"{seconds} s (expected 1 to {MAX_LIFETIME})", status=200)


# Refusals at the token endpoint: one check per kind, each with the vendor's documented answer.


def _refusal_check(kind: str, what: str) -> None:
    def check(target: Target) -> None:
        refusal = target.profile.refusals.get(kind)
        if refusal is None:
            raise CheckSkipped(target.profile.no_grant_note or f"the vendor has no {kind.replace('_', ' ')}")
        response = target.request_token(target.profile.token, refusal.change)
        accepted = refusal.accepted_under
        if accepted and target.reading(accepted[0]) == accepted[1] and 200 <= response.status_code < 300:
            return  # that reading lets the server accept it
        refused(target, target.profile.token.operation_id, response, refusal, what)

    check.__name__ = f"{kind}_refused"
    check.__doc__ = f"A token request with {what} is refused with the documented status and error shape."
    behaviour_check("token")(check)


_refusal_check("wrong_secret", "a wrong secret")
_refusal_check("unknown_client", "an unknown client")
_refusal_check("missing_credentials", "no credentials")
_refusal_check("wrong_grant", "an unsupported grant type")


# Bearer tokens that must not open the resource.


@behaviour_check("resource")
def garbage_bearer_refused(target: Target) -> None:
    """A bearer that is no token at all is refused with 401 and a Bearer challenge."""
    bearer_refused(target, "tokenmock-verify-" + secrets.token_hex(8), "a garbage bearer")


@behaviour_check("resource")
def tampered_bearer_refused(target: Target) -> None:
    """The issued token with one character changed in the middle is refused."""
    token = target.token()
    middle = len(token) // 2
    replacement = "A" if token[middle] != "A" else "B"
    bearer_refused(target, token[:middle] + replacement + token[middle + 1 :], "a tampered bearer")


@behaviour_check("resource")
def foreign_bearer_refused(target: Target) -> None:
    """A token another issuer signed (another vendor of a tokenmock, else one signed with a key of ours)
    is refused."""
    bearer_refused(target, _foreign_token(target), "another issuer's bearer")


def _foreign_token(target: Target) -> str:
    import jwt

    for name, entry in target.others.items():
        other = Target(name, str(entry["base_url"]), demo_credentials(name), budget=target.budget)
        _, token = other.token_answer()
        if isinstance(token, str):
            return token
    now = int(time.time())
    claims = {"iss": "https://tokenmock-verify.invalid", "sub": "someone", "iat": now, "exp": now + 3600}
    with contextlib.suppress(jwt.PyJWTError, CheckFailed):  # the provider's own claims, a key it does not know
        claims = {**jwt.decode(target.token(), options={"verify_signature": False}), "exp": now + 3600}
    return jwt.encode(claims, secrets.token_bytes(32), algorithm="HS256")


@behaviour_check("resource")
def refresh_token_refused_as_bearer(target: Target) -> None:
    """A refresh token is no access token: the resource refuses it (RFC 6749 §1.5)."""
    refresh = refresh_token(target)
    bearer_refused(target, refresh, "a refresh token as bearer")


# Refresh.


@behaviour_check("refresh")
def refresh_works(target: Target) -> None:
    """Where the vendor has refresh, the refresh token gets a new access token (that opens the resource,
    where there is one to ask)."""
    refresh = refresh_token(target)
    assert target.profile.refresh is not None
    response = target.request_token(target.profile.refresh, refresh_token=refresh)
    if response.status_code != 200:
        raise CheckFailed("refresh refused", f"answered {response.status_code}", status=response.status_code)
    conforms(target, target.profile.refresh.operation_id, response, "refresh answer")
    token = pointer(json_of(response), target.profile.token_pointer)
    if not isinstance(token, str):
        raise CheckFailed(
            "no access token in the refresh answer", f"nothing at {target.profile.token_pointer}", status=200
        )
    with contextlib.suppress(CheckSkipped):
        if resource(target, token).status_code != 200:
            raise CheckFailed(
                "refreshed token does not open the resource", "the new access token was refused", status=200
            )


@behaviour_check("refresh")
def access_token_refused_as_refresh(target: Target) -> None:
    """An access token sent as a refresh token is refused: the two are not interchangeable."""
    profile = target.profile
    if profile.refresh is None:
        raise CheckSkipped("the vendor documents no refresh flow")
    response = target.request_token(profile.refresh, refresh_token=target.token())
    refusal = Refusal({}, frozenset({400, 401}), source="RFC 6749 §5.2 invalid_grant, or the vendor's 401")
    refused(target, profile.refresh.operation_id, response, refusal, "an access token as refresh token")


@behaviour_check("refresh")
def reused_refresh_refused(target: Target) -> None:
    """A refresh token used twice is refused the second time, where the reading in force says so."""
    profile = target.profile
    if profile.refresh is None or profile.reuse_refused_under is None:
        raise CheckSkipped("the vendor documents no refresh flow")
    fresh = target.request_token(profile.token)  # a login of its own: reuse may revoke the family
    refresh = pointer(json_of(fresh), profile.refresh_pointer or "")
    if not isinstance(refresh, str):
        raise CheckFailed(
            "no refresh token", f"the token answer has no {profile.refresh_pointer}", status=fresh.status_code
        )
    first = target.request_token(profile.refresh, refresh_token=refresh)
    if first.status_code != 200:
        raise CheckFailed("refresh refused", f"first use answered {first.status_code}", status=first.status_code)
    second = target.request_token(profile.refresh, refresh_token=refresh)
    entry, reading = profile.reuse_refused_under
    if target.reading(entry) != reading:
        if 200 <= second.status_code < 300:
            return  # the other reading lets a refresh token be used again
        conforms(target, profile.refresh.operation_id, second, "reused refresh token refused")
        return
    refusal = profile.reuse_refusal or Refusal({}, frozenset({400, 401}), source=f"{entry} {reading}")
    refused(target, profile.refresh.operation_id, second, refusal, "a reused refresh token")


# Expiry: needs the provider's clock.


@behaviour_check("resource")
def expired_token_refused(target: Target) -> None:
    """Once expires_in has passed (the mock's clock moved past it), the token is refused."""
    if target.admin is None:
        raise CheckSkipped("needs control of the provider's clock (a tokenmock's admin API)")
    token = target.token()
    try:
        seconds = lifetime(target)
    except CheckSkipped:  # no expires_in: a JWT's own exp, against the mock's clock
        seconds = _jwt_lifetime(target, token)
    step = seconds + 120
    from tokenmock.mockserver.controls.controller import ControlError

    try:
        target.admin.clock.advance(step)
    except (ControlError, requests.RequestException) as exc:
        raise CheckSkipped(f"the admin API refused to move the clock ({exc})") from None
    try:
        bearer_refused(target, token, "an expired bearer")
    finally:
        target.admin.clock.advance(-step)


def _jwt_lifetime(target: Target, token: str) -> int:
    import jwt

    try:
        expires = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        expires = None
    if not isinstance(expires, int | float):
        raise CheckSkipped(f"no expires_in and no JWT exp: {target.profile.lifetime_note}")
    return max(0, int(expires - target.admin.clock.now()))


# The checks that look inside tokens and at every answer register after these (their order is the report's).
from tokenmock.contracts.verify import exposure, tokens  # noqa: E402, F401
