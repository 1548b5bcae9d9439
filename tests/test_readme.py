"""The README's Python examples run against a live mock, and its commands name real things."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from tests.conftest import LiveServer
from tokenmock.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
DEFAULT_ROOT = "http://127.0.0.1:8080"


@pytest.fixture
def live(make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer]) -> LiveServer:
    return serve(make_app())


def test_the_readme_has_an_example_per_vendor() -> None:
    joined = "\n".join(PYTHON_BLOCKS)
    for name in ("JunctionTVClient", "ClickViewClient", "Vision10Client", "DiveTVClient", "AminoTVClient"):
        assert name in joined


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_readme_python_example_runs(index: int, live: LiveServer, tmp_path: Path) -> None:
    code = PYTHON_BLOCKS[index].replace(DEFAULT_ROOT, live.url).replace("/tmp/", f"{tmp_path}/")
    exec(compile(code, f"README.md python block {index}", "exec"), {})


def test_readme_promises_the_two_commands() -> None:
    assert "pip install -e . && tokenmock serve" in README
    assert "pip install tox && tox" in README


def test_readme_admin_curls_name_documented_admin_paths() -> None:
    from tokenmock import contracts
    admin = contracts.loader.read_yaml("admin.yaml")
    paths = set(admin["paths"])
    used = set(re.findall(r"127\.0\.0\.1:8080/__mock(/[a-z]+)", README))
    assert used and used <= paths


def test_token_command_prints_a_token(live: LiveServer) -> None:
    result = CliRunner().invoke(
        main,
        ["token", "clickview", "--base-url", f"{live.url}/clickview", "--client-id", "demo-client"],
        env={"TOKENMOCK_CLIENT_SECRET": "demo-secret"},
    )
    assert result.exit_code == 0, result.output
    assert '"access_token"' in result.output and '"scope": "smartembed.viewkey"' in result.output


def test_token_command_says_what_is_missing(live: LiveServer) -> None:
    result = CliRunner().invoke(main, ["token", "divetv", "--base-url", f"{live.url}/divetv"], env={})
    assert result.exit_code == 2
    assert "--client-key" in result.output and "--username" in result.output


def test_token_command_reports_refusal_without_traceback(live: LiveServer) -> None:
    result = CliRunner().invoke(
        main,
        [
            "token",
            "vision10",
            "--base-url",
            f"{live.url}/vision10",
            "--client-id",
            "x",
            "--client-secret",
            "wrong-s3cret",
        ],
    )
    assert result.exit_code == 1
    assert "240101" in result.output and "Traceback" not in result.output
    assert "wrong-s3cret" not in result.output
