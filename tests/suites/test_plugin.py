"""The pytest plugin: the live mock (one per session, clean for every test), the in-process app, the
settings fixture users override, and the replay server for fuzzing clients."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from tests import documentation
from tests.inner_pytest import run_pytest
from tests.ports import free_port
from tokenmock import contracts, pytest_plugin
from tokenmock.client import ClickViewClient, TransportError
from tokenmock.contracts.strategies import Reply
from tokenmock.pytest_plugin import LiveMock, ReplayServer

# The plugin's public fixtures, each documented for `pytest --fixtures`.
FIXTURES = {
    name: getattr(pytest_plugin, name)
    for name in ("tokenmock_server", "tokenmock_port", "tokenmock_settings", "tokenmock_app", "tokenmock_replay")
}


def test_the_live_mock_serves_every_vendor_on_loopback(tokenmock_server: LiveMock) -> None:
    assert tokenmock_server.root.startswith("http://127.0.0.1:")
    assert set(tokenmock_server.vendors) == set(contracts.vendors())
    for vendor in contracts.vendors():
        contract = requests.get(f"{tokenmock_server.url(vendor)}/openapi.yaml", timeout=5)
        assert contract.status_code == 200
        assert f"x-vendor: {vendor}" in contract.text
        assert tokenmock_server.demo(vendor), f"{vendor} has no demo credentials"


def test_a_client_gets_a_token_from_the_live_mock(tokenmock_server: LiveMock) -> None:
    demo = tokenmock_server.demo("clickview")
    clickview = ClickViewClient(demo["client_id"], demo["client_secret"], base_url=tokenmock_server.url("clickview"))
    assert clickview.token().access_token
    assert tokenmock_server.control.requests(vendor="clickview")[-1]["status"] == 200


# The next two tests run in this order: the first leaves state behind, the second must not see it.


def test_state_one_test_leaves_behind(tokenmock_server: LiveMock) -> None:
    tokenmock_server.control.fault("vision10", "getAccessToken", "status", status=503, times=5)
    tokenmock_server.control.clock.freeze(0)
    requests.post(f"{tokenmock_server.url('vision10')}/v1/api/oauth/token", json={}, timeout=5)
    assert tokenmock_server.control.requests()
    assert tokenmock_server.control.faults()["faults"]


def test_is_gone_in_the_next(tokenmock_server: LiveMock) -> None:
    assert tokenmock_server.control.requests() == []
    assert tokenmock_server.control.faults()["faults"] == []
    assert not tokenmock_server.control.clock.state()["frozen"]


def test_the_in_process_app_validates_its_responses(tokenmock_app: Flask) -> None:
    index = tokenmock_app.test_client().get("/")
    assert index.status_code == 200
    assert set(index.get_json()["vendors"]) == set(contracts.vendors())
    assert tokenmock_app.extensions["tokenmock"].validate_responses


class TestSettingsAreAFixtureToOverride:
    @pytest.fixture
    def tokenmock_settings(self) -> dict[str, Any]:
        return {"vendor": "junctiontv", "access_log": False, "validate_responses": True}

    def test_one_vendor_at_the_root(self, tokenmock_app: Flask) -> None:
        assert tokenmock_app.extensions["tokenmock"].mounted == {"junctiontv": ""}


def test_the_replay_server_answers_with_the_reply_it_is_given(tokenmock_replay: ReplayServer) -> None:
    teapot = Reply(418, (("Content-Type", "text/plain"),), b"short and stout", "example")
    tokenmock_replay.play(teapot, routes={"/token": Reply(200, (), b"{}", "example")})
    other = requests.post(f"{tokenmock_replay.url}/other", data=b"x=1", timeout=5)
    token = requests.get(f"{tokenmock_replay.url}/token?a=b", timeout=5)
    assert (other.status_code, other.text, other.headers["Content-Type"]) == (418, "short and stout", "text/plain")
    assert (token.status_code, token.text) == (200, "{}")
    assert [(r.method, r.path, r.body) for r in tokenmock_replay.received] == [
        ("POST", "/other", b"x=1"),
        ("GET", "/token?a=b", b""),
    ]


def test_controls_are_on_the_fixture_itself(tokenmock_server: LiveMock) -> None:
    """As in issue 6: `tokenmock_server.fault(...)`, `tokenmock_server.clock.advance(...)`, `.chaos(seed)`."""
    demo = tokenmock_server.demo("clickview")
    client = ClickViewClient(demo["client_id"], demo["client_secret"], base_url=tokenmock_server.url("clickview"))
    tokenmock_server.fault("clickview", "requestToken", "status", times=5, status=500)
    with pytest.raises(TransportError):
        client.token()
    before = tokenmock_server.clock.now()
    assert tokenmock_server.clock.advance(3600) >= before + 3600
    # The slow kinds left out, every draw answers (or hangs up) at once: the journal has it when the call returns.
    assert tokenmock_server.chaos(seed=3, exclude=["stalled_body", "dripping_body", "no_answer"])["seed"] == 3
    with contextlib.suppress(requests.RequestException):  # a chaos draw may break the connection
        requests.post(f"{tokenmock_server.url('clickview')}/connect/token", data={}, timeout=60)
    assert tokenmock_server.requests(limit=1)[0]["fault"].startswith("chaos:0:")


def test_chaos_started_in_one_test_is_gone_in_the_next(tokenmock_server: LiveMock) -> None:
    assert tokenmock_server.chaos_state()["seed"] is None


def test_the_url_is_the_root_and_a_vendor_url_is_one_concatenation_away(tokenmock_server: LiveMock) -> None:
    assert isinstance(tokenmock_server.url, str)
    assert tokenmock_server.url == tokenmock_server.root == f"http://127.0.0.1:{tokenmock_server.port}"
    for vendor in contracts.vendors():
        assert tokenmock_server.url + f"/{vendor}" == tokenmock_server.url_for(vendor) == tokenmock_server.url(vendor)
    token = requests.post(
        tokenmock_server.url + "/clickview/connect/token",
        data={**tokenmock_server.demo("clickview"), "grant_type": "client_credentials"},
        timeout=5,
    )
    assert token.status_code == 200, token.text


def test_an_unknown_vendor_url_says_what_is_served(tokenmock_server: LiveMock) -> None:
    with pytest.raises(ValueError, match="'clickveiw' is not served here; served: junctiontv, clickview"):
        tokenmock_server.url_for("clickveiw")


PINNED_TEST = """
def test_pinned(tokenmock_server, tokenmock_port):
    assert tokenmock_port == {port}
    assert tokenmock_server.url == "http://127.0.0.1:{port}"
    assert tokenmock_server.clock.now() > 0
