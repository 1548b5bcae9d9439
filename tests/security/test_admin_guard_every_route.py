"""The admin guard covers every admin operation the contract describes, those added since the guard's
own table was written included (claims, minted tokens, key rotation...): a cross-site request, a
foreign Host and a state change without a JSON content type are refused before any view runs."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask

from tests.security.test_admin_guard import CROSS_SITE, SIMPLE_CONTENT_TYPES
from tokenmock import contracts

ADMIN = contracts.loader.read_yaml("admin.yaml")
OPERATIONS = [
    (method.upper(), "/__mock" + re.sub(r"\{[^}]+\}", "1", path))
    for path, item in ADMIN["paths"].items()
    for method in item
    if method in ("get", "post", "put", "delete")
]
# Reads that answer anyone on purpose: an orchestrator's health probe, the local CA's public certificate,
# and the control page's static HTML (every action on it goes through the guarded operations).
PUBLIC = {("GET", "/__mock/health"), ("GET", "/__mock/ca.pem"), ("GET", "/__mock/ui")}
GUARDED = [op for op in OPERATIONS if op not in PUBLIC]
STATE_CHANGES = [(method, path) for method, path in OPERATIONS if method in ("POST", "PUT")]


def test_the_contract_names_the_newer_admin_operations() -> None:
    paths = {path for _, path in OPERATIONS}
    assert {"/__mock/claims", "/__mock/tokens", "/__mock/keys/rotate"} <= paths


def test_the_public_reads_are_the_contracts_own() -> None:
    assert set(OPERATIONS) >= PUBLIC


@pytest.mark.parametrize(("method", "path"), GUARDED, ids=[f"{m} {p}" for m, p in GUARDED])
def test_cross_site_and_foreign_hosts_are_refused(make_app: Callable[..., Flask], method: str, path: str) -> None:
    http = make_app().test_client()
    http.post("/__mock/faults", json={"kind": "status", "params": {"status": 503}})  # fault 1, for /faults/{id}
    for headers in [*CROSS_SITE, {"Host": "attacker.example"}]:
        answer = http.open(path, method=method, json={}, headers=headers)
        assert answer.status_code == 403, (headers, answer.status_code)
    assert http.get("/__mock/claims").get_json()["armed"] == []  # nothing was armed on the way
    assert len(http.get("/__mock/faults").get_json()["faults"]) == 1  # nor reset or deleted


@pytest.mark.parametrize(("method", "path"), STATE_CHANGES, ids=[f"{m} {p}" for m, p in STATE_CHANGES])
def test_state_changes_need_json(make_app: Callable[..., Flask], method: str, path: str) -> None:
    http = make_app().test_client()
    for content_type in SIMPLE_CONTENT_TYPES:
        headers = {"Content-Type": content_type} if content_type else {}
        answer = http.open(path, method=method, data=b"{}", headers=headers)
        assert answer.status_code == 415, (content_type, answer.status_code)
