"""tests/system.py: a missing system package skips its tests locally, with the way to install it, and
fails them under CI, where .ci/run installs every package the suite names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import system

CI_RUN = Path(__file__).resolve().parents[1] / ".ci" / "run"


@pytest.fixture
def nothing_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system.shutil, "which", lambda name: None)


@pytest.mark.parametrize("value", ["", "0", "false"])
def test_a_missing_program_skips_with_its_apt_line_outside_ci(
    nothing_installed: None, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception, match=r"needs chromedriver \(Debian: apt-get install chromium-driver;"):
        system.require("chromedriver")


@pytest.mark.parametrize("value", ["true", "1", "yes"])
def test_a_missing_program_fails_under_ci(nothing_installed: None, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match=r"needs curl, jq .* missing under CI"):
        system.require("curl", "jq")


def test_a_present_program_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert system.require("jq", "curl") == "/usr/bin/jq"


def test_a_program_without_a_known_package_is_a_mistake_in_the_test() -> None:
    with pytest.raises(ValueError, match="no Debian package is known for podman"):
        system.require("podman")


def test_ci_run_installs_every_package_and_runs_as_ci() -> None:
    script = CI_RUN.read_text(encoding="utf-8")
    installed = set(re.findall(r"missing\+=\(([\w.-]+)\)", script))
    assert installed >= set(system.PACKAGES.values())
    for program, package in system.PACKAGES.items():
        assert f"command -v {program} " in script and f"missing+=({package})" in script
    assert 'export CI="${CI:-true}"' in script
