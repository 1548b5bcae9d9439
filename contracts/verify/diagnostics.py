"""Why a provider cannot be verified at all, in one line: before any check runs, verify sends the
documented token request once and names the URL and the likely cause of what went wrong.

Nothing listening, a name that does not resolve, a TLS handshake that fails, no complete answer in time,
an answer over the size cap, a 404 on the token path (the base URL is wrong), a 5xx, an answer that is
not JSON, or the credentials refused: each ends the run (exit 1) instead of a hundred identical
schemathesis errors and a page of follow-on failures.
"""

from __future__ import annotations

import socket
import ssl

import requests

from tokenmock.contracts.verify.guard import BodyTooLarge, ExchangeTimeout
from tokenmock.contracts.verify.target import Target, json_of, pointer


def _root_cause(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = (
            exc.__cause__
            or exc.__context__
            or (exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None)
        )
        reason = getattr(exc, "reason", None)
        if isinstance(reason, BaseException):
            inner = reason
        if inner is None:
            break
        exc = inner
    return exc


def _describe_transport(exc: requests.RequestException, url: str, seconds: float) -> str:
    cause = _root_cause(exc)
    text = f"{type(cause).__name__}: {cause}"
    if isinstance(exc, requests.exceptions.SSLError) or isinstance(cause, ssl.SSLError):
        return (
            f"TLS handshake with {url} failed ({text}): "
            "an https URL for a plain-http server, or a certificate this machine does not trust"
        )
    if isinstance(exc, BodyTooLarge):
        return f"{exc}: not a token answer; raise --max-body if it really is one"
    if isinstance(exc, ExchangeTimeout):
        return (
            f"no complete answer from {url} within {seconds:g} s (--timeout): the server is overloaded, "
            "stalled, dripping its answer or behind a firewall"
        )
    if isinstance(exc, requests.Timeout):
        return f"no answer from {url} within the timeout: the server is overloaded, stalled or behind a firewall"
    if isinstance(cause, socket.gaierror) or "Name or service not known" in text or "NameResolution" in text:
        return f"cannot resolve the host of {url} (DNS): check the host name in --base-url"
    if isinstance(cause, ConnectionRefusedError) or "Connection refused" in text:
        return f"nothing is listening at {url} (connection refused): is the server running, and the port right?"
    return f"cannot reach {url} ({text})"


def preflight(target: Target) -> str | None:
    """One clear line when the provider cannot be verified at all, else None (the run goes ahead)."""
    label = target.label(target.profile.token.operation_id)
    url = target.printable_base_url + label.split(" ", 1)[1]
    try:
        response, _ = target.token_answer()
    except requests.RequestException as exc:
        return _describe_transport(exc, url, target.budget.exchange)
    status = response.status_code
    if status in (404, 405) and not _documented_refusal(target, response):
        return (
            f"{label.split(' ')[0]} {url} answered {status}: no token endpoint there; is --base-url the vendor API's "
            f"base URL (for the mock: http://HOST:PORT/{target.vendor})?"
        )
    if status >= 500:
        return f"{url} answered {status}: the server failed (a server error, not a contract question); see its logs"
    if 300 <= status < 400:
        where = response.headers.get("Location", "?")
        return f"{url} answered {status} redirecting to {where}: a proxy or login page, or http instead of https?"
    body = json_of(response)
    if body is None:
        kind = response.headers.get("Content-Type", "no Content-Type")
        if status in (400, 401, 403):
            return _refused_credentials(target, label, url, status, None)
        return f"{url} answered {status} with {kind}, not JSON: a web page or proxy rather than the token API?"
    if status in (400, 401, 403):
        return _refused_credentials(target, label, url, status, pointer(body, target.profile.code_pointer))
    return None


def _refused_credentials(target: Target, label: str, url: str, status: int, code: object) -> str:
    """The one line for credentials the provider refuses: every later check would fail for that reason."""
    said = f" ({code})" if isinstance(code, str | int) and len(str(code)) <= 60 else ""
    names = sorted({*target.profile.token.header_credentials, *_named(target.profile.token.body)})
    options = ", ".join("--" + name.replace("_", "-") for name in names)
    return (
        f"the provider refused the credentials: {label.split(' ')[0]} {url} answered {status}{said}; "
        f"check the credentials ({options}); nothing else was run"
    )


def _named(fields: object) -> set[str]:
    import string

    return {
        name
        for value in dict(fields).values()  # type: ignore[call-overload]
        for _, name, _, _ in string.Formatter().parse(str(value))
        if name
    }


def _documented_refusal(target: Target, response: requests.Response) -> bool:
    """A 404 in the vendor's documented 404 shape (JunctionTV answers invalid calls 404) is the API's own."""
    from tokenmock import contracts
    from tokenmock.contracts.errors import Violation

    try:
        contracts.validate_response(
            target.vendor, target.profile.token.operation_id, response.status_code, response.content
        )
    except (Violation, ValueError):
        return False
    return True
