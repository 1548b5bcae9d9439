"""Behaviour checks on what a provider's answers give away or promise: never the client's secret, never
a scope wider than asked, error items that carry the real status, token answers that are not cached.
`no_secret_in_answers` registers last, so it sees every answer the other checks provoked.
"""

from __future__ import annotations

import hashlib
from typing import Any

from tokenmock.contracts.verify.profiles import WRONG
from tokenmock.contracts.verify.registry import behaviour_check
from tokenmock.contracts.verify.target import CheckFailed, CheckSkipped, CheckWarning, Target, json_of, pointer
from tokenmock.contracts.verify.tokens import jws_parts
from tokenmock.redaction import MIN_SCRUBBED, secret_forms

# A scope no provider allows: asked for next to the real one, it must be refused or left out.
UNKNOWN_SCOPE = "tokenmock-verify-unknown-scope"
SECRET_CREDENTIALS = ("client_secret", "password", "client_key", "session")


def _scopes(value: Any) -> set[str] | None:
    if isinstance(value, str):
        return set(value.split())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return set(value)
    return None


def _granted(answer: Any, token: Any) -> set[str] | None:
    """The scope an answer grants: its `scope` member, else the JWT's scope claim, else None (unsaid)."""
    found = _scopes(answer.get("scope")) if isinstance(answer, dict) else None
    if found is None and isinstance(token, str) and (parts := jws_parts(token)) is not None:
        found = _scopes(parts[1].get("scope"))
    return found


@behaviour_check("token")
def scope_not_widened(target: Target) -> None:
    """The granted scope is never wider than the one asked for, and a scope no one allows is refused
    or left out of the grant (RFC 6749 §3.3), unless the reading in force grants any scope asked for."""
    name = target.profile.scope_credential
    if name is None or not target.credentials.get(name):
        raise CheckSkipped("the token request asks for no scope")
    asked = set(target.credentials[name].split())
    response, token = target.token_answer()
    granted = _granted(json_of(response), token)
    if granted is not None and not granted <= asked:
        raise CheckFailed(
            "granted a scope wider than asked",
            f"asked for {sorted(asked)}, granted {sorted(granted)}",
            status=response.status_code,
        )
    lenient = target.profile.any_scope_under
    if lenient is not None and target.reading(lenient[0]) == lenient[1]:
        return  # under that reading any scope asked for is granted: asked, not widened
    wider = target.request_token(target.profile.token, {name: f"{target.credentials[name]} {UNKNOWN_SCOPE}"})
    if not 200 <= wider.status_code < 300:
        return  # refused (invalid_scope, or the vendor's code for it)
    answer = json_of(wider)
    granted = _granted(answer, pointer(answer, target.profile.token_pointer))
    if granted is None:
        raise CheckFailed(
            "granted a scope no one allows",
            f"asked for {UNKNOWN_SCOPE!r} as well and got a token without a scope member, which means the "
            "scope asked for (RFC 6749 §5.1)",
            status=wider.status_code,
        )
    if UNKNOWN_SCOPE in granted or not granted <= asked | {UNKNOWN_SCOPE}:
        raise CheckFailed(
            "granted a scope no one allows", f"asked for {UNKNOWN_SCOPE!r}, granted {sorted(granted)}", status=200
        )


@behaviour_check("token")
def error_status_matches_http(target: Target) -> None:
    """Where the vendor's error items repeat the HTTP status (Vision10's `status`), they repeat it right."""
    where = target.profile.error_status_pointer
    if where is None:
        raise CheckSkipped("the vendor's errors do not repeat the HTTP status")
    target.request_token(target.profile.token, {"client_secret": WRONG})
    for response in target.seen:
        if response.status_code < 400:
            continue
        stated = pointer(json_of(response), where)
        if stated is not None and stated != response.status_code:
            raise CheckFailed(
                "error status differs from the HTTP status",
                f"{where} is {stated!r} in a {response.status_code} answer to {response.request.method} "
                f"{response.request.path_url.split('?')[0]}",
                status=response.status_code,
            )


@behaviour_check("token")
def token_answer_not_cached(target: Target) -> None:
    """A token answer carries `Cache-Control: no-store` (RFC 6749 §5.1): a warning, a failure under --strict."""
    response, _ = target.token_answer()
    if response.status_code != 200:
        raise CheckSkipped(f"no token answer to look at (HTTP {response.status_code})")
    directives = {d.strip().lower() for d in response.headers.get("Cache-Control", "").split(",")}
    if "no-store" in directives:
        return
    got = response.headers.get("Cache-Control")
    message = f"Cache-Control is {got!r}; RFC 6749 §5.1 requires no-store on token answers"
    if target.strict:
        raise CheckFailed("token answer may be cached", message, status=200)
    raise CheckWarning(message)


def secret_spellings(target: Target) -> dict[str, set[str]]:
    """credential name -> every spelling of it a response must not contain (long enough to tell)."""
    found: dict[str, set[str]] = {}
    for name in SECRET_CREDENTIALS:
        value = target.credentials.get(name)
        if not value or len(value) < MIN_SCRUBBED:
            continue
        found[name] = secret_forms(value)
        for transform_name, transform in target.profile.token.wire.items():
            if transform_name == name:
                found[name] |= secret_forms(transform(value))
        if name == "password":
            found[name].add(hashlib.md5(value.encode()).hexdigest())  # noqa: S324 - Dive's wire form of it
    return found


@behaviour_check("token")
def no_secret_in_answers(target: Target) -> None:
    """No answer the run provoked contains the client's secret or password, in any spelling (raw,
    form- or JSON-escaped, Base64 as in Basic, Dive's MD5), in its body or headers."""
    spellings = secret_spellings(target)
    if not spellings:
        raise CheckSkipped(f"no secret of {MIN_SCRUBBED} characters or more to look for")
    if not target.seen:
        target.token_answer()
    for response in list(target.seen):
        text = (
            response.content.decode("utf-8", "replace")
            + "\n"
            + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        )
        for name, forms in spellings.items():
            if any(form in text for form in forms):
                raise CheckFailed(
                    "a secret is echoed",
                    f"the {name} (in one of its spellings) is in the {response.status_code} answer to "
                    f"{response.request.method} {response.request.path_url.split('?')[0]}",
                    status=response.status_code,
                )
