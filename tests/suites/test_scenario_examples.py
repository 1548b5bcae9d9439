"""The documentation's scenario examples (issue 17): the pytest-plugin one is this file's first test, quoted verbatim;
the curl one is run by bash against a live mock."""

from __future__ import annotations

import inspect
import re
import subprocess
from collections.abc import Callable

import pytest
import requests
from flask import Flask

from tests.conftest import LiveServer
from tests.documentation import TEXT
from tests.system import require
from tokenmock.client import AuthenticationError, ClickViewClient
from tokenmock.pytest_plugin import LiveMock

README = TEXT  # the README and the docs site


def test_my_client_recovers_from_a_401(tokenmock_server: LiveMock) -> None:
    tokenmock_server.sequence("clickview", "requestToken", [
        {"kind": "documented", "example": "invalid_client_basic"},  # the contract's 401, headers included
        {"kind": "real"},                                            # then the mock's own answer
    ])
    demo = tokenmock_server.demo("clickview")
    client = ClickViewClient(demo["client_id"], demo["client_secret"], base_url=tokenmock_server.url("clickview"))
    with pytest.raises(AuthenticationError):
        client.token()
    assert client.token().access_token
    assert [e["status"] for e in tokenmock_server.requests(vendor="clickview")] == [401, 200]


def test_the_readme_quotes_the_plugin_example_verbatim() -> None:
    source = inspect.getsource(test_my_client_recovers_from_a_401)
    assert source in README, "README's pytest plugin scenario example drifted from this test"


def scenario_curl_block() -> str:
    blocks = [b for b in re.findall(r"```sh\n(.*?)```", README, re.S) if '"kind":"sequence"' in b]
    assert len(blocks) == 1, "README should have one curl block arming a sequence"
    return blocks[0]


def test_the_readme_curl_scenario_runs(make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer]) -> None:
    require("curl")
    live = serve(make_app())
    script = "set -e\n" + scenario_curl_block().replace("http://127.0.0.1:8080", live.url)
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    journal = requests.get(f"{live.url}/__mock/requests", timeout=5).json()["requests"]
    assert [(e["status"], e["fault"]) for e in journal] == [
        (401, "sequence:1:documented"),
        (200, "sequence:2:real"),
    ]
    assert "HTTP/1.1 401" in run.stdout and 'WWW-Authenticate: Basic realm="clickview"' in run.stdout
