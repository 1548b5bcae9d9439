"""Errors a person can act on: one line and a non-zero exit, never a traceback or a page of server logs."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def tokenmock(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokenmock", *args], capture_output=True, text=True, timeout=120, env=env
    )


def one_line(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("Error: ")
    errors = [line for line in lines if line.startswith(("Error", "[", "Traceback"))]
    assert len(errors) == 1, lines
    return lines[-1]


def test_a_port_in_use_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line(tokenmock("serve", "--port", str(port), "--workers", "1"))
    assert f"port {port} on 127.0.0.1 is in use" in line


@pytest.mark.parametrize("port", ["99999", "0", "-1", "http"])
def test_an_invalid_port_is_a_usage_error(port: str) -> None:
    line = one_line(tokenmock("serve", "--port", port), code=2)
    assert "--port" in line


def test_a_host_that_does_not_resolve_is_one_line() -> None:
    line = one_line(tokenmock("serve", "--host", "no-such-host.invalid", "--port", "27990"))
    assert "cannot bind 'no-such-host.invalid'" in line


def test_a_bad_config_is_one_line_naming_file_key_and_rule(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text("[vendors.clickveiw]\ntoken_lifetime = 60\n", encoding="utf-8")
    line = one_line(tokenmock("serve", "--config", str(config), "--port", "27991"))
    assert line == f"Error: {config}: vendors.clickveiw: unknown vendor (did you mean 'clickview'?)"
    line = one_line(tokenmock("config", "--check", str(config)))
    assert "vendors.clickveiw" in line


def test_an_unreachable_url_names_the_url_and_the_cause() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, not listening: connections are refused
        line = one_line(
            tokenmock(
                "token",
                "clickview",
                "--base-url",
                f"http://127.0.0.1:{port}/clickview",
                "--client-id",
                "a",
                "--client-secret",
                "not-echoed",
            )
        )
    assert f"cannot reach http://127.0.0.1:{port}: connection refused" in line
    assert "not-echoed" not in line


def test_a_name_that_does_not_resolve_says_so() -> None:
    line = one_line(
        tokenmock(
            "token",
            "clickview",
            "--base-url",
            "http://no-such-host.invalid/clickview",
            "--client-id",
            "a",
            "--client-secret",
            "b",
        )
    )
    assert "cannot reach http://no-such-host.invalid: host name not found" in line


def test_credentials_in_the_url_never_reach_the_message() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        line = one_line(
            tokenmock(
                "token", "clickview", "--base-url", f"http://admin:url-secret-99@127.0.0.1:{port}/clickview?k=q-secret",
                "--client-id", "a", "--client-secret", "b",
            )
        )
    assert f"cannot reach http://127.0.0.1:{port}: connection refused" in line
    assert "url-secret-99" not in line and "q-secret" not in line and "admin" not in line