"""


@pytest.mark.parametrize("how", ["option", "ini", "both"])
def test_the_port_can_be_pinned(how: str, tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "test_pinned.py").write_text(PINNED_TEST.format(port=port))
    args = ["-q"]
    if how in ("option", "both"):
        args.append(f"--tokenmock-port={port}")
    if how in ("ini", "both"):  # with both, the option wins: the ini names a port no test expects
        (tmp_path / "pytest.ini").write_text(f"[pytest]\ntokenmock_port = {port if how == 'ini' else 1}\n")
    result = run_pytest(tmp_path, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_a_pinned_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", free_port())) as taken:
        port = taken.getsockname()[1]
        (tmp_path / "test_pinned.py").write_text(PINNED_TEST.format(port=port))
        result = run_pytest(tmp_path, "-q", f"--tokenmock-port={port}")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"tokenmock_server cannot listen on 127.0.0.1:{port}: Address already in use" in result.stdout
    assert "Traceback" not in result.stdout


def test_a_pinned_port_in_use_is_reported_once_and_names_xdist_in_a_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What `pytest -n 2 --tokenmock-port P` does to the second worker: the port is taken.
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    with socket.create_server(("127.0.0.1", free_port())) as taken:
        port = taken.getsockname()[1]
        (tmp_path / "test_pinned.py").write_text(PINNED_TEST.format(port=port))
        result = run_pytest(tmp_path, "-q", "-rN", f"--tokenmock-port={port}")  # -rN: no summary line
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.count("cannot listen on") == 1, result.stdout
    assert "During handling of the above exception" not in result.stdout
    assert "cannot be shared by pytest-xdist workers" in result.stdout


MARKER_MISTAKE = """
import pytest

@pytest.mark.tokenmock(faults={"kind": "documented"})
def test_marked(tokenmock_server):
    pass
"""


def test_a_marker_mistake_is_reported_once(tmp_path: Path) -> None:
    (tmp_path / "test_marked.py").write_text(MARKER_MISTAKE)
    result = run_pytest(tmp_path, "-q", "-rN")  # -rN: no short summary repeating the message
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.count("tokenmock has no argument faults") == 1, result.stdout
    assert "During handling of the above exception" not in result.stdout


UNPINNED_TEST = """
import requests

def test_unpinned(tokenmock_server, tokenmock_port):
    assert tokenmock_port == 0  # the port asked for: any free one
    assert tokenmock_server.port > 0
    assert tokenmock_server.url == f"http://127.0.0.1:{tokenmock_server.port}"
    assert requests.get(tokenmock_server.url + "/", timeout=5).status_code == 200
"""


def test_the_port_asked_for_and_the_port_listened_on(tmp_path: Path) -> None:
    (tmp_path / "test_unpinned.py").write_text(UNPINNED_TEST)
    result = run_pytest(tmp_path, "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    row = next(line for line in documentation.TEXT.splitlines() if line.startswith("| `tokenmock_port` |"))
    assert "tokenmock_server.port" in row and "asked for" in row
    assert "tokenmock_server.port" in (pytest_plugin.tokenmock_port.__doc__ or "")


def test_the_fixtures_are_documented_in_pytest_fixtures(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, "--fixtures")
    assert result.returncode == 0, result.stdout + result.stderr
    shown = result.stdout
    for name, fixture in FIXTURES.items():
        first_line = (fixture.__doc__ or "").strip().splitlines()[0]
        assert name in shown and first_line and first_line in shown, f"{name}: its docstring is not shown"
    # pytest --help documents the option too.
    assert "--tokenmock-port=PORT" in run_pytest(tmp_path, "--help").stdout
