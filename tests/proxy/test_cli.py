"""`tokenmock proxy` as a user runs it: a subprocess in front of `tokenmock serve`, stopped with SIGTERM,
leaving its report, JUnit XML, JSON, readings config and recorded examples."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from tests.e2e.test_serve import ROOT, start, stop
from tests.ports import free_port
from tests.proxy.upstreams import RawUpstream, answer
from tokenmock import contracts

SECRETS = ("demo-secret", "wrong-secret-value")


def run_proxy(*args: str) -> tuple[subprocess.Popen[str], str]:
    """Start `tokenmock proxy` and wait (bounded) until it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tokenmock", "proxy", *args, "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"proxy exited: {process.communicate()}")
        try:
            requests.get(url + "/__mock/health", timeout=5)
            return process, url
        except requests.ConnectionError:
            time.sleep(0.05)  # polling a starting server
    process.kill()
    raise AssertionError("proxy did not answer within 60 s")


def finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGTERM)
    return process.communicate(timeout=30)


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    process, base = start("--workers", "1")
    yield base
    stop(process)


def test_reports_readings_and_examples(upstream: str, tmp_path: Path) -> None:
    files = {name: tmp_path / name for name in ("junit.xml", "report.json", "readings.yaml")}
    process, url = run_proxy(
        "clickview",
        "--upstream",
        f"{upstream}/clickview",
        "--junit-xml",
        str(files["junit.xml"]),
        "--json",
        str(files["report.json"]),
        "--write-readings",
        str(files["readings.yaml"]),
        "--record",
        str(tmp_path / "examples"),
        "--fail-on-drift",
    )
    good = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"}
    token = requests.post(f"{url}/connect/token", data={**good, "scope": "smartembed.viewkey"}, timeout=10).json()
    requests.get(f"{url}/api/v1/example", headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10)
    requests.post(f"{url}/connect/token", data=good, timeout=10)  # no scope
    bad = {"grant_type": "client_credentials", "scope": "x"}
    requests.post(f"{url}/connect/token", data=bad, auth=("demo-client", "wrong-secret-value"), timeout=10)
    out, err = finish(process)
    assert process.returncode == 0, err  # the mock does not drift: --fail-on-drift passes
    assert "drift: 0" in out and "CV-03  lenient" in out and "CV-11  lenient" in out
    report = json.loads(files["report.json"].read_text())
    assert report["exchanges"] == 4 and report["drift"] == []
    assert report["readings"]["CV-07"]["reading"] == "not observed"
    suite = ET.parse(files["junit.xml"]).getroot()
    assert suite.get("failures") == "0" and {c.get("name") for c in suite} == {"requestToken", "getExample"}
    assert yaml.safe_load(files["readings.yaml"].read_text()) == {
        "readings": {"CV-02": "lenient", "CV-03": "lenient", "CV-11": "lenient"},
        "vendors": {"clickview": {"token_lifetime": 86400}},
    }
    examples = sorted((tmp_path / "examples").iterdir())
    assert {p.name.rsplit("-", 1)[0] for p in examples} == {"requestToken-200", "getExample-200", "requestToken-400"}
    written = [p.read_text() for p in [*examples, *files.values()]] + [out, err]
    for text in written:
        assert token["access_token"] not in text and not any(secret in text for secret in SECRETS)
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in [*examples, *files.values()])
    assert oct((tmp_path / "examples").stat().st_mode & 0o777) == "0o700"
    recorded = yaml.safe_load(next(p for p in examples if p.name.startswith("requestToken-200")).read_text())
    assert recorded["example"]["value"]["access_token"] == "<access_token>"
    for path in examples:  # candidates for the contract: each one validates against it
        candidate = yaml.safe_load(path.read_text())
        value, status = candidate["example"]["value"], candidate["status"]
        contracts.validate_response(
            "clickview", candidate["operationId"], status, value, content_type=candidate["media_type"]
        )
    assert recorded["example"]["x-source"].startswith(f"observed: tokenmock proxy against {upstream}/clickview")
    # The readings config makes a mock that follows them.
    served, base = start("--workers", "1", "--config", str(files["readings.yaml"]))
    try:
        readings = requests.get(base + "/", timeout=10).json()["vendors"]["clickview"]["readings"]
    finally:
        stop(served)
    assert {k: readings[k] for k in ("CV-02", "CV-03", "CV-11")} == {
        "CV-02": "lenient",
        "CV-03": "lenient",
        "CV-11": "lenient",
    }


def test_fail_on_drift_exits_1(tmp_path: Path) -> None:
    drifting = RawUpstream(answer(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"))
    try:
        process, url = run_proxy("clickview", "--upstream", drifting.url, "--fail-on-drift")
        assert requests.post(f"{url}/connect/token", data={"scope": "x"}, timeout=10).status_code == 503
        out, _ = finish(process)
    finally:
        drifting.stop()
    assert process.returncode == 1
    assert "drift: 1" in out and "status_code" in out


def test_upstream_with_credentials_is_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tokenmock", "proxy", "clickview", "--upstream", "https://user:pw@example.com/?k=v"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert result.returncode == 1 and "no user:password@" in result.stderr and "pw" not in result.stderr


def test_a_bad_upstream_url_is_named_without_its_credentials() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tokenmock",
            "proxy",
            "clickview",
            "--upstream",
            "ftp://user:pw-secret@example.com/x?k=v",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "ftp://example.com/x" in result.stderr
    assert "pw-secret" not in result.stderr and "k=v" not in result.stderr
