"""One row per payload the vendor documents show (they must validate), and rows that break them (must not)."""

from __future__ import annotations

from typing import Any

import pytest

from tokenmock import contracts
from tokenmock.contracts import Violation

DIVE_TOKEN = {
    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVwJ9.eyJhdWQiOlsiYXBpLXNlcnZlciJdfQ.uRhnAvVvkVU",
    "token_type": "bearer",
    "refresh_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IfpXVCJ9.eyJhdWQiOlsiYXBpLXNlcnZlciJdfQ.AEaXnE3PRsJ",
    "expires_in": 8999,
    "scope": "device",
    "device_id": "123456",
    "client_id": "test",
    "jti": "e4c32ebb-b264-4c84-95b9-ce063bb29a58",
}
AMINO_TOKEN = {
    "data": [
        {
            "type": "AuthenticationTokens",
            "id": "9bc6871e-ce26-4b8a-96f6-e6688599d938",
            "attributes": {
                "login_timestamp": 1538126476,
                "user_id": 1234,
                "user_profile_id": "84eb61a9-75d4-42c7-8c15-84c3d7776227",
                "access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJBbWlub01vdmUifQ.RW6NdDE",
                "expires_at_timestamp": 1538126476,
                "refresh_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJ0eXBlIjoicmVmcmVzaCJ9.9Pxzv0o",
            },
        }
    ]
}
VISION10_ERROR = [
    {
        "detail": "Please refer to invalid-params for error details",
        "errorCode": "240101",
        "instance": "/v1/api/oauth/token",
        "invalid-params": ["Invalid client credentials or scope"],
        "source": "AGT",
        "status": 401,
        "title": "Unauthorized",
    }
]


def without(payload: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != key}


def attributes_without(key: str) -> dict[str, Any]:
    item = dict(AMINO_TOKEN["data"][0])
    item["attributes"] = without(item["attributes"], key)
    return {"data": [item]}


# (vendor, operationId, status, payload): what the documents show, as JSON (repaired where they are not).
DOCUMENTED = [
    (
        "junctiontv",
        "getAccessToken",
        200,
        {
            "version": "1.1",
            "client_id": "XXXX",
            "access_token": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "expires_in": 3600,
        },
    ),
    (
        "junctiontv",
        "getAccessToken",
        401,
        {"result": "error", "message": "UNAUTHORIZED", "reason": "No Authorization Token"},
    ),
    (
        "clickview",
        "requestToken",
        200,
        {
            "access_token": "eyJz93a...k4laUWw",
            "token_type": "Bearer",
            "expires_in": 86400,
            "scope": "smartembed.viewkey",
        },
    ),
    (
        "clickview",
        "requestToken",
        400,
        {"error": "invalid_client", "error_description": "Client authentication failed."},
    ),
    (
        "vision10",
        "getAccessToken",
        200,
        {
            "access_token": "eyJhbGciOiJSUzI1NiJ9.eyJzY29wZSI6ImVkaXQifQ.uWiSQfLLzfDY",
            "token_type": "Bearer",
            "expires_in": 7199,
        },
    ),
    ("vision10", "getAccessToken", 401, VISION10_ERROR),
    ("divetv", "issueToken", 200, DIVE_TOKEN),
    ("aminotv", "getProfileAuthToken", 200, AMINO_TOKEN),
    ("aminotv", "loginUser", 200, AMINO_TOKEN),
    ("aminotv", "createAccessToken", 200, AMINO_TOKEN),
]

