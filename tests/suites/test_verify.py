"""`tokenmock verify`: passes against the mock of every vendor, and fails, naming the rule, against a
server that breaks the contract."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask, Response, jsonify

from tests.conftest import LiveServer
from tokenmock import contracts
from tokenmock.cli import main
from tokenmock.contracts.verify import demo_credentials
from tokenmock.pytest_plugin import LiveMock


def verify(*args: str) -> Result:
    return CliRunner().invoke(main, ["verify", *args, "--max-examples", "15", "--seed", "1"], catch_exceptions=False)


@pytest.mark.parametrize("vendor", contracts.vendors())
def test_passes_against_the_mock(vendor: str, tokenmock_server: LiveMock, tmp_path: Path) -> None:
    junit = tmp_path / "verify.xml"
    result = verify(vendor, "--base-url", tokenmock_server.url(vendor), "--junit-xml", str(junit))
    assert result.exit_code == 0, result.output
    assert f"PASSED: {vendor} at {tokenmock_server.url(vendor)}: 0 violation(s), 0 error(s)" in result.output
    suite = ET.parse(junit).getroot()
    assert (suite.get("failures"), suite.get("errors")) == ("0", "0")
    operations = {case.get("classname") for case in suite.iter("testcase")}
    assert operations == {f"{vendor}.{op.method} {op.path}" for op in contracts.operations(vendor)}


# A server that implements Vision10 badly: the token endpoint answers every request the same way.
VALID = {"access_token": "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "token_type": "Bearer", "expires_in": 7199}
BROKEN: dict[str, tuple[Callable[[], Any], str]] = {
    "wrong type": (lambda: jsonify({**VALID, "expires_in": "7199"}), "response_schema_conformance"),
    "missing field": (
        lambda: jsonify({k: v for k, v in VALID.items() if k != "access_token"}),
        "response_schema_conformance",
    ),
    "wrong status": (lambda: (jsonify(VALID), 201), "status_code_conformance"),
    "wrong content type": (lambda: Response(str(VALID), content_type="text/plain"), "content_type_conformance"),
}


def vision10_server(token_reply: Callable[[], Any]) -> Flask:
    app = Flask("broken-vision10")
    app.add_url_rule("/v1/api/oauth/token", "token", token_reply, methods=["POST"])

    @app.get("/v1/api/resource")
    def resource() -> Any:  # always refused, as the contract documents it
        problem = {
            "detail": "d",
            "errorCode": "240102",
            "instance": "/v1/api/resource",
            "invalid-params": ["x"],
            "source": "AGT",
            "status": 401,
            "title": "Unauthorized",
        }
        return jsonify([problem]), 401, {"WWW-Authenticate": 'Bearer realm="v", error="invalid_token"'}

    return app


@pytest.mark.parametrize("defect", BROKEN)
def test_fails_naming_the_rule_a_server_breaks(
    defect: str, serve: Callable[[Flask], LiveServer], tmp_path: Path
) -> None:
    reply, rule = BROKEN[defect]
    server = serve(vision10_server(reply))
    junit = tmp_path / "verify.xml"
    result = verify("vision10", "--base-url", server.url, "--junit-xml", str(junit))
    assert result.exit_code == 1, result.output
    assert f"FAIL  POST /v1/api/oauth/token  {rule}" in result.output
    assert "curl -X POST" in result.output and "FAILED: vision10" in result.output
    assert "demo-secret" not in result.output  # secrets are masked in the curl lines
    failed = {
        (case.get("classname"), case.get("name"))
        for case in ET.parse(junit).getroot().iter("testcase")
        if case.find("failure") is not None
    }
    assert ("vision10.POST /v1/api/oauth/token", rule) in failed


def test_strict_also_requires_refusing_what_the_contract_forbids(serve: Callable[[Flask], LiveServer]) -> None:
    server = serve(vision10_server(lambda: jsonify(VALID)))  # valid answers, but to anything at all
    assert "negative_data_rejection" not in verify("vision10", "--base-url", server.url).output
    strict = verify("vision10", "--base-url", server.url, "--strict")
    assert strict.exit_code == 1
    assert "FAIL  POST /v1/api/oauth/token  negative_data_rejection" in strict.output


def test_wrong_credentials_are_reported_not_ignored(tokenmock_server: LiveMock) -> None:
    result = verify("vision10", "--base-url", tokenmock_server.url("vision10"), "--client-secret", "wrong")
    assert result.exit_code == 1
    assert "cannot get a bearer token: POST /v1/api/oauth/token answered 401 (check the credentials)" in result.output


def test_demo_credentials_are_named_as_the_contracts_name_them() -> None:
    assert demo_credentials("aminotv") == {
        "username": "demo@example.com",
        "password": "demo-password",
        "session": "demo-session",
        "profile_id": "84eb61a9-75d4-42c7-8c15-84c3d7776227",
        "channel_id": "demo-channel",
    }
    assert demo_credentials("divetv").keys() == {"client_key", "username", "password"}
