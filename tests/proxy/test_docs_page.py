"""docs/proxy.md, held to the code: its session prints what the page shows, its tables and numbers are
the code's."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.documentation import PAGES, section
from tests.ports import free_port
from tokenmock.cli import proxy as proxy_command
from tokenmock.mockserver.proxy import budget, listener, record
from tokenmock.mockserver.proxy.drift import DriftReport, Finding
from tokenmock.mockserver.proxy.readings import OBSERVERS

PAGE = PAGES["docs/proxy.md"]


def fenced(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.S | re.M)


@pytest.mark.skipif(not shutil.which("curl"), reason="needs curl (.ci/run installs it)")
def test_the_session_prints_what_the_page_shows(tmp_path: Path) -> None:
    text = section("A session")
    (script,) = fenced(text, "sh")
    (expected,) = fenced(text, "text")
    sandbox, proxy = str(free_port()), str(free_port())
    script = script.replace("8080", sandbox).replace("8081", proxy)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, result.stderr + (tmp_path / "proxy.log").read_text()
    assert result.stdout.replace(sandbox, "8080").replace(proxy, "8081") == expected


def test_the_observer_table_is_the_registry() -> None:
    rows = re.findall(r"^\| ([A-Z0-9]+-\d\d) \| (.+?) \|$", section("Readings observed"), re.M)
    documented = dict(rows)
    registered = {entry: o.shows for observers in OBSERVERS.values() for entry, o in observers.by_entry.items()}
    assert documented == registered
    assert [entry for entry, _ in rows] == sorted(registered)


def test_the_numbers_are_the_codes() -> None:
    safe = " ".join(section("Safe in front of anything").split())
    assert f"{budget.EXCHANGE_SECONDS:g} s by default" in safe and budget.BODY_BYTES == 1 << 20
    assert "(`--max-body-bytes`, 1 MiB)" in safe and budget.HEAD_BYTES == 64 * 1024 and "64 KiB" in safe
    defaults = listener.ClientBudget(max_body=1)
    assert f"closes after {defaults.idle_seconds:g} s" in safe
    assert f"at most {defaults.max_connections} connections" in safe
    assert f"at most {record.MAX_FILES} files" in " ".join(section("Recording examples").split())
    options = {param.opts[0] for param in proxy_command.params if param.opts and param.opts[0].startswith("--")}
    table = section("Proxying the real vendor: `tokenmock proxy`")
    assert options == set(re.findall(r"`(--[a-z-]+)", table.split("| option |", 1)[1].split("\n\n")[0]))
    defaults = {p.name: p.default for p in proxy_command.params}
    assert (defaults["timeout"], defaults["max_body_bytes"]) == (budget.EXCHANGE_SECONDS, budget.BODY_BYTES)


def test_the_json_example_has_the_reports_members() -> None:
    (example,) = fenced(section("The report"), "json")
    shown = json.loads(example)
    report = DriftReport("clickview", "http://upstream")
    assert set(shown) == set(report.to_json())
    finding = Finding(1, "response", "requestToken", 200, "type", "/expires_in", "must be of type integer")
    assert set(shown["drift"][0]) == {*finding.to_dict(), "exchange", "curl"}
