"""The system packages some tests need, and one rule for when one is missing.

Locally a missing program skips its tests, with the `apt-get` line that brings it; under CI (the `CI`
variable set, as CI services and `.ci/run` set it) the same absence fails the test, since `.ci/run`
installs every package below: a green CI run never hides a test that did not run.

    path = require("redis-server")          # in a fixture or a test
"""

from __future__ import annotations

import os
import shutil

import pytest

# Program -> the Debian package that ships it (`.ci/run` installs each; tests/test_system.py checks that).
PACKAGES = {
    "redis-server": "redis-server",  # the Redis store's tests (tests/redis_server.py)
    "chromium": "chromium",  # the control page's browser test (tests/e2e/test_control_page.py)
    "chromedriver": "chromium-driver",
    "curl": "curl",  # the documentation's curl examples, and curl as a TLS client
    "jq": "jq",  # the documentation's chaos example pipes curl into jq
}


def in_ci() -> bool:
    """Whether this run is CI's: `CI` set to anything but empty, 0 or false."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require(*programs: str) -> str:
    """The path of the first program (all must be on PATH); otherwise skip, or fail under CI."""
    unknown = sorted(set(programs) - PACKAGES.keys())
    if unknown:
        raise ValueError(f"no Debian package is known for {', '.join(unknown)}: add it to PACKAGES and .ci/run")
    missing = [name for name in programs if shutil.which(name) is None]
    if missing:
        packages = " ".join(dict.fromkeys(PACKAGES[name] for name in missing))
        message = f"needs {', '.join(missing)} (Debian: apt-get install {packages}; .ci/run installs it)"
        if in_ci():
            pytest.fail(f"{message}, missing under CI", pytrace=False)
        pytest.skip(message)
    found = shutil.which(programs[0])
    assert found is not None
    return found
