"""Issue 14, finding 8: the loopback admin API cannot be reached through DNS rebinding or a cross-site page.

Without an admin token the admin API trusts loopback peers, and a browser is a loopback peer: a page at
attacker.example that re-resolves its name to 127.0.0.1 sends `Host: attacker.example`, and any page can
POST text/plain or a form anywhere without asking. So the admin API answers only Host values that name
this server, refuses requests a browser marks cross-site, and takes state changes only as JSON (a JSON
content type makes the browser ask first, a CORS preflight the mock never grants).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from tests.security.hostile import CASES

STATE_CHANGES = [
    ("POST", "/__mock/reset"),
    ("POST", "/__mock/clock"),
    ("POST", "/__mock/faults"),
    ("POST", "/__mock/clients"),
    ("POST", "/__mock/revoke"),
    ("PUT", "/__mock/chaos"),
]
READS = [("GET", "/__mock/requests"), ("GET", "/__mock/clock"), ("GET", "/__mock/faults")]
FOREIGN_HOSTS = [
    "rebind.attacker.example",
    "rebind.attacker.example:8080",
    "127.0.0.1.attacker.example",
    "localhost.attacker.example",
    "10.0.0.5",
    "[::ffff:10.0.0.5]:80",
    "localhost:80x",
    "",
]
OWN_HOSTS = ["127.0.0.1", "127.0.0.1:8080", "localhost", "localhost:21005", "[::1]:8080", "app.localhost", "127.0.0.2"]


def test_only_hosts_that_name_this_server_are_answered(make_app: Callable[..., Flask]) -> None:
    http = make_app().test_client()
    for host in FOREIGN_HOSTS:
        for method, path in READS + STATE_CHANGES:
            CASES["admin guard"] += 1
            answer = http.open(path, method=method, json={}, headers={"Host": host})
            assert answer.status_code == 403, (host, method, path, answer.status_code)
            assert answer.get_json()["error"] == "access_denied"
    for host in OWN_HOSTS:
        CASES["admin guard"] += 1
        assert http.get("/__mock/clock", headers={"Host": host}).status_code == 200, host


def test_configured_admin_hosts_are_answered(make_app: Callable[..., Flask]) -> None:
    http = make_app(admin_hosts=["mock.ci"]).test_client()
    assert http.get("/__mock/clock", headers={"Host": "mock.ci:8080"}).status_code == 200
    assert http.get("/__mock/clock", headers={"Host": "MOCK.CI"}).status_code == 200
    assert http.get("/__mock/clock", headers={"Host": "other.ci"}).status_code == 403


def test_a_token_guarded_mock_served_beyond_loopback_answers_its_public_name(make_app: Callable[..., Flask]) -> None:
    http = make_app(exposed=True, admin_token="t0ken").test_client()
    answer = http.get("/__mock/clock", headers={"Host": "mock.ci:8080", "Authorization": "Bearer t0ken"})
    assert answer.status_code == 200


CROSS_SITE = [
    {"Origin": "http://attacker.example"},
    {"Origin": "null"},
    {"Origin": "http://localhost:3000"},
    {"Origin": "https://localhost"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost"},
]


TOKENS = [None, "t0ken"]


@pytest.mark.parametrize("token", TOKENS)
def test_cross_site_requests_are_refused(make_app: Callable[..., Flask], token: str | None) -> None:
    http = make_app(admin_token=token).test_client()
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    http.post("/__mock/faults", json={"kind": "status", "params": {"status": 503}}, headers=auth)
    for headers in CROSS_SITE:
        for method, path in READS + STATE_CHANGES:
            CASES["admin guard"] += 1
            answer = http.open(path, method=method, json={}, headers={**auth, **headers})
            assert answer.status_code == 403, (headers, method, path, answer.status_code)
    assert len(http.get("/__mock/faults", headers=auth).get_json()["faults"]) == 1  # nothing was reset
    same = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    assert http.get("/__mock/clock", headers={**auth, **same}).status_code == 200


SIMPLE_CONTENT_TYPES = [
    None,
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "text/json",
]


def test_state_changes_need_a_json_content_type(make_app: Callable[..., Flask]) -> None:
    http = make_app().test_client()
    http.post("/__mock/faults", json={"kind": "status", "params": {"status": 503}})
    for content_type in SIMPLE_CONTENT_TYPES:
        headers = {"Content-Type": content_type} if content_type else {}
        for method, path in STATE_CHANGES:
            CASES["admin guard"] += 1
            answer = http.open(path, method=method, data=b"{}", headers=headers)
            assert answer.status_code == 415, (content_type, method, path, answer.status_code)
    assert len(http.get("/__mock/faults").get_json()["faults"]) == 1  # the text/plain reset did nothing
    assert http.post("/__mock/reset", headers={"Content-Type": "application/json"}).status_code == 204
    assert http.post("/__mock/reset", json={}).status_code == 204
    assert http.get("/__mock/faults").get_json()["faults"] == []


ENV_TOKENS = ["0123", "no", "null", "1e3", "off"]
# Cases this module tries (the README quotes it; tests/security/test_readme_counts.py compares).
CASE_COUNT = (
    len(FOREIGN_HOSTS) * len(READS + STATE_CHANGES)
    + len(OWN_HOSTS)
    + len(TOKENS) * len(CROSS_SITE) * len(READS + STATE_CHANGES)
    + len(SIMPLE_CONTENT_TYPES) * len(STATE_CHANGES)
    + len(ENV_TOKENS) * 3
)


@pytest.mark.parametrize("value", ENV_TOKENS)
def test_an_admin_token_from_the_environment_is_the_text_given(
    monkeypatch: pytest.MonkeyPatch, make_app: Callable[..., Flask], value: str
) -> None:
    """Finding 9: `TOKENMOCK__ADMIN_TOKEN=0123` was the token 83, and `=no` opened the admin API."""
    monkeypatch.setenv("TOKENMOCK__ADMIN_TOKEN", value)
    http = make_app().test_client()
    CASES["admin guard"] += 3
    assert http.get("/__mock/clock").status_code == 401
    assert http.get("/__mock/clock", headers={"Authorization": "Bearer 83"}).status_code == 401
    assert http.get("/__mock/clock", headers={"Authorization": f"Bearer {value}"}).status_code == 200