# (vendor, operationId, status, payload, rule broken): what the documents rule out.
BROKEN = [
    (
        "junctiontv",
        "getAccessToken",
        200,
        {"version": "1.1", "client_id": "XXXX", "access_token": "x", "expired_in": 3600},
        "required",
    ),
    (
        "junctiontv",
        "getAccessToken",
        200,
        {"version": "1.1", "client_id": "XXXX", "access_token": "x", "expires_in": "3600"},
        "type",
    ),
    ("junctiontv", "getAccessToken", 401, {"error": "invalid_client"}, "required"),
    ("clickview", "requestToken", 200, {"token_type": "Bearer", "expires_in": 86400, "scope": "s"}, "required"),
    (
        "clickview",
        "requestToken",
        200,
        {"access_token": "a", "token_type": "Bearer", "expires_in": "86400", "scope": "s"},
        "type",
    ),
    ("clickview", "requestToken", 400, {"error_description": "no code"}, "required"),
    ("vision10", "getAccessToken", 200, {"access_token": "a", "token_type": "Bearer"}, "required"),
    ("vision10", "getAccessToken", 401, VISION10_ERROR[0], "type"),
    ("divetv", "issueToken", 200, without(DIVE_TOKEN, "access_token"), "required"),
    ("divetv", "issueToken", 200, {**DIVE_TOKEN, "expires_in": "8999"}, "type"),
    ("aminotv", "loginUser", 200, attributes_without("access_token"), "required"),
    ("aminotv", "loginUser", 200, {"access_token": "a", "expires_in": 3600}, "required"),
]


@pytest.mark.parametrize(("vendor", "operation_id", "status", "payload"), DOCUMENTED)
def test_documented_payload_validates(vendor: str, operation_id: str, status: int, payload: Any) -> None:
    contracts.validate_response(vendor, operation_id, status, payload)


@pytest.mark.parametrize(("vendor", "operation_id", "status", "payload", "rule"), BROKEN)
def test_payload_breaking_the_document_is_refused(
    vendor: str, operation_id: str, status: int, payload: Any, rule: str
) -> None:
    with pytest.raises(Violation) as caught:
        contracts.validate_response(vendor, operation_id, status, payload)
    assert caught.value.rule == rule
    assert caught.value.vendor == vendor and caught.value.operation_id == operation_id


def test_violation_names_the_field_and_rule() -> None:
    payload = {"access_token": "a", "token_type": "Bearer", "expires_in": "soon", "scope": "s"}
    with pytest.raises(Violation) as caught:
        contracts.validate_response("clickview", "requestToken", 200, payload)
    assert caught.value.field == "/expires_in"
    assert caught.value.rule == "type"
    assert "expires_in" in str(caught.value) and "integer" in str(caught.value)
    assert "soon" not in str(caught.value)  # values are never echoed: they may be secrets


def test_undocumented_status_is_a_violation() -> None:
    with pytest.raises(Violation) as caught:
        contracts.validate_response("vision10", "getAccessToken", 418, {})
    assert caught.value.rule == "status_code"


def test_wrong_content_type_is_a_violation() -> None:
    with pytest.raises(Violation) as caught:
        contracts.validate_response(
            "clickview", "requestToken", 200, "<html></html>", headers={"Content-Type": "text/html"}
        )
    assert caught.value.rule == "content_type"


def test_body_that_is_not_json_is_a_violation() -> None:
    with pytest.raises(Violation) as caught:
        contracts.validate_response(
            "clickview", "requestToken", 200, b"{truncated", headers={"Content-Type": "application/json"}
        )
    assert caught.value.rule == "json"


def test_required_header_missing_is_a_violation() -> None:
    with pytest.raises(Violation) as caught:
        contracts.validate_response(
            "vision10", "getProtectedResource", 401, VISION10_ERROR, headers={"Content-Type": "application/json"}
        )
    assert caught.value.rule == "required_header"
    assert caught.value.field == "header:WWW-Authenticate"


def test_specs_load_once_and_are_cached() -> None:
    assert contracts.spec("divetv") is contracts.spec("divetv")
    assert contracts.operation("divetv", "issueToken") is contracts.operation("divetv", "issueToken")


def test_unknown_vendor_and_operation_are_clear_errors() -> None:
    with pytest.raises(contracts.SpecProblem, match="unknown vendor"):
        contracts.spec("nosuch")
    with pytest.raises(contracts.SpecProblem, match="no operation"):
        contracts.operation("clickview", "nosuch")
