"""Issue 14, findings 2 and 3: text no server can carry on never gets past the request parser.

Every JSON string field of every vendor's documented token and refresh request, replaced by a lone
surrogate (what a `"\\ud800"` escape decodes to) or text with NUL, gets the vendor's documented 400,
never a 500. The admin API refuses such values, and control characters, in every field (a client id, a
token to revoke, a fault's content type), so no admin call can break a vendor; a runtime client
registered without a secret does not authenticate with an empty one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.security.flows import VENDORS, Answer, basic, flask_http, login, refresh, tokens_of
from tests.security.hostile import CASES, ROUTES, Route, assert_refusal

UNENCODABLE = ["\ud800", "demo\udfff", "\udbff\ud800x", "a\x00b", "\x00"]
ADMIN_BAD = [*UNENCODABLE, "text/html\r\nX-Injected: 1", "a\nb", "a\rb", "\x1b[31m", "\x7f"]
# JSON string fields of the documented requests (Vision10 4, Dive 2 + 1, AminoTV 2 + 1), each value
# and as a nested key, times UNENCODABLE.
JSON_FIELDS = 10
EMPTY_SECRET_ATTEMPTS = 4


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def http(app: Flask) -> FlaskClient:
    return app.test_client()


class Captured:
    """An `Http` that records the request it was asked to send (to mutate it) and answers nothing."""

    def __init__(self) -> None:
        self.request: dict[str, Any] = {}

    def __call__(self, method: str, path: str, **kwargs: Any) -> Answer:
        self.request = {"method": method, "path": path, **kwargs}
        return Answer(200, {}, b"{}")


def documented_json_requests(http: FlaskClient) -> list[tuple[str, dict[str, Any]]]:
    """(vendor, request) for each vendor's token and refresh request that has a JSON body."""
    found = []
    for vendor in VENDORS:
        flows = [lambda h, v=vendor: login(v, h)]
        if vendor in ("divetv", "aminotv"):
            _, refresh_token = tokens_of(vendor, login(vendor, flask_http(http)))
            assert refresh_token is not None
            flows.append(lambda h, v=vendor, t=refresh_token: refresh(v, h, t))
        for flow in flows:
            captured = Captured()
            flow(captured)
            if "json" in str((captured.request.get("headers") or {}).get("Content-Type", "")):
                found.append((vendor, captured.request))
    return found


def route_of(method: str, path: str) -> Route:
    return next(r for r in ROUTES if r.method == method and r.path == path)


def test_unencodable_text_in_any_json_field_is_the_vendors_400(http: FlaskClient) -> None:
    send = flask_http(http)
    requests_ = documented_json_requests(http)
    assert {vendor for vendor, _ in requests_} == {"vision10", "divetv", "aminotv"}
    tried = 0
    for vendor, request in requests_:
        body = json.loads(request["data"])
        route = route_of(request["method"], request["path"])
        for field in body:
            for text in UNENCODABLE:
                for value, where in ((text, "value"), ({text: "x"}, "nested key")):
                    mutated = json.dumps({**body, field: value})  # ensure_ascii: "\ud800" on the wire
                    answer = send(
                        request["method"],
                        request["path"],
                        headers=request["headers"],
                        data=mutated,
                        params=request.get("params"),
                    )
                    tried += 1
                    assert answer.status == 400, (vendor, field, where, repr(text), answer.status, answer.body[:200])
                    assert_refusal(route, answer.status, answer.body, answer.headers)
        assert tokens_of(vendor, login(vendor, send))  # and the vendor still answers
    CASES["unencodable text"] += tried
    assert tried == JSON_FIELDS * 2 * len(UNENCODABLE)
    print(f"unencodable text: {tried} requests, every one the vendor's 400")


def admin(http: FlaskClient, method: str, path: str, body: Any) -> Any:
    return http.open(f"/__mock{path}", method=method, json=body)


