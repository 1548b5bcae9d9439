"""Issue 14, finding 13: the journal and the log mask every value the mock knows to be secret, wherever it is.

Masking by name misses a secret in a field or header not named like one: a JunctionTV token (opaque, not
JWT-shaped) in a Referer, a custom header, a query, a path or another body field; a configured or
runtime-registered secret or password pasted anywhere, raw or URL-encoded. On top of the name rules, the
mock masks the tokens it issues (by their shapes) and every secret value it knows. `pass` and `Cookie2`
are named like secrets too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from urllib.parse import quote, quote_plus

import pytest
from flask import Flask

from tests.security.flows import VENDORS, flask_http, login, md5_hex, tokens_of
from tests.security.hostile import CASES

RUNTIME_SECRET = "runtime secret+with/odd&chars"
# Cases: every secret (5 issued tokens, the configured ones, one registered at runtime) in every placement.
PLACEMENTS = 9
CASE_COUNT = (5 + 6 + 1) * PLACEMENTS
CONFIGURED = [
    "demo-secret",
    "demo-password",
    "demo-client-key",
    "demo-session",
    md5_hex("demo-password"),
    "admin-t0ken",
]


def placements(secret: str) -> list[tuple[str, dict[str, object]]]:
    """(where, request keywords) putting `secret` somewhere no name rule looks."""
    return [
        ("Referer", {"headers": {"Referer": f"http://app.example/cb?t={quote_plus(secret)}"}}),
        ("Referer, percent-encoded", {"headers": {"Referer": f"http://app.example/cb?t={quote(secret, safe='')}"}}),
        ("custom header", {"headers": {"X-Debug-Note": f"sent {secret} here"}}),
        ("query", {"query_string": {"q": secret}}),
        ("query name", {"query_string": {secret: "1"}}),
        ("path", {"path": f"/clickview/api/v1/{quote(secret, safe='')}"}),
        ("form field", {"data": {"note": secret}}),
        ("field named pass", {"data": {"pass": "hunter2-x"}}),
        ("Cookie2", {"headers": {"Cookie2": "hunter2-cookie"}}),
    ]


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(admin_token="admin-t0ken", access_log=True)


def test_known_secrets_are_masked_wherever_they_appear(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    http = app.test_client()
    admin = {"Authorization": "Bearer admin-t0ken"}
    registered = http.post(
        "/__mock/clients",
        json={"vendor": "clickview", "client": {"client_id": "ci", "client_secret": RUNTIME_SECRET}},
        headers=admin,
    )
    assert registered.status_code == 201
    issued = [tokens_of(vendor, login(vendor, flask_http(http)))[0] for vendor in VENDORS]
    secrets = [*issued, *CONFIGURED, RUNTIME_SECRET]
    caplog.set_level(logging.INFO, logger="tokenmock.access")
    sent = 0
    for secret in secrets:
        for _where, options in placements(secret):
            path = str(options.pop("path", "/clickview/connect/token"))
            http.open(path, method="POST" if "data" in options else "GET", **options)  # type: ignore[arg-type]
            sent += 1
    journal = json.dumps(http.get("/__mock/requests", headers=admin).get_json())
    log = "\n".join(record.getMessage() for record in caplog.records)
    leaked = []
    for secret in [*secrets, "hunter2-x", "hunter2-cookie"]:
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            if form in journal:
                leaked.append(("journal", secret[:24]))
            if form in log:
                leaked.append(("log", secret[:24]))
    CASES["secrets placed"] += sent
    assert sent == CASE_COUNT and len(placements("x")) == PLACEMENTS
    print(f"secrets placed: {sent} requests, {len(secrets)} secrets, {len(leaked)} leaks")
    assert not leaked, leaked
    assert "***" in journal


def test_short_known_secrets_are_not_masked_everywhere(make_app: Callable[..., Flask]) -> None:
    """A one-letter secret would hide every `s` in the journal: short ones are masked by name only."""
    http = make_app(vendors={"clickview": {"clients": [{"client_id": "c", "client_secret": "s"}]}}).test_client()
    http.get("/clickview/api/v1/example", headers={"X-Note": "sss"})
    entry = http.get("/__mock/requests").get_json()["requests"][-1]
    assert entry["headers"]["X-Note"] == "sss"
