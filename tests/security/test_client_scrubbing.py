"""The client scrubs its secrets in every encoding a server may echo them in (issue 14, #6).

A server that echoes the request puts a secret into its error text as the client sent it: form-encoded
(`secret+with+spaces`), percent-encoded, JSON-escaped, base64 inside a Basic header, or as the server
decoded it. None of these may reach `str()`, `repr()`, the exception's args or a formatted traceback.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import traceback
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from flask import Flask, request

from tests.conftest import LiveServer
from tokenmock.client import CLIENTS, TokenClient, TokenError
from tokenmock.client.errors import MIN_SCRUBBED, scrub

SECRET = 'Canary s3cret+"q"\\/%&=é'  # a space, a plus, quotes, a backslash, a slash, % & =, non-ASCII
KEY = 'Canary key+"q"\\/%&='  # Dive sends its key raw in a header: Latin-1 only
OAUTH_TEXT = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]*")
VENDORS = ("junctiontv", "clickview", "vision10", "divetv", "aminotv")


def spellings(secret: str) -> set[str]:
    """How a secret looks after each encoding a server may apply (written out here, not taken from the code)."""
    raw = secret.encode("utf-8")
    return {
        secret,
        quote_plus(secret),
        quote(secret, safe=""),
        re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote(secret, safe="")),  # lower-case hex
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        base64.b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
    }


def held_secrets(vendor: str) -> list[str]:
    """What each client holds that must never be seen: the credentials and what is derived from them."""
    return {
        "junctiontv": [SECRET, base64.b64encode(f"demo-client:{SECRET}".encode()).decode()],
        "clickview": [SECRET],
        "vision10": [SECRET],
        "divetv": [KEY, hashlib.md5(SECRET.encode(), usedforsecurity=False).hexdigest()],
        "aminotv": [SECRET],
    }[vendor]


def make_client(vendor: str, base_url: str) -> TokenClient:
    arguments: dict[str, Any] = {
        "junctiontv": {"client_id": "demo-client", "client_secret": SECRET},
        "clickview": {"client_id": "demo-client", "client_secret": SECRET},
        "vision10": {"client_id": "demo-client", "client_secret": SECRET},
        "divetv": {"client_key": KEY, "username": "demo-user", "password": SECRET},
        "aminotv": {"username": "demo@example.com", "password": SECRET},
    }[vendor]
    return CLIENTS[vendor](**arguments, base_url=base_url, sleep=lambda _s: None)


def _values_sent() -> Iterator[str]:
    """Every value of the request, decoded as a server would (form, JSON, query, Basic, cookies)."""
    yield from request.form.values()
    yield from request.args.values()
    yield from request.cookies.values()
    body = request.get_json(silent=True, force=True)
    if isinstance(body, dict):
        yield from (v for v in body.values() if isinstance(v, str))
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if credentials:
        yield credentials
        if scheme.lower() == "basic":
            with contextlib.suppress(ValueError):
                yield from base64.b64decode(credentials, validate=True).decode().split(":", 1)


def echo_text() -> str:
    """The request as it came, then each value sent in every encoding."""
    parts = [f"echo: {request.method} {request.full_path}", str(request.headers), request.get_data(as_text=True)]
    for value in _values_sent():
        raw = value.encode("utf-8")
        parts += [value, quote_plus(value), quote(value, safe=""), json.dumps(value)[1:-1], repr(value)]
        parts += [base64.b64encode(raw).decode()]
    return " | ".join(parts)


def refusal(path: str, text: str) -> tuple[Any, str]:
    """A 401 in the shape of the vendor whose token path was called, quoting `text`."""
    if "ums/2.0/oauth" in path:
        return {"result": "error", "message": "UNAUTHORIZED", "reason": text}, "application/json"
    if "oauth/token" in path:
        problem = {"detail": text, "errorCode": "240101", "instance": "/", "invalid-params": [text],
                   "source": "AGT", "status": 401, "title": "Unauthorized"}  # fmt: skip
        return [problem], "application/json"
    if path.startswith("auth/"):
        error = {"status": "401", "code": "invalid_credentials", "title": "Invalid credentials", "detail": text}
        return {"errors": [error]}, "application/vnd.api+json"
    # RFC 6749 §5.2: error_description is printable ASCII without `"` and `\`; keep the parts that are.
    allowed = " | ".join(part for part in text.split(" | ") if OAUTH_TEXT.fullmatch(part))
    return {"error": "invalid_client", "error_description": allowed}, "application/json"


@pytest.fixture
def echo(serve: Callable[[Flask], LiveServer]) -> str:
    app = Flask("echo")

    @app.route("/<path:anything>", methods=["GET", "POST"])
    def refuse(anything: str) -> Any:
        body, media = refusal(anything, echo_text())
        return app.response_class(json.dumps(body), status=401, mimetype=media,
                                  headers={"WWW-Authenticate": 'Basic realm="echo"'})  # fmt: skip

    return serve(app).url


def everything_shown(error: BaseException) -> str:
    return " ".join([str(error), repr(error), *map(str, error.args), *traceback.format_exception(error)])


@pytest.mark.parametrize("vendor", VENDORS)
def test_an_echoed_secret_is_scrubbed_in_every_encoding(vendor: str, echo: str) -> None:
    client = make_client(vendor, echo)
    with pytest.raises(TokenError) as refused:
        client.token()
    shown = everything_shown(refused.value)
    assert "echo: POST" in shown  # the server's text did come through
    leaked = {form for secret in held_secrets(vendor) for form in spellings(secret) if form in shown}
    assert leaked == set()


@pytest.mark.parametrize("form", sorted(spellings(SECRET)))
def test_scrub_cuts_each_spelling_and_leaves_the_rest(form: str) -> None:
    assert scrub(f"before {form} after", [SECRET]) == "before [redacted] after"


def test_scrub_leaves_short_secrets_and_other_text_alone() -> None:
    assert scrub("tab about", ["ab"]) == "tab about"
    assert scrub("x" + "a" * MIN_SCRUBBED + "y", ["a" * MIN_SCRUBBED]) == "x[redacted]y"
    assert scrub("nothing to hide", [SECRET, None]) == "nothing to hide"
