"""Run pytest on a user's test files in a subprocess, the tokenmock plugin loaded as a user gets it."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

TIMEOUT = 300  # seconds: a safety stop for a hung run, far above the seconds one takes

def plugin_installed() -> bool:
    """True when the `pytest11` entry point loads the plugin (installed, editable or not)."""
    return any(ep.name == "tokenmock" for ep in importlib.metadata.entry_points(group="pytest11"))


def run_pytest(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m pytest ARGS` in `directory` (its own rootdir), with this environment's tokenmock."""
    load = [] if plugin_installed() else ["-p", "tokenmock.pytest_plugin"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *load, *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


