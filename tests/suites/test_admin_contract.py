"""The admin API honours openapi/admin.yaml: schemathesis runs it against the mock, as for the vendors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings

from tokenmock import contracts
from tokenmock.contracts import checks
from tokenmock.contracts.checks import Report
from tokenmock.contracts.loader import inline_refs, read_yaml
from tokenmock.mockserver import create_app
from tokenmock.mockserver.config import runtime_record_schema
from tokenmock.mockserver.controls.chaos import kinds as chaos_kinds
from tokenmock.mockserver.controls.claims import CLAIMS_SCHEMA, HEADER_SCHEMA
from tokenmock.mockserver.controls.faults import KINDS as FAULT_KINDS
from tokenmock.mockserver.keyring import KeyRing
from tokenmock.mockserver.pipeline.core import ANSWERERS
from tokenmock.mockserver.serving.tls import local_ca

ADMIN_TOKEN = "admin-contract-run-token"


@pytest.fixture(scope="module")
def admin_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The mock the run drives: an admin token configured (so auth is exercised) and every response
    validated; TLS with the mock's own CA is configured, so that /__mock/ca.pem has a certificate to serve."""
    ca_dir = tmp_path_factory.mktemp("tls")
    local_ca(ca_dir)
    tls = {"enabled": True, "ca_dir": str(ca_dir)}
    return create_app({"access_log": False, "validate_responses": True, "admin_token": ADMIN_TOKEN, "tls": tls})


@pytest.fixture(scope="module")
def report(admin_app: Any) -> Report:
    """One schemathesis run over every phase of admin.yaml."""
    app = admin_app
    profile = settings()
    return checks.run_admin(
        app=app,
        admin_token=ADMIN_TOKEN,
        max_examples=profile.max_examples,
        seed=0 if profile.derandomize else None,
    )


def test_no_check_fails(report: Report) -> None:
    assert report.ok, f"the admin API breaks its contract:\n{report.summary()}"


def test_every_check_ran(report: Report) -> None:
    ran = set(report.checks_run)
    # ignored_auth needs an operation whose security is required; the admin API's is optional (loopback).
    assert set(checks.BUILTIN_CHECKS) - ran <= {"ignored_auth"}


def test_every_operation_succeeded_and_refused(report: Report) -> None:
    admin = _admin()
    for item in admin["paths"].values():
        for op in item.values():
            statuses = report.statuses(op["operationId"])
            assert any(200 <= s < 300 for s in statuses), f"{op['operationId']} never succeeded: {sorted(statuses)}"
            if op.get("requestBody") or op.get("parameters"):
                refused = {s for s in statuses if 400 <= s < 500} - {405}
                assert refused, f"{op['operationId']} never refused bad input: {sorted(statuses)}"


def test_the_stateful_phase_followed_links(report: Report) -> None:
    assert any(phase == "stateful" for (_, phase, _) in report.responses)


