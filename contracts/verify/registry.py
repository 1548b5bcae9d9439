"""The registry of behaviour checks and the helpers they share: is an answer documented, is a refusal
the documented one, where is the resource, what is the token's lifetime.

A check is a plain function of the `Target`, registered with `@behaviour_check(role)`, that returns
when the provider behaves as its contract and register say, raises `CheckFailed` naming the rule it
broke, or `CheckSkipped` with the reason it cannot run here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import requests

from tokenmock import contracts
from tokenmock.contracts.errors import Violation
from tokenmock.contracts.verify.profiles import Refusal
from tokenmock.contracts.verify.target import CheckFailed, CheckSkipped, Target, json_of, pointer


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


def conforms(target: Target, operation_id: str, response: requests.Response, what: str) -> None:
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


def refused(target: Target, operation_id: str, response: requests.Response, refusal: Refusal, what: str) -> None:
    """The answer is a refusal with a status, shape and error code the contract documents."""
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
    conforms(target, operation_id, response, f"{what} refused")
    code = pointer(json_of(response), target.profile.code_pointer)
    if refusal.codes and code not in refusal.codes:
        raise CheckFailed(
            f"{what} refused with the wrong error code",
            f"{target.profile.code_pointer} is {code!r}; "
            f"expected {' or '.join(sorted(refusal.codes))} ({refusal.source})",
            status=status,
        )


def lifetime(target: Target) -> int:
    """The token answer's expires_in; CheckSkipped where the vendor sends none."""
    response, _ = target.token_answer()
    where = target.profile.lifetime_pointer
    if where is None:
        raise CheckSkipped(target.profile.lifetime_note)
    value = pointer(json_of(response), where)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CheckFailed("expires_in is not a number", f"{where} is {value!r}", status=response.status_code)
    return int(value)


def resource_reason(target: Target) -> str | None:
    """None when a protected resource can be asked; else why the resource checks are skipped."""
    if target.resource_url is not None:
        return None
    why = target.serves(target.profile.resource_operation)
    return None if why is None else f"{why}; give --resource URL (a protected URL of yours) to check one"


def resource(target: Target, token: str) -> requests.Response:
    """The protected resource asked with a bearer: `--resource` where given, else the contract's."""
    reason = resource_reason(target)
    if reason is not None:
        raise CheckSkipped(reason)
    headers = {"Authorization": f"Bearer {token}"}
    if target.resource_url is not None:
        return target.exchange(requests.Request("GET", target.resource_url, headers=headers))
    return target.send(target.profile.resource_operation, headers=headers)


def bearer_refused(target: Target, token: str, what: str) -> None:
    """The resource refuses the bearer with 401 and a Bearer challenge (RFC 6750 §3.1); the body, when
    there is one, in the documented shape (RFC 6750 §3 allows none: the challenge says it all)."""
    response = resource(target, token)
    status = response.status_code
    if 200 <= status < 300:
        raise CheckFailed(f"{what} accepted", f"answered {status}; it must be refused", status=status)
    if status != 401:
        raise CheckFailed(
            f"{what} refused with the wrong status", f"answered {status}; RFC 6750 §3.1 says 401", status=status
        )
    if "bearer" not in response.headers.get("WWW-Authenticate", "").lower():
        raise CheckFailed(
            f"{what} refused without a Bearer challenge", "no WWW-Authenticate: Bearer (RFC 6750 §3)", status=401
        )
    if response.content.strip() and target.resource_url is None:
        conforms(target, target.profile.resource_operation, response, f"{what} refused")


def refresh_token(target: Target) -> str:
    """The refresh token of the documented flow; CheckSkipped where the vendor has no refresh."""
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