ADMIN_CALLS: dict[str, Callable[[str], tuple[str, str, Any]]] = {
    "client_id": lambda t: (
        "POST",
        "/clients",
        {"vendor": "clickview", "client": {"client_id": t, "client_secret": "s"}},
    ),
    "client_secret": lambda t: (
        "POST",
        "/clients",
        {"vendor": "vision10", "client": {"client_id": "c", "client_secret": t}},
    ),
    "client field name": lambda t: ("POST", "/clients", {"vendor": "clickview", "client": {t: "x", "client_id": "c"}}),
    "username": lambda t: ("POST", "/clients", {"vendor": "aminotv", "client": {"username": t, "password": "p"}}),
    "revoke": lambda t: ("POST", "/revoke", {"token": t}),
    "content_type": lambda t: (
        "POST",
        "/faults",
        {"kind": "wrong_content_type", "vendor": "clickview", "times": 1, "params": {"content_type": t}},
    ),
    "chaos exclude": lambda t: ("PUT", "/chaos", {"seed": 1, "exclude": [t]}),
}

# Cases this module tries (the README quotes it; tests/security/test_readme_counts.py compares).
CASE_COUNT = JSON_FIELDS * 2 * len(UNENCODABLE) + len(ADMIN_CALLS) * len(ADMIN_BAD) + EMPTY_SECRET_ATTEMPTS


@pytest.mark.parametrize("field", sorted(ADMIN_CALLS))
def test_admin_refuses_control_text_and_no_vendor_breaks(http: FlaskClient, field: str) -> None:
    for text in ADMIN_BAD:
        method, path, body = ADMIN_CALLS[field](text)
        answer = admin(http, method, path, body)
        CASES["admin control text"] += 1
        assert answer.status_code == 400, (field, repr(text), answer.status_code)
        assert answer.get_json()["error"] == "invalid_request"
    send = flask_http(http)
    for vendor in VENDORS:
        assert login(vendor, send).status == 200, vendor  # nothing was registered or armed


def test_a_runtime_client_without_a_secret_does_not_authenticate_with_an_empty_one(http: FlaskClient) -> None:
    clients = {
        "clickview": {"client_id": "no-secret", "scopes": ["smartembed.viewkey"]},
        "junctiontv": {"client_id": "no-secret"},
        "vision10": {"client_id": "no-secret", "scopes": ["all"]},
    }
    for vendor, client in clients.items():  # refused at the door now: the config file's schema wants a secret
        refused = admin(http, "POST", "/clients", {"vendor": vendor, "client": client})
        assert refused.status_code == 400
        assert refused.get_json()["error_description"] == "client: 'client_secret' is required"
    empty_basic = {"Authorization": basic("no-secret:")}
    attempts = {
        "clickview Basic": http.post(
            "/clickview/connect/token",
            data={"grant_type": "client_credentials", "scope": "smartembed.viewkey"},
            headers=empty_basic,
        ),
        "clickview form": http.post(
            "/clickview/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "no-secret",
                "client_secret": "",
                "scope": "smartembed.viewkey",
            },
        ),
        "junctiontv Basic": http.post(
            "/junctiontv/ums/2.0/oauth/", headers={**empty_basic, "Content-Type": "application/x-www-form-urlencoded"}
        ),
        "vision10 JSON": http.post(
            "/vision10/v1/api/oauth/token",
            json={"grant_type": "client_credentials", "scope": "all", "client_id": "no-secret", "client_secret": ""},
        ),
    }
    for name, answer in attempts.items():
        CASES["empty secrets"] += 1
        assert answer.status_code in (400, 401, 404), (name, answer.status_code, answer.get_data()[:200])
    assert len(attempts) == EMPTY_SECRET_ATTEMPTS


def test_a_store_poisoned_before_the_fix_breaks_nothing(app: Flask, http: FlaskClient) -> None:
    """A surrogate client id or secret a store kept from an older version (finding 3: "across restarts")."""
    store = app.extensions["tokenmock"].store
    store.add_client("clickview", {"client_id": "\ud800", "client_secret": "\udfffsecret"})
    store.add_client("aminotv", {"username": "\ud800@example.com", "password": "pass\ud800word"})
    send = flask_http(http)
    for vendor in VENDORS:
        assert login(vendor, send).status == 200, vendor
    refused = http.post(
        "/clickview/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "x",
            "client_secret": "y",
            "scope": "smartembed.viewkey",
        },
    )
    assert refused.status_code in (400, 401)
    assert http.get("/__mock/requests").status_code == 200
