"""Behaviour checks: what a token server must *do*, beyond answering in the right shape.

Plain functions in a registry, as schemathesis' checks are: each takes the `Target` and returns when the
provider behaves as its contract and register say, raises `CheckFailed` naming the rule it broke, or
`CheckSkipped` with the reason it cannot run here (no refresh flow, no control of the provider's clock).
What each vendor documents lives in `profiles.py`; nothing here names a vendor.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import requests

from tokenmock import contracts
from tokenmock.contracts.errors import Violation
from tokenmock.contracts.verify.profiles import PROFILES, Refusal
from tokenmock.contracts.verify.target import CheckFailed, CheckSkipped, Target, demo_credentials, json_of, pointer

# An access token that lives longer than this is not "sane" (a year and a day, in seconds).
MAX_LIFETIME = 366 * 24 * 3600


@dataclass(frozen=True)
class BehaviourCheck:
    """A registered check: its name, the operation it is about ("token", "resource", "refresh")."""

    name: str
    role: str
    run: Callable[[Target], None]


BEHAVIOUR_CHECKS: dict[str, BehaviourCheck] = {}


def behaviour_check(role: str) -> Callable[[Callable[[Target], None]], Callable[[Target], None]]:
    """Register a check under its function name."""

    def register(function: Callable[[Target], None]) -> Callable[[Target], None]:
        BEHAVIOUR_CHECKS[function.__name__] = BehaviourCheck(function.__name__, role, function)
        return function

    return register


def operation_of(target: Target, role: str) -> str:
    """The operationId a role names for the target's vendor."""
    profile = target.profile
    if role == "resource":
        return profile.resource_operation
    if role == "refresh" and profile.refresh is not None:
        return profile.refresh.operation_id
    return profile.token.operation_id


def checks_for(vendor: str) -> Iterator[BehaviourCheck]:
    """Every registered check (refusal checks included), in registration order."""
    assert vendor in PROFILES
    yield from BEHAVIOUR_CHECKS.values()


# Helpers.


def _conforms(target: Target, operation_id: str, response: requests.Response, what: str) -> None:
    """The response is documented by the contract for its status, in shape and headers."""
    try:
        contracts.validate_response(
            target.vendor, operation_id, response.status_code, response.content, dict(response.headers)
        )
    except Violation as violation:
        raise CheckFailed(
            f"{what} in an undocumented shape",
            f"{response.status_code} answer breaks the contract: {violation}",
            status=response.status_code,
        ) from None


def _refused(target: Target, operation_id: str, response: requests.Response, refusal: Refusal, what: str) -> None:
    status = response.status_code
    if 200 <= status < 300:
        raise CheckFailed(f"{what} accepted", f"answered {status}; it must be refused", status=status)
    if status not in refusal.statuses:
        expected = " or ".join(map(str, sorted(refusal.statuses)))
        raise CheckFailed(
            f"{what} refused with the wrong status",
            f"answered {status}; the contract documents {expected} ({refusal.source})",
            status=status,
        )
    _conforms(target, operation_id, response, f"{what} refused")
    code = pointer(json_of(response), target.profile.code_pointer)
    if refusal.codes and code not in refusal.codes:
        raise CheckFailed(
            f"{what} refused with the wrong error code",
            f"{target.profile.code_pointer} is {code!r}; "
            f"expected {' or '.join(sorted(refusal.codes))} ({refusal.source})",
            status=status,
        )


def _lifetime(target: Target) -> int:
    response, _ = target.token_answer()
    where = target.profile.lifetime_pointer
    if where is None:
        raise CheckSkipped(target.profile.lifetime_note)
    value = pointer(json_of(response), where)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CheckFailed("expires_in is not a number", f"{where} is {value!r}", status=response.status_code)
    return int(value)


def _resource(target: Target, token: str) -> requests.Response:
    return target.send(target.profile.resource_operation, headers={"Authorization": f"Bearer {token}"})


def _bearer_refused(target: Target, token: str, what: str) -> None:
    response = _resource(target, token)
    refusal = Refusal({}, frozenset({401}), source="RFC 6750 §3.1")
    _refused(target, target.profile.resource_operation, response, refusal, what)
    if "bearer" not in response.headers.get("WWW-Authenticate", "").lower():
        raise CheckFailed(
            f"{what} refused without a Bearer challenge", "no WWW-Authenticate: Bearer (RFC 6750 §3)", status=401
        )


def _refresh_token(target: Target) -> str:
    profile = target.profile
    if profile.refresh is None or profile.refresh_pointer is None:
        raise CheckSkipped("the vendor documents no refresh flow")
    response, _ = target.token_answer()
    value = pointer(json_of(response), profile.refresh_pointer)
    if not isinstance(value, str):
        raise CheckFailed(
            "no refresh token", f"the token answer has no {profile.refresh_pointer}", status=response.status_code
        )
    return value


