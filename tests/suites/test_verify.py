"""`tokenmock verify`: passes against the mock of every vendor under every reading, and fails, naming the
rule or the behaviour check, against a server that breaks the contract or the documented behaviour."""

from __future__ import annotations

import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result
from flask import Flask, Response, jsonify, request

from tests.conftest import LiveServer
from tests.documentation import section
from tokenmock import contracts
from tokenmock.cli import main
from tokenmock.contracts.verify import demo_credentials
from tokenmock.contracts.verify.behaviour import BEHAVIOUR_CHECKS
from tokenmock.pytest_plugin import LiveMock


def verify(*args: str, examples: int = 10) -> Result:
    return CliRunner().invoke(
        main, ["verify", *args, "--max-examples", str(examples), "--seed", "1"], catch_exceptions=False
    )


def junit_cases(path: Path) -> dict[tuple[str, str], str]:
    """(classname, name) -> "passed" | "failure" | "skipped"."""
    found = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        state = (
            "failure"
            if case.find("failure") is not None
            else "skipped"
            if case.find("skipped") is not None
            else "passed"
        )
        found[(str(case.get("classname")), str(case.get("name")))] = state
    return found


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
    # Every behaviour check is a JUnit test case; against a tokenmock the clock check runs too.
    cases = junit_cases(junit)
    behaviour = {name: state for (_, name), state in cases.items() if name in BEHAVIOUR_CHECKS}
    assert set(behaviour) == set(BEHAVIOUR_CHECKS)
    assert behaviour["token_flow_works"] == behaviour["wrong_secret_refused"] == "passed"
    assert behaviour["garbage_bearer_refused"] == behaviour["foreign_bearer_refused"] == "passed"
    assert behaviour["expired_token_refused"] == "passed"


ALL_LENIENT = {
    "readings": {e.id: "lenient" for v in contracts.vendors() for e in contracts.register(v) if e.switchable}
}


@pytest.fixture(scope="module", params=["strict_all", "all_lenient"])
def mock_in_reading(request: pytest.FixtureRequest) -> Iterator[LiveMock]:
    settings = {"strict_all": True} if request.param == "strict_all" else ALL_LENIENT
    mock = LiveMock({**settings, "access_log": False})
    yield mock
    mock.stop()


@pytest.mark.parametrize("vendor", contracts.vendors())
def test_passes_under_both_readings_of_every_switch(vendor: str, mock_in_reading: LiveMock) -> None:
    """The behaviour checks read the readings the mock announces: a reused refresh token, a wrong grant,
    a JSON body or a form are expected refused or accepted as the reading in force says."""
    result = verify(vendor, "--base-url", mock_in_reading.url(vendor), examples=5)
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.output


def test_the_mock_announces_the_readings_in_force(mock_in_reading: LiveMock) -> None:
    """What verify reads to know the reading in force: every switch of every vendor, at `GET /`."""
    index = requests.get(mock_in_reading.root + "/", timeout=10).json()
    expected = "strict" if mock_in_reading.mock.vendors["divetv"].readings.get("DIVE-01") != "lenient" else "lenient"
    for vendor in contracts.vendors():
        switches = {e.id for e in contracts.register(vendor) if e.switchable}
        assert index["vendors"][vendor]["readings"] == dict.fromkeys(sorted(switches), expected)


# Look-alike providers: a ClickView that gets every documented behaviour right but one.

SECRET = 'Top+Secret/%:"XYZ-987'


def clickview_lookalike(
    *, any_secret: bool = False, undocumented_refusal: bool = False, any_bearer: bool = False
) -> Flask:
    app = Flask("clickview-lookalike")
    issued: set[str] = set()

    def refuse(error: str, description: str) -> Any:
        if undocumented_refusal:
            return Response(f"<html><body>{description}</body></html>", 400, content_type="text/html")
        return jsonify({"error": error, "error_description": description}), 400, {"Cache-Control": "no-store"}

    @app.post("/connect/token")
    def token() -> Any:
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return refuse("unsupported_grant_type", "The grant type is not supported.")
        if not form.get("client_id") or not form.get("client_secret"):
            return refuse("invalid_request", "client_id is missing.")
        if form["client_id"] != "demo-client" or (form["client_secret"] != SECRET and not any_secret):
            return refuse("invalid_client", "Client authentication failed.")
        access = secrets.token_urlsafe(24)
        issued.add(access)
        body = {"access_token": access, "token_type": "Bearer", "expires_in": 86400, "scope": "smartembed.viewkey"}
        return jsonify(body), 200, {"Cache-Control": "no-store", "Pragma": "no-cache"}

    @app.get("/api/v1/example")
    def example() -> Any:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme == "Bearer" and (token in issued or (any_bearer and token)):
            return jsonify({"message": "Authenticated.", "client_id": "demo-client", "scope": "smartembed.viewkey"})
        challenge = 'Bearer realm="clickview", error="invalid_token"'
        body = {"error": "invalid_token", "error_description": "The access token is invalid."}
        return jsonify(body), 401, {"WWW-Authenticate": challenge}

    return app


