"""The README's Python examples run against a live mock, and its commands name real things."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from tests.conftest import LiveServer
from tokenmock.cli import main
from tokenmock.mockserver import create_app
from tokenmock.mockserver.config import load_settings
from tokenmock.mockserver.cors import allowed_origins

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
DEFAULT_ROOT = "http://127.0.0.1:8080"
# Blocks that need `tokenmock serve --tls` run in tests/e2e/test_tls.py, against one.
TLS_ROOT = "https://localhost:8080"
PYTHON_BLOCKS = [block for block in re.findall(r"```python\n(.*?)```", README, re.S) if TLS_ROOT not in block]


def section(heading: str) -> str:
    """The README text under a `## ` heading, up to the next one."""
    start = README.index(f"\n## {heading}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end >= 0 else None]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


@pytest.fixture
def live(serve: Callable[[Flask], LiveServer]) -> LiveServer:
    """The mock as a user runs it: real time (examples verify `exp` with their own libraries)."""
    return serve(create_app({"validate_responses": True, "access_log": False}))


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
    used = set(re.findall(r"127\.0\.0\.1:8080/__mock(/[a-z][a-z./]*[a-z])", README))
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


SURROUNDINGS = section("Around the token endpoint: JWKS, discovery, HTTPS, CORS, health")
SURROUNDING_SHELL = [b for b in blocks(SURROUNDINGS, "sh") if TLS_ROOT not in b and "tokenmock serve" not in b]


def test_every_surrounding_item_has_curl_and_python() -> None:
    for item in ("JWKS", "Discovery", "HTTPS", "CORS", "Health"):
        text = SURROUNDINGS.split(f"### {item}", 1)[1].split("\n### ", 1)[0]
        assert blocks(text, "sh") and blocks(text, "python"), item
        assert "curl" in "".join(blocks(text, "sh"))


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("index", range(len(SURROUNDING_SHELL)))
def test_surrounding_shell_examples_run(index: int, live: LiveServer) -> None:
    script = SURROUNDING_SHELL[index].replace(DEFAULT_ROOT, live.url)
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr  # every curl there has -f: an HTTP error fails it
    if "OPTIONS" in script:
        assert " 204 " in done.stdout and "Access-Control-Allow-Origin: http://localhost:3000" in done.stdout


def test_surrounding_settings_are_valid() -> None:
    (toml,) = blocks(SURROUNDINGS, "toml")
    settings = load_settings(tomllib.loads(toml), environ={})
    assert allowed_origins(settings["cors_origins"]) == {"http://localhost:3000"}
    assert settings["tls"]["enabled"] and settings["tls"]["hostnames"] == ["mock.ci.example"]
    environment = {"TOKENMOCK__CORS_ORIGINS": "http://localhost:3000,https://app.example"}
    assert allowed_origins(load_settings(environ=environment)["cors_origins"]) == {
        "http://localhost:3000",
        "https://app.example",
    }
    assert allowed_origins(load_settings(environ={"TOKENMOCK__CORS_ORIGINS": ""})["cors_origins"]) is None
    ca_dir = load_settings(environ={"TOKENMOCK__TLS__CA_DIR": "/var/lib/tokenmock/tls"})["tls"]["ca_dir"]
    assert ca_dir == "/var/lib/tokenmock/tls"


def test_the_register_count_is_the_registers() -> None:
    from tokenmock import contracts

    assert f"({len(contracts.register())} entries)" in README
