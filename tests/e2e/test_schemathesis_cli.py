"""The plain schemathesis CLI, run from the repository root as a user would, is clean against
`tokenmock serve` for every vendor: schemathesis.toml carries the project's vendor-specific settings."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_serve import ROOT, start, stop
from tokenmock import contracts

# Modest, so five vendors run in a few minutes on two busy cores.
EXAMPLES = 10


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    # No access log: nobody reads the server's output pipe until it stops, and a full pipe blocks it.
    process, base = start("--workers", "1", env={"TOKENMOCK__ACCESS_LOG": "false"})
    yield base
    stop(process)


def st_command() -> list[str]:
    st = shutil.which("st") or str(Path(sys.executable).with_name("st"))
    return [st]


@pytest.mark.e2e
@pytest.mark.parametrize("vendor", contracts.vendors())
def test_st_run_from_the_repository_root_is_clean(vendor: str, served: str, tmp_path: Path) -> None:
    command = [
        *st_command(),
        "run",
        f"openapi/{vendor}.yaml",
        "--url",
        f"{served}/{vendor}",
        "-n",
        str(EXAMPLES),
        "--seed",
        "1",
        "--report",
        "junit",
        "--report-junit-path",
        str(tmp_path / "junit.xml"),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    # Every phase ran with the file's checks (the toml enables all of them but the documented exceptions).
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert phase in done.stdout
    assert "failures" not in done.stdout.splitlines()[-1]
    # The stateful phase walks the contract's links: it gets a token with the toml's demo credentials
    # (Dive's in the body through `parameters`; it used to cover 0 of 2), so every vendor's chains run.
    (covered,) = re.findall(r"API Links:\s+(\d+) covered", done.stdout)
    links = [
        link
        for op in contracts.operations(vendor)
        for response in op.responses.values()
        for link in (response.get("links") or {}).values()
    ]
    assert int(covered) >= min(len(links), 2), done.stdout[-3000:]