def test_refused_without_the_admin_token() -> None:
    http = create_app({"access_log": False, "admin_token": ADMIN_TOKEN}).test_client()
    response = http.get("/__mock/clock", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_token"


def _admin() -> dict[str, Any]:
    return inline_refs(read_yaml("admin.yaml"))


def _body_schema(operation_id: str) -> dict[str, Any]:
    for item in _admin()["paths"].values():
        for op in item.values():
            if op["operationId"] == operation_id:
                return op["requestBody"]["content"]["application/json"]["schema"]["properties"]
    raise AssertionError(operation_id)


def test_enumerations_follow_the_code() -> None:
    """The contract's lists of vendors, fault kinds and chaos kinds are the ones the mock knows."""
    fault = _body_schema("armFault")
    assert set(fault["kind"]["enum"]) == FAULT_KINDS
    assert [v for v in fault["vendor"]["enum"] if v is not None] == list(contracts.vendors())
    assert _body_schema("addClient")["vendor"]["enum"] == list(contracts.vendors())
    assert _body_schema("startChaos")["exclude"]["items"]["enum"] == list(chaos_kinds())
    mock = create_app({"access_log": False}).extensions["tokenmock"]
    rotatable = [name for name, vendor in mock.vendors.items() if isinstance(vendor.signer, KeyRing)]
    assert _body_schema("rotateKeys")["vendor"]["enum"] == rotatable
    with_claims = [name for name, vendor in mock.vendors.items() if not vendor.opaque_tokens]
    assert _body_schema("armClaims")["vendor"]["enum"] == with_claims
    assert _body_schema("mintToken")["vendor"]["enum"] == with_claims
    journal_entry = inline_refs(read_yaml("admin.yaml"))["components"]["schemas"]["JournalEntry"]
    assert journal_entry["properties"]["answered_by"]["enum"] == list(ANSWERERS)


def _without_notes(schema: Any) -> Any:
    """A schema without its prose (description, x-assumption): what validates."""
    if isinstance(schema, dict):
        return {k: _without_notes(v) for k, v in schema.items() if k not in ("description", "x-assumption")}
    if isinstance(schema, list):
        return [_without_notes(item) for item in schema]
    return schema


def test_the_admin_contract_holds_the_config_files_schemas() -> None:
    """One schema for runtime input (issue 22): what admin.yaml says a client or a claims object may hold is
    what the config file's schema says, for every vendor."""
    schemas = _admin()["components"]["schemas"]
    assert _without_notes(schemas["Claims"]) == CLAIMS_SCHEMA
    assert _without_notes(schemas["TokenHeader"]) == HEADER_SCHEMA
    branches = {
        branch["properties"]["vendor"]["const"]: branch["properties"]["client"]
        for branch in _admin()["paths"]["/clients"]["post"]["requestBody"]["content"]["application/json"]["schema"][
            "oneOf"
        ]
    }
    assert list(branches) == list(contracts.vendors())
    for vendor, schema in branches.items():
        assert _without_notes(schema) == runtime_record_schema(vendor), vendor


def test_hostile_admin_input_leaves_every_vendor_answering(admin_app: Any, report: Report) -> None:
    """After schemathesis has sent the admin API everything admin.yaml allows and much it does not (the
    `report` run), every vendor still answers its documented requests without a 5xx."""
    http = admin_app.test_client()
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert report.statuses("addClient") and report.statuses("armClaims")
    http.post("/__mock/claims", json={"vendor": "clickview", "claims": {}}, headers=headers)  # the run's are spent
    # Faults and chaos answer 5xx on purpose: disarm them; what stays is what the run registered and armed.
    http.delete("/__mock/faults", headers=headers)
    http.delete("/__mock/chaos", headers=headers)
    discovery = http.get("/clickview/.well-known/openid-configuration")
    assert discovery.status_code == 200
    contracts.validate_response("clickview", "getOpenIdConfiguration", 200, discovery.get_json())
    for vendor in contracts.vendors():
        for op in contracts.operations(vendor):
            example = _first_request_example(op)
            path = "/" + vendor + op.path.replace("{profile_id}", "84eb61a9-75d4-42c7-8c15-84c3d7776227").replace(
                "{channel_id}", "demo-channel"
            )
            answer = http.open(path, method=op.method, **example)
            assert answer.status_code < 500, f"{vendor} {op.operation_id}: {answer.status_code} {answer.data[:200]!r}"


def _first_request_example(op: Any) -> dict[str, Any]:
    """Keyword arguments for the test client: the operation's first documented request body, if any."""
    for media_type in op.request_media_types:
        examples = op.definition.get("requestBody", {}).get("content", {}).get(media_type, {}).get("examples") or {}
        for example in examples.values():
            value = example.get("value")
            if media_type == "application/x-www-form-urlencoded" and isinstance(value, dict):
                return {"data": value, "content_type": media_type}
            if isinstance(value, dict):
                return {"json": value, "content_type": media_type}
    return {}
