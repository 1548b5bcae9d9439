"""What `tokenmock verify` asks of a provider that is not a tokenmock (issue 21 items 1 and 3): operations
only the mock serves are skipped with the reason, the resource checks run against `--resource` (or a
verify config) only, and token-type confusion is caught both ways."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask, jsonify, request

from tests.conftest import LiveServer
from tokenmock import contracts
from tokenmock.pytest_plugin import LiveMock


def rs256_token() -> str:
    """An RS256 JWT as the document shows one (scope, client_id, exp), living 7199 s."""
    import time

    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {"scope": "all", "client_id": "demo-client", "iat": now, "exp": now + 7199}
    return jwt.encode(claims, key, algorithm="RS256")


VALID = {"access_token": rs256_token(), "token_type": "Bearer", "expires_in": 7199}


def verify(*args: str) -> Result:
    from tokenmock.cli import main

    return CliRunner().invoke(main, ["verify", *args, "--max-examples", "3", "--seed", "1"], catch_exceptions=False)


def vision10_as_documented(resource_opens: bool = True) -> Flask:
    """Vision10 exactly as its document describes it: a token endpoint and nothing else, plus (not at a
    contract path) a protected URL of the user's own."""
    app = Flask("vision10-as-documented")

    @app.post("/v1/api/oauth/token")
    def token() -> Any:
        body = request.get_json(silent=True)
        body = body if isinstance(body, dict) else {}
        valid = (body.get("client_id"), body.get("client_secret"), body.get("grant_type"))
        if valid != ("demo-client", "demo-secret", "client_credentials"):
            problem = {
                "detail": "Please refer to invalid-params for error details",
                "errorCode": "240101",
                "instance": "/v1/api/oauth/token",
                "invalid-params": ["Invalid client credentials or scope"],
                "source": "AGT",
                "status": 401,
                "title": "Unauthorized",
            }
            return jsonify([problem]), 401
        return jsonify(VALID), 200, {"Cache-Control": "no-store"}

    @app.get("/mine/protected")
    def mine() -> Any:
        if resource_opens and request.headers.get("Authorization") == f"Bearer {VALID['access_token']}":
            return jsonify({"ok": True})
        return "", 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}

    return app


def junit_states(path: Path) -> dict[tuple[str, str], str]:
    found = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        state = next((tag for tag in ("failure", "skipped", "error") if case.find(tag) is not None), "passed")
        found[(str(case.get("classname")), str(case.get("name")))] = state
    return found


def test_mock_only_operations_are_skipped_with_the_reason(serve: Callable[[Flask], LiveServer], tmp_path: Path) -> None:
    """Issue 21: a Vision10 built exactly as documented used to fail 8 checks on the mock's own surfaces."""
    server = serve(vision10_as_documented())
    junit = tmp_path / "verify.xml"
    result = verify("vision10", "--base-url", server.url, "--junit-xml", str(junit))
    mock_only = [op for op in contracts.operations("vision10") if op.mock_only]
    assert {op.operation_id for op in mock_only} == {"getJwks", "getProtectedResource"}
    for op in mock_only:
        reason = f"{op.method} {op.path} is mock-only (x-mock-only): the vendor's document names no such endpoint"
        assert f"SKIP  {op.method} {op.path}  all phases: {reason}" in result.output
    assert "SKIP  GET /v1/api/resource  token_opens_resource: GET /v1/api/resource is mock-only" in result.output
    assert "give --resource URL" in result.output
    states = junit_states(junit)
    assert states[("vision10.GET /v1/api/resource", "all phases")] == "skipped"
    assert states[("vision10.GET /v1/api/resource", "garbage_bearer_refused")] == "skipped"
    assert result.exit_code == 0, result.output


def test_resource_checks_run_against_the_resource_named(serve: Callable[[Flask], LiveServer]) -> None:
    """`--resource URL` puts the resource checks back, against the user's URL (an empty 401 body with a
    Bearer challenge is what RFC 6750 §3 allows)."""
    server = serve(vision10_as_documented())
    result = verify("vision10", "--base-url", server.url, "--resource", server.url + "/mine/protected")
    assert result.exit_code == 0, result.output
    assert "token_opens_resource" not in result.output and "garbage_bearer_refused" not in result.output
    broken = serve(vision10_as_documented(resource_opens=False))
    failed = verify("vision10", "--base-url", broken.url, "--resource", broken.url + "/mine/protected")
    assert failed.exit_code == 1
    assert "FAIL  GET /v1/api/resource  token_opens_resource: issued token refused at the resource" in failed.output


def test_a_verify_config_names_the_resource_per_vendor(serve: Callable[[Flask], LiveServer], tmp_path: Path) -> None:
    server = serve(vision10_as_documented(resource_opens=False))
    config = tmp_path / "verify.toml"
    config.write_text(f'[vision10]\nresource = "{server.url}/mine/protected"\n', encoding="utf-8")
    result = verify("vision10", "--base-url", server.url, "--config", str(config))
    assert "FAIL  GET /v1/api/resource  token_opens_resource" in result.output
    config.write_text('[vision10]\nresorce = "typo"\n', encoding="utf-8")
    wrong = verify("vision10", "--base-url", server.url, "--config", str(config))
    assert wrong.exit_code == 2 and "[vision10] takes resource, jwks and readings only" in wrong.output


