"""CORS: a browser app may call the vendor endpoints (preflights answered from the contracts), never /__mock/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tokenmock.mockserver.config import ConfigError

ORIGIN = "http://localhost:3000"
FORM = {
    "grant_type": "client_credentials",
    "client_id": "demo-client",
    "client_secret": "demo-secret",
    "scope": "smartembed.viewkey",
}


def preflight(http: Any, path: str, method: str = "POST", headers: str = "content-type", origin: str = ORIGIN) -> Any:
    return http.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


@pytest.mark.parametrize(
    ("path", "methods", "headers"),
    [
        ("/clickview/connect/token", "POST", "Authorization, Content-Type, Prefer"),
        ("/clickview/api/v1/example", "GET", "Authorization, Prefer"),
        ("/vision10/.well-known/jwks.json", "GET", "Prefer"),
        ("/aminotv/profiles/84eb61a9-75d4-42c7-8c15-84c3d7776227/token", "POST", "Authorization, Prefer"),
        ("/aminotv/auth/login", "POST", "Authorization, Content-Type, Prefer"),
    ],
)
def test_a_preflight_is_answered_from_the_contract(
    make_app: Callable[..., Flask], path: str, methods: str, headers: str
) -> None:
    answer = preflight(make_app().test_client(), path)
    assert answer.status_code == 204 and answer.data == b""
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert answer.headers["Access-Control-Allow-Credentials"] == "true"
    assert answer.headers["Access-Control-Allow-Methods"] == methods
    assert answer.headers["Access-Control-Allow-Headers"] == headers
    assert answer.headers["Vary"] == "Origin"


def test_a_preflight_is_neither_journaled_nor_faulted(make_app: Callable[..., Flask]) -> None:
    http = make_app().test_client()
    http.post("/__mock/faults", json={"kind": "status", "vendor": "clickview", "params": {"status": 503}, "times": 1})
    assert preflight(http, "/clickview/connect/token").status_code == 204
    assert http.get("/__mock/requests").get_json()["count"] == 0
    assert http.post("/clickview/connect/token", data=FORM).status_code == 503  # the fault is still armed


def test_vendor_answers_carry_cors_headers(make_app: Callable[..., Flask]) -> None:
    http = make_app().test_client()
    token = http.post("/clickview/connect/token", data=FORM, headers={"Origin": ORIGIN})
    assert token.status_code == 200 and token.headers["Access-Control-Allow-Origin"] == ORIGIN
    refused = http.get("/clickview/api/v1/example", headers={"Origin": ORIGIN})
    assert refused.status_code == 401 and refused.headers["Access-Control-Allow-Origin"] == ORIGIN
    # a browser script may read the challenge and Retry-After
    assert "WWW-Authenticate" in refused.headers["Access-Control-Expose-Headers"].split(", ")
    assert "Retry-After" in refused.headers["Access-Control-Expose-Headers"].split(", ")
    assert "Access-Control-Allow-Origin" not in http.post("/clickview/connect/token", data=FORM).headers


@pytest.mark.parametrize("setting", [None, False, []])
def test_cors_can_be_switched_off(make_app: Callable[..., Flask], setting: Any) -> None:
    http = make_app(cors_origins=setting).test_client()
    assert "Access-Control-Allow-Origin" not in preflight(http, "/clickview/connect/token").headers
    answer = http.post("/clickview/connect/token", data=FORM, headers={"Origin": ORIGIN})
    assert answer.status_code == 200 and "Access-Control-Allow-Origin" not in answer.headers


def test_only_the_listed_origins_are_allowed(make_app: Callable[..., Flask]) -> None:
    http = make_app(cors_origins=["http://localhost:3000/", "https://App.Example"]).test_client()
    assert preflight(http, "/clickview/connect/token").headers["Access-Control-Allow-Origin"] == ORIGIN
    other = preflight(http, "/clickview/connect/token", origin="https://app.example")
    assert other.headers["Access-Control-Allow-Origin"] == "https://app.example"
    foreign = preflight(http, "/clickview/connect/token", origin="https://attacker.example")
    assert "Access-Control-Allow-Origin" not in foreign.headers


def test_a_bad_setting_is_refused_at_start(make_app: Callable[..., Flask]) -> None:
    with pytest.raises(ConfigError, match="cors_origins"):
        make_app(cors_origins=[3000])


@pytest.mark.parametrize("setting", ["*", ["http://localhost:3000"], None])
@pytest.mark.parametrize("path", ["/__mock/reset", "/__mock/clock", "/__mock/health", "/__mock"])
def test_a_preflight_to_the_admin_api_is_refused(make_app: Callable[..., Flask], setting: Any, path: str) -> None:
    answer = preflight(make_app(cors_origins=setting).test_client(), path)
    assert answer.status_code == 403
    assert answer.get_json()["error"] == "access_denied"
    assert not any(name.lower().startswith("access-control-") for name, _ in answer.headers.items())


def test_admin_answers_never_carry_cors_headers(make_app: Callable[..., Flask]) -> None:
    answer = make_app().test_client().get("/__mock/clock", headers={"Origin": ORIGIN})
    assert not any(name.lower().startswith("access-control-") for name, _ in answer.headers.items())
