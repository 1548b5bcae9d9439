"""`tokenmock verify` against the hostile providers of tests/providers/hostile.py, served by wsgiref as the
independent providers are, attacking on every path (the root probe included): each run ends by verify's
own bounds (a whole-exchange deadline, a body cap), follows no redirect to another origin, and writes
nothing a terminal or an XML parser would take for anything but text.

verify runs in a subprocess with an address-space limit; the test's own bound (RUNAWAY) only stops a
verify that nothing else stopped, and then reports that, rather than timing anything.
"""

from __future__ import annotations

import re
import resource
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.providers import clickview
from tests.providers.base import Knobs, Served
from tests.providers.hostile import ATTACKS, HOSTILE, Recorder, escapes, redirect_to

RUNAWAY = 120  # seconds: far beyond the bounds given to verify below (2 s an exchange, 60 s the run)
MEMORY = 2 << 30  # bytes of address space verify may take (an unbounded read of `endless` passes it)
# Control characters other than newline and tab, raw, in what verify writes.
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def run_verify(base_url: str, junit: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tokenmock", "verify", "clickview", "--base-url", base_url]
    command += [
        "--client-id",
        clickview.CLIENT_ID,
        "--client-secret",
        clickview.CLIENT_SECRET,
        "--scope",
        clickview.SCOPE,
    ]
    command += ["--max-examples", "2", "--seed", "1"]
    command += ["--timeout", "2", "--run-timeout", "60", "--junit-xml", str(junit)]
    try:
        return subprocess.run(
            command, capture_output=True, text=True, timeout=RUNAWAY, preexec_fn=_limit_memory, errors="replace"
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"verify still running after {RUNAWAY} s: none of its own bounds stopped it")


@pytest.fixture
def served() -> Iterator[list[Served]]:
    servers: list[Served] = []
    yield servers
    for server in servers:
        server.stop()


def assert_clean(result: subprocess.CompletedProcess[str], junit: Path) -> None:
    """verify ended by itself, reporting a failure; what it wrote is plain text and well-formed XML."""
    written = result.stdout + result.stderr
    assert "Traceback" not in written and "MemoryError" not in written, written[-2000:]
    assert result.returncode == 1, written[-2000:]
    assert not RAW_CONTROL.search(written), RAW_CONTROL.findall(written)
    if junit.exists():
        text = junit.read_text(encoding="utf-8")
        assert not RAW_CONTROL.search(text)
        ET.fromstring(text)  # well-formed


# What verify names as the bound that stopped it.
BOUNDS = {"drip": "within 2 s", "endless": "(--max-body)", "huge": "(--max-body)"}


def test_every_attack_is_tested() -> None:
    assert {*BOUNDS, "redirect", "escapes"} == set(ATTACKS)


@pytest.mark.parametrize("attack", sorted(BOUNDS))
def test_a_provider_that_never_finishes_is_cut_off(attack: str, tmp_path: Path, served: list[Served]) -> None:
    server = Served(HOSTILE[attack])
    served.append(server)
    junit = tmp_path / "verify.xml"
    result = run_verify(server.url, junit)
    assert_clean(result, junit)
    assert BOUNDS[attack] in result.stdout + result.stderr


def test_escape_sequences_never_reach_the_terminal_or_the_junit_file(tmp_path: Path, served: list[Served]) -> None:
    server = Served(escapes(clickview.app(Knobs(discovery=True))))
    served.append(server)
    junit = tmp_path / "verify.xml"
    result = run_verify(server.url, junit)
    assert_clean(result, junit)
    assert "\x1b" not in result.stdout + result.stderr
    assert junit.exists(), "verify wrote no JUnit file"


def test_redirects_to_another_origin_are_not_followed(tmp_path: Path, served: list[Served]) -> None:
    recorder = Recorder()
    other = Served(recorder)
    served.append(other)
    server = Served(redirect_to(other.url))
    served.append(server)
    junit = tmp_path / "verify.xml"
    result = run_verify(server.url, junit)
    assert_clean(result, junit)
    assert recorder.seen == [], f"verify followed a redirect to another origin: {recorder.seen[:5]}"
