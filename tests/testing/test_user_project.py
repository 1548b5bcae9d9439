"""A user's project, run by pytest with the plugin as a user gets it: their code calls ClickView's and
Vision10's real URLs with requests and with httpx, and their tests pass with no server and no socket."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.inner_pytest import run_pytest

SERVICE = '''
"""The user's code: it knows the vendors' URLs, and nothing of tokenmock."""
import httpx
import requests

CLICKVIEW = "https://auth.clickviewapp.com/connect/token"
CLICKVIEW_API = "https://integrations.clickviewapp.com/api/v1/example"
VISION10 = "https://api.vision10.example.com/v1/api/oauth/token"


def clickview_example(client_id, client_secret):
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret,
            "scope": "smartembed.viewkey"}
    token = requests.post(CLICKVIEW, data=form, timeout=5).json()["access_token"]
    with httpx.Client(timeout=5) as client:
        return client.get(CLICKVIEW_API, headers={"Authorization": "Bearer " + token}).json()


def vision10_token(client_id, client_secret):
    body = {"grant_type": "client_credentials", "scope": "all", "client_id": client_id, "client_secret": client_secret}
    with_requests = requests.post(VISION10, json=body, timeout=5)
    with_requests.raise_for_status()
    with_httpx = httpx.post(VISION10, json=body, timeout=5)
    return with_requests.json()["access_token"], with_httpx.json()["access_token"]
'''

CONFTEST = '''
import socket

import pytest


@pytest.fixture(scope="session")
def tokenmock_hosts():
    return {"api.vision10.example.com": "vision10"}  # Vision10 documents no host: the one we were given


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
'''

TESTS = '''
import httpx
import pytest
import requests

import service
from tokenmock.testing import ANY


def test_clickview_and_vision10_with_no_server(tokenmock_in_process, no_network):
    assert service.clickview_example("demo-client", "demo-secret")["client_id"] == "demo-client"
    first, second = service.vision10_token("demo-client", "demo-secret")
    assert first.count(".") == second.count(".") == 2  # RS256 JWTs
    tokenmock_in_process.assert_received("clickview", "requestToken", times=1, form={"client_secret": ANY})
    tokenmock_in_process.assert_received("vision10", "getAccessToken", times=2, json={"client_id": "demo-client"})


@pytest.mark.tokenmock(fault={"kind": "documented", "vendor": "vision10", "operation": "getAccessToken",
                              "status": 401})
def test_a_refusal_for_this_test_only(tokenmock_in_process):
    with pytest.raises(requests.HTTPError, match="401"):
        service.vision10_token("demo-client", "demo-secret")


def test_the_refusal_is_gone(tokenmock_in_process):
    assert all(service.vision10_token("demo-client", "demo-secret"))


@pytest.mark.tokenmock(fault={"kind": "connection_reset", "vendor": "clickview", "times": 2})
def test_a_reset_is_what_each_library_raises(tokenmock_in_process):
    with pytest.raises(requests.ConnectionError):
        requests.post(service.CLICKVIEW, data={}, timeout=5)
    with pytest.raises(httpx.ReadError):
        httpx.post(service.CLICKVIEW, data={})


@pytest.mark.tokenmock(fault={"kind": "status", "vendor": "clickview", "status": 503})
def test_the_marker_with_the_live_server(tokenmock_server):
    url = tokenmock_server.url_for("clickview") + "/connect/token"
    assert requests.post(url, data={}, timeout=5).status_code == 503


def test_the_live_server_fault_is_gone(tokenmock_server):
    url = tokenmock_server.url_for("clickview") + "/connect/token"
    assert requests.post(url, data={}, timeout=5).status_code == 400
'''

NEAR_MISS = '''
import requests


def test_wrong_grant(tokenmock_in_process):
    requests.post("https://auth.clickviewapp.com/connect/token", data={"grant_type": "password"}, timeout=5)
    tokenmock_in_process.assert_received("clickview", "requestToken", form={"grant_type": "client_credentials"})
'''


def project(tmp_path: Path, **files: str) -> Path:
    for name, code in files.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(code), encoding="utf-8")
    return tmp_path


def test_the_users_tests_pass_with_no_server(tmp_path: Path) -> None:
    folder = project(tmp_path, service=SERVICE, conftest=CONFTEST, test_service=TESTS)
    result = run_pytest(folder, "-q", "-W", "error", "-p", "no:randomly")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout, result.stdout


def test_a_failed_assertion_prints_the_near_miss_report(tmp_path: Path) -> None:
    result = run_pytest(project(tmp_path, test_near_miss=NEAR_MISS), "-q")
    assert result.returncode == 1
    assert "AssertionError: expected at least 1 request matching vendor='clickview'" in result.stdout
    assert "form.grant_type: expected 'client_credentials', got 'password'" in result.stdout
    assert "#1 POST /connect/token -> 400 (clickview.requestToken, answered by " in result.stdout


def test_the_marker_is_registered(tmp_path: Path) -> None:
    shown = run_pytest(tmp_path, "--markers").stdout
    assert "@pytest.mark.tokenmock(settings=None, fault=None, sequence=None" in shown