# The documented flow.


@behaviour_check("token")
def token_flow_works(target: Target) -> None:
    """The documented token request, with valid credentials, answers 200 with a token, as documented."""
    response, token = target.token_answer()
    if response.status_code != 200:
        raise CheckFailed(
            "documented token request refused", f"answered {response.status_code}", status=response.status_code
        )
    _conforms(target, target.profile.token.operation_id, response, "token answer")
    if not isinstance(token, str) or not token:
        raise CheckFailed("no access token", f"nothing at {target.profile.token_pointer}", status=200)


@behaviour_check("resource")
def token_opens_resource(target: Target) -> None:
    """The issued token opens the documented protected resource."""
    response = _resource(target, target.token())
    if response.status_code != 200:
        raise CheckFailed(
            "issued token refused at the resource", f"answered {response.status_code}", status=response.status_code
        )
    _conforms(target, target.profile.resource_operation, response, "resource answer")


@behaviour_check("token")
def expires_in_sane(target: Target) -> None:
    """expires_in is a positive number of seconds, at most a year and a day."""
    lifetime = _lifetime(target)
    if not 0 < lifetime <= MAX_LIFETIME:
        raise CheckFailed("expires_in is not sane", f"{lifetime} s (expected 1 to {MAX_LIFETIME})", status=200)


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
        _refused(target, target.profile.token.operation_id, response, refusal, what)

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
    _bearer_refused(target, "tokenmock-verify-" + secrets.token_hex(8), "a garbage bearer")


@behaviour_check("resource")
def tampered_bearer_refused(target: Target) -> None:
    """The issued token with one character changed in the middle is refused."""
    token = target.token()
    middle = len(token) // 2
    replacement = "A" if token[middle] != "A" else "B"
    _bearer_refused(target, token[:middle] + replacement + token[middle + 1 :], "a tampered bearer")


@behaviour_check("resource")
def foreign_bearer_refused(target: Target) -> None:
    """A token another issuer signed (another vendor of a tokenmock, else one signed with a key of ours)
    is refused."""
    _bearer_refused(target, _foreign_token(target), "another issuer's bearer")


def _foreign_token(target: Target) -> str:
    import jwt

    for name, entry in target.others.items():
        other = Target(name, str(entry["base_url"]), demo_credentials(name), timeout=target.timeout)
        _, token = other.token_answer()
        if isinstance(token, str):
            return token
    now = int(time.time())
    claims = {"iss": "https://tokenmock-verify.invalid", "sub": "someone", "iat": now, "exp": now + 3600}
    with contextlib.suppress(jwt.PyJWTError, CheckFailed):  # the provider's own claims, a key it does not know
        claims = {**jwt.decode(target.token(), options={"verify_signature": False}), "exp": now + 3600}
    return jwt.encode(claims, secrets.token_bytes(32), algorithm="HS256")


# Refresh.


@behaviour_check("refresh")
def refresh_works(target: Target) -> None:
    """Where the vendor has refresh, the refresh token gets a new access token that opens the resource."""
    refresh = _refresh_token(target)
    assert target.profile.refresh is not None
    response = target.request_token(target.profile.refresh, refresh_token=refresh)
    if response.status_code != 200:
        raise CheckFailed("refresh refused", f"answered {response.status_code}", status=response.status_code)
    _conforms(target, target.profile.refresh.operation_id, response, "refresh answer")
    token = pointer(json_of(response), target.profile.token_pointer)
    if not isinstance(token, str) or _resource(target, token).status_code != 200:
        raise CheckFailed("refreshed token does not open the resource", "the new access token was refused", status=200)


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
        _conforms(target, profile.refresh.operation_id, second, "reused refresh token refused")
        return
    refusal = profile.reuse_refusal or Refusal({}, frozenset({400, 401}), source=f"{entry} {reading}")
    _refused(target, profile.refresh.operation_id, second, refusal, "a reused refresh token")


# Expiry: needs the provider's clock.


@behaviour_check("resource")
def expired_token_refused(target: Target) -> None:
    """Once expires_in has passed (the mock's clock moved past it), the token is refused."""
    if target.admin is None:
        raise CheckSkipped("needs control of the provider's clock (a tokenmock's admin API)")
    token = target.token()
    try:
        lifetime = _lifetime(target)
    except CheckSkipped:  # no expires_in: a JWT's own exp, against the mock's clock
        lifetime = _jwt_lifetime(target, token)
    step = lifetime + 120
    from tokenmock.mockserver.controls.controller import ControlError

    try:
        target.admin.clock.advance(step)
    except (ControlError, requests.RequestException) as exc:
        raise CheckSkipped(f"the admin API refused to move the clock ({exc})") from None
    try:
        _bearer_refused(target, token, "an expired bearer")
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