def test_a_verify_config_selects_readings(tmp_path: Path, tokenmock_server: LiveMock) -> None:
    config = tmp_path / "verify.toml"
    config.write_text('[divetv.readings]\n"DIVE-07" = "strict"\n', encoding="utf-8")
    result = verify("divetv", "--base-url", tokenmock_server.url("divetv"), "--config", str(config))
    assert result.exit_code == 2 and "DIVE-07 is no switchable entry of divetv's register" in result.output


# Token-type confusion: a Dive that mixes up its two JWT kinds (the mock, with one line of it broken).


@pytest.fixture
def confused_dive(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], LiveMock]]:
    from tokenmock.mockserver.vendors import divetv

    started: list[LiveMock] = []

    def start(bug: str) -> LiveMock:
        vendor = divetv.DiveTV
        if bug == "refresh_as_bearer":

            def resource(self: Any, call: Any) -> Any:
                claims = self.signer.verify(self.bearer_token(call))
                return divetv.Reply(200, {k: claims[k] for k in divetv.RESOURCE_CLAIMS if k in claims})

            monkeypatch.setattr(vendor, "get_protected_resource", resource)
        else:
            original = vendor._refresh

            def refresh(self: Any, call: Any, client: Any) -> Any:
                claims = self.signer.verify(str(call.field("refresh_token")))
                if "ati" in claims:
                    return original(self, call, client)
                granted = {k: claims[k] for k in divetv.RESOURCE_CLAIMS if k in claims and k not in ("exp", "jti")}
                return self._tokens(client, granted, sid=str(claims.get("sid", "")))

            monkeypatch.setattr(vendor, "_refresh", refresh)
        mock = LiveMock({"access_log": False})
        started.append(mock)
        return mock

    yield start
    for mock in started:
        mock.stop()


@pytest.mark.parametrize(
    ("bug", "check", "title"),
    [
        ("refresh_as_bearer", "refresh_token_refused_as_bearer", "a refresh token as bearer accepted"),
        ("access_as_refresh", "access_token_refused_as_refresh", "an access token as refresh token accepted"),
    ],
)
def test_token_type_confusion_is_caught_both_ways(
    bug: str, check: str, title: str, confused_dive: Callable[[str], LiveMock]
) -> None:
    mock = confused_dive(bug)
    result = verify("divetv", "--base-url", mock.url("divetv"))
    assert result.exit_code == 1
    failed = [line for line in result.output.splitlines() if line.startswith("FAIL ")]
    assert any(f"  {check}: {title}" in line for line in failed), result.output


# RFC 7617 Basic as clients send it, with and without RFC 6749 §2.3.1 form-encoding (JTV-02).

ODD = {"client_id": "jtv client", "client_secret": "s3+cr/et:x"}


@pytest.mark.parametrize("reading", ["strict", "lenient"])
def test_basic_credentials_follow_the_reading_of_jtv_02(reading: str) -> None:
    """Under JTV-02 strict verify sends the parts as they are; under lenient, form-encoded first. A mock
    in either reading takes what verify sends for it, and only that under strict."""
    from tokenmock.contracts.verify.profiles import PROFILES
    from tokenmock.contracts.verify.target import Target

    settings = {"access_log": False, "readings": {"JTV-02": reading}, "vendors": {"junctiontv": {"clients": [ODD]}}}
    mock = LiveMock(settings)
    try:
        target = Target("junctiontv", mock.url("junctiontv"), ODD)
        assert target.reading("JTV-02") == reading  # as the mock announces it
        sent = target.request_token(PROFILES["junctiontv"].token)
        assert sent.status_code == 200, sent.text
        header = str(target.last.headers["Authorization"]) if target.last is not None else ""
        import base64

        decoded = base64.b64decode(header.split()[1]).decode()
        assert decoded == ("jtv+client:s3%2Bcr%2Fet%3Ax" if reading == "lenient" else "jtv client:s3+cr/et:x")
        args = ["--client-id", ODD["client_id"], "--client-secret", ODD["client_secret"]]
        assert verify("junctiontv", "--base-url", mock.url("junctiontv"), *args).exit_code == 0
    finally:
        mock.stop()


def test_a_bare_bearer_challenge_needs_no_body() -> None:
    """RFC 6750 §3: the challenge carries the error; a 401 without body or media type is not a violation."""
    from types import SimpleNamespace

    from tokenmock.contracts.findings import bare_bearer_challenge

    def answer(status: int, content: bytes, challenge: str | None) -> object:
        headers = {"WWW-Authenticate": [challenge]} if challenge else {}
        return SimpleNamespace(status_code=status, content=content, headers=headers)

    assert bare_bearer_challenge(answer(401, b"", 'Bearer error="invalid_token"'))
    assert not bare_bearer_challenge(answer(401, b"", None))
    assert not bare_bearer_challenge(answer(401, b"", 'Basic realm="x"'))
    assert not bare_bearer_challenge(answer(401, b"<html>", "Bearer"))
    assert not bare_bearer_challenge(answer(403, b"", "Bearer"))