LOOKALIKES: dict[str, tuple[dict[str, bool], set[str]]] = {
    "accepts any secret": ({"any_secret": True}, {"wrong_secret_refused"}),
    "refuses in an undocumented shape": (
        {"undocumented_refusal": True},
        {"wrong_secret_refused", "unknown_client_refused", "missing_credentials_refused", "wrong_grant_refused"},
    ),
    "resource accepts any bearer": (
        {"any_bearer": True},
        {"garbage_bearer_refused", "tampered_bearer_refused", "foreign_bearer_refused"},
    ),
}


@pytest.mark.parametrize("defect", LOOKALIKES)
def test_fails_naming_the_behaviour_a_lookalike_breaks(
    defect: str, serve: Callable[[Flask], LiveServer], tmp_path: Path
) -> None:
    flags, broken = LOOKALIKES[defect]
    server = serve(clickview_lookalike(**flags))
    junit = tmp_path / "verify.xml"
    result = verify(
        "clickview", "--base-url", server.url, "--client-secret", SECRET, "--junit-xml", str(junit), examples=5
    )
    assert result.exit_code == 1, result.output
    for check in broken:
        assert any(line.startswith("FAIL  ") and f"  {check}: " in line for line in result.output.splitlines()), check
    cases = junit_cases(junit)
    failed = {name for (_, name), state in cases.items() if state == "failure" and name in BEHAVIOUR_CHECKS}
    assert failed == broken
    # Not a tokenmock: the clock check is skipped, with the reason, not failed.
    assert cases[("clickview.GET /api/v1/example", "expired_token_refused")] == "skipped"
    assert "SKIP  GET /api/v1/example  expired_token_refused: needs control of the provider's clock" in result.output
    # The secret appears in no encoding in anything verify wrote (form-encoded in the curl lines).
    written = result.output + junit.read_text()
    for form in (SECRET, "Top%2BSecret%2F%25%3A%22XYZ-987", 'Top+Secret/%:\\"XYZ-987', "XYZ-987"):
        assert form not in written


def test_a_correct_lookalike_passes_every_behaviour_check(serve: Callable[[Flask], LiveServer], tmp_path: Path) -> None:
    """The control for the look-alikes above: the same server without a defect fails no behaviour check."""
    server = serve(clickview_lookalike())
    junit = tmp_path / "verify.xml"
    verify("clickview", "--base-url", server.url, "--client-secret", SECRET, "--junit-xml", str(junit), examples=5)
    cases = junit_cases(junit)
    assert not {name for (_, name), state in cases.items() if state == "failure" and name in BEHAVIOUR_CHECKS}


