"""`specmatic test` against `tokenmock serve`: the contracts' examples pair as Specmatic pairs them (issue 24).

Specmatic turns each request example into a test and expects the response example of the same name (a
request example without one, or with a 2xx one, expects success). So the contracts name their examples in
pairs: the document's request with demo credentials and the documented answer, the placeholders with the
refusal they get, never a placeholder with a 200. Tokens for bearer-protected operations come the way
Specmatic documents: an environment variable named after the security scheme. Specmatic comes from the npm
package `specmatic` (which ships the jar; Java 17 runs it); without node or java it is skipped here and
fails under CI.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.test_serve import start, stop

OPENAPI = Path(__file__).resolve().parents[2] / "openapi"
SPECMATIC = "specmatic@2"
RUN_BOUND = 600  # seconds: stops a hung run (a first `npx` run downloads the jar), not a speed test
DEMO_KEY = "demo-client-key"


def _unavailable(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"specmatic must run in CI: {why}")
    pytest.skip(f"specmatic cannot run here: {why}")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    if shutil.which("npx") is None or shutil.which("java") is None:
        _unavailable("npx (node) or java is not installed")
    process, base = start()
    yield base
    stop(process)


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def tokens(base: str, vendor: str) -> dict[str, str]:
    """The environment Specmatic reads credentials from: one variable per security scheme of the contract."""
    if vendor == "clickview":
        form = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret",
                "scope": "smartembed.viewkey"}
        token = requests.post(f"{base}/clickview/connect/token", data=form, timeout=10).json()["access_token"]
        return {"clientCredentials": token, "clientBasic": basic("demo-client", "demo-secret")}
    if vendor == "junctiontv":
        answer = requests.post(f"{base}/junctiontv/ums/2.0/oauth/", auth=("demo-client", "demo-secret"), timeout=10)
        return {"bearerToken": answer.json()["access_token"], "clientBasic": basic("demo-client", "demo-secret")}
    if vendor == "vision10":
        body = {"grant_type": "client_credentials", "scope": "all", "client_id": "demo-client",
                "client_secret": "demo-secret"}
        token = requests.post(f"{base}/vision10/v1/api/oauth/token", json=body, timeout=10).json()["access_token"]
        return {"bearerToken": token}
    if vendor == "divetv":  # DIVE-02 lenient: base64(client_key + ":") is RFC 7617 Basic for user=key
        answer = requests.post(f"{base}/divetv/v1/token", params={"grant_type": "device_credentials"},
                               json={"username": "demo-user", "password": "4b4d9529148d8d9440d7e20c78287f69"},
                               headers={"Authorization": f"Basic {DEMO_KEY}"}, timeout=10)
        return {"bearerToken": answer.json()["access_token"], "clientBasic": basic(DEMO_KEY, "")}
    raise AssertionError(vendor)


def specmatic(vendor: str, base: str, env: dict[str, str], workdir: Path) -> subprocess.CompletedProcess[str]:
    """One `specmatic test` run. npx starts java as a child: both run in a process group of their own,
    which a run past RUN_BOUND loses whole (subprocess.run's timeout would kill npx alone)."""
    command = ["npx", "--yes", SPECMATIC, "test", str(OPENAPI / f"{vendor}.yaml"), "--testBaseURL", f"{base}/{vendor}"]
    process = subprocess.Popen(
        command, cwd=workdir, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=RUN_BOUND)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
    return subprocess.CompletedProcess(command, process.returncode, out, err)


@pytest.mark.parametrize("vendor", ["clickview", "junctiontv", "vision10", "divetv"])
def test_specmatic_passes_against_the_mock(server: str, vendor: str, tmp_path: Path) -> None:
    run = specmatic(vendor, server, tokens(server, vendor), tmp_path)
    summary = re.search(r"Tests run: (\d+), Successes: (\d+), Failures: (\d+), WIP: \d+, Errors: (\d+)", run.stdout)
    if summary is None:
        _unavailable(f"no summary from specmatic: {(run.stdout + run.stderr)[-800:]}")
    assert summary is not None
    ran, passed, failed, errors = map(int, summary.groups())
    failures = [line for line in run.stdout.splitlines() if "has FAILED" in line]
    assert (failed, errors) == (0, 0), "\n".join(failures) + run.stdout[-3000:]
    assert ran == passed and ran >= 2  # the token operation and the resource, at least


def test_specmatic_cannot_read_aminotv_for_its_cookie_scheme(server: str, tmp_path: Path) -> None:
    """AminoTV's cookie exchange authenticates with a session cookie (an apiKey in a cookie), which Specmatic
    does not support: it refuses the whole contract. When it learns cookies, this test says so."""
    run = specmatic("aminotv", server, {}, tmp_path)
    assert "components.securitySchemes.sessionCookie" in run.stdout
    assert "Specmatic only supports oauth2, openIdConnect, bearer, basic, and api key authentication (header, query)" \
        in run.stdout