# A server that implements Vision10's token answer badly: the schemathesis phases name the rule.
VALID = {"access_token": "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "token_type": "Bearer", "expires_in": 7199}
BROKEN: dict[str, tuple[Callable[[], Any], str]] = {
    "wrong type": (lambda: jsonify({**VALID, "expires_in": "7199"}), "response_schema_conformance"),
    "missing field": (
        lambda: jsonify({k: v for k, v in VALID.items() if k != "access_token"}),
        "response_schema_conformance",
    ),
    "wrong status": (lambda: (jsonify(VALID), 201), "status_code_conformance"),
    # JSON under a text/plain label: the token is readable, the media type is not the documented one.
    "wrong content type": (
        lambda: Response(jsonify(VALID).get_data(), content_type="text/plain"),
        "content_type_conformance",
    ),
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
    result = verify("vision10", "--base-url", server.url, "--junit-xml", str(junit), examples=5)
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
    assert "negative_data_rejection" not in verify("vision10", "--base-url", server.url, examples=5).output
    strict = verify("vision10", "--base-url", server.url, "--strict", examples=5)
    assert strict.exit_code == 1
    assert "FAIL  POST /v1/api/oauth/token  negative_data_rejection" in strict.output


def test_wrong_credentials_stop_the_run_with_one_line(tokenmock_server: LiveMock) -> None:
    """Issue 21: verify used to run the whole suite (27 lines of follow-on failures) before saying so."""
    url = tokenmock_server.url("vision10")
    line = one_line(verify("vision10", "--base-url", url, "--client-secret", "wrong"))
    assert line == (
        f"tokenmock verify vision10: the provider refused the credentials: POST {url}/v1/api/oauth/token "
        "answered 401 (240101); check the credentials (--client-id, --client-secret, --scope); nothing else was run"
    )
    assert "wrong" not in line.replace("answered", "")  # the wrong secret is masked like any other


# Providers that cannot be verified at all: one line naming the URL and the likely cause, exit 1.


def one_line(result: Result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert result.exit_code == 1
    return lines[0]


def test_a_provider_that_is_down_gets_one_line() -> None:
    line = one_line(verify("clickview", "--base-url", "http://127.0.0.1:23999/clickview"))
    assert "nothing is listening at http://127.0.0.1:23999/clickview/connect/token (connection refused)" in line


def test_a_wrong_base_url_gets_one_line(tokenmock_server: LiveMock) -> None:
    wrong = tokenmock_server.root + "/not-clickview"
    line = one_line(verify("clickview", "--base-url", wrong))
    assert f"POST {wrong}/connect/token answered 404: no token endpoint there" in line


def test_an_unresolvable_host_gets_one_line() -> None:
    line = one_line(verify("clickview", "--base-url", "http://tokenmock-verify.invalid/clickview"))
    assert "cannot resolve the host of http://tokenmock-verify.invalid/clickview/connect/token (DNS)" in line


def test_tls_to_a_plain_http_server_gets_one_line(tokenmock_server: LiveMock) -> None:
    https = tokenmock_server.url("clickview").replace("http://", "https://")
    line = one_line(verify("clickview", "--base-url", https))
    assert f"TLS handshake with {https}/connect/token failed" in line


ANSWERS: dict[str, tuple[Callable[[], Any], str]] = {
    "a 5xx": (lambda: ("boom", 503), "answered 503: the server failed"),
    "not JSON": (
        lambda: Response("<html>login</html>", content_type="text/html"),
        "answered 200 with text/html, not JSON",
    ),
}


@pytest.mark.parametrize("answer", ANSWERS)
def test_a_token_endpoint_that_is_not_the_api_gets_one_line(answer: str, serve: Callable[[Flask], LiveServer]) -> None:
    reply, cause = ANSWERS[answer]
    app = Flask("not-the-api")
    app.add_url_rule("/connect/token", "token", reply, methods=["POST"])
    server = serve(app)
    line = one_line(verify("clickview", "--base-url", server.url))
    assert f"{server.url}/connect/token {cause}" in line


def test_a_base_url_without_a_scheme_is_a_usage_error() -> None:
    result = verify("clickview", "--base-url", "127.0.0.1:8080/clickview")
    assert result.exit_code == 2
    assert "is not an http:// or https:// URL" in result.output


def test_demo_credentials_are_named_as_the_contracts_name_them() -> None:
    assert demo_credentials("aminotv") == {
        "username": "demo@example.com",
        "password": "demo-password",
        "session": "demo-session",
        "profile_id": "84eb61a9-75d4-42c7-8c15-84c3d7776227",
        "channel_id": "demo-channel",
    }
    assert demo_credentials("divetv").keys() == {"client_key", "username", "password"}


@pytest.mark.parametrize(
    "prepare",
    [
        pytest.param(lambda: requests.Request("POST", "http://h/t", data={"client_secret": SECRET}), id="form"),
        pytest.param(lambda: requests.Request("POST", "http://h/t", json={"client_secret": SECRET}), id="json"),
        pytest.param(lambda: requests.Request("POST", "http://h/t", auth=("demo-client", SECRET)), id="basic"),
        pytest.param(lambda: requests.Request("GET", "http://h/t", params={"password": SECRET}), id="query"),
        pytest.param(
            lambda: requests.Request("POST", "http://h/t", headers={"Authorization": f"Basic {SECRET}"}), id="raw-basic"
        ),
    ],
)
def test_curl_lines_mask_the_secret_in_every_encoding(prepare: Callable[[], requests.Request]) -> None:
    from base64 import b64encode

    from tokenmock.contracts.verify.report import Masker, curl_of

    prepared = prepare().prepare()
    line = curl_of(prepared, Masker({"client_id": "demo-client", "client_secret": SECRET, "password": SECRET}))
    assert line.startswith(f"curl -X {prepared.method} ") and "***" in line
    encodings = [SECRET, "Top%2BSecret%2F%25%3A%22XYZ-987", 'Top+Secret/%:\\"XYZ-987']
    encodings.append(b64encode(f"demo-client:{SECRET}".encode()).decode())
    assert not [form for form in encodings if form in line], line
    assert "XYZ-987" not in line


# The documentation's verify section, held to what verify does.

VERIFY_SECTION = section("Verifying a server: `tokenmock verify`")


def test_the_readme_lists_every_behaviour_check() -> None:
    listed = re.findall(r"^\| `(\w+)` \|", VERIFY_SECTION, re.M)
    assert listed == list(BEHAVIOUR_CHECKS)


def test_the_readme_sample_output_is_what_verify_prints(tokenmock_server: LiveMock) -> None:
    sample = re.search(r"```\n(  phase .*?)\n```", VERIFY_SECTION, re.S)
    assert sample is not None
    url = tokenmock_server.url("divetv")
    output = verify("divetv", "--base-url", url, examples=5).output.replace(url, "http://127.0.0.1:8080/divetv")
    printed = [line for line in output.splitlines() if line.strip()][-len(sample.group(1).splitlines()) :]
    for expected, got in zip(sample.group(1).splitlines(), printed, strict=True):
        words = [r"[\d.]+s?" if re.fullmatch(r"[\d.]+s?", w) else re.escape(w) for w in expected.split()]
        assert re.fullmatch(r"\s*" + r"\s+".join(words), got), (expected, got)
    # Every check ran for Dive, none failed; two do not apply (no scope asked, no status in its errors).
    assert re.search(r"^  behaviour\s+21\s+0\s+2$", output, re.M)


def test_the_readme_line_for_a_provider_that_is_down() -> None:
    (line,) = re.findall(r"^tokenmock verify clickview: nothing is listening.*$", VERIFY_SECTION, re.M)
    printed = one_line(verify("clickview", "--base-url", "http://127.0.0.1:23999/clickview"))
    assert printed == line.replace("127.0.0.1:8081", "127.0.0.1:23999")


def test_a_reading_can_be_named_for_a_provider(tokenmock_server: LiveMock) -> None:
    """`--reading` overrides what verify expects; an entry that is no switch is a usage error."""
    url = tokenmock_server.url("divetv")
    assert verify("divetv", "--base-url", url, "--reading", "DIVE-11=lenient", examples=3).exit_code == 0
    wrong = verify("divetv", "--base-url", url, "--reading", "DIVE-07=strict", examples=3)
    assert wrong.exit_code == 2 and "DIVE-07 is no switchable entry of divetv's register" in wrong.output


def test_progress_shows_on_a_terminal_only(capsys: pytest.CaptureFixture[str], tokenmock_server: LiveMock) -> None:
    from tokenmock.contracts.checks import Report
    from tokenmock.contracts.verify.command import _Progress

    report = Report("clickview")
    report.checks_by_phase["fuzzing"] = 7
    shown = _Progress(True)
    shown("fuzzing", "started", report)
    shown("auth_bootstrap", "started", report)  # schemathesis' own set-up steps are not phases to show
    shown("fuzzing", "finished", report)
    _Progress(False)("fuzzing", "started", report)
    assert re.fullmatch(r"  fuzzing    \.\.\. 7 checks, [\d.]+s\n", capsys.readouterr().err)
    # CliRunner's stderr is no terminal: the output is the result only.
    result = verify("clickview", "--base-url", tokenmock_server.url("clickview"), examples=3)
    assert " ... " not in result.output


def test_tokens_are_masked_whatever_verify_knew_of_them() -> None:
    from tokenmock.contracts.verify.report import Masker

    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    assert Masker({})(f"got {jwt} back") == "got *** back"


def test_credentials_in_the_url_are_masked_in_the_diagnostic_line() -> None:
    line = one_line(verify("clickview", "--base-url", "http://ci:s3cret-pw@127.0.0.1:23999/clickview"))
    assert "s3cret-pw" not in line and "ci:" not in line and " http://127.0.0.1:23999/clickview/connect/token" in line
