"""Podman for the container tests: its settings on these machines, a local test base, the image under test.

No registry can be reached here (shared/notes/containers.md), so the `python:3.12-slim` base that the
Dockerfile names by default is replaced by a Debian base that mmdebstrap makes from Debian's packages:
python3 and its venv module (what the Dockerfile needs), redis-server (the compose farm's store) and
the host's CA bundle with a pip.conf naming it (pip inside `podman build` goes through the same
TLS-inspecting proxy as the host). The base is tagged by a hash of everything that goes into it, so it
is made once per machine and reused until that changes. Podman runs with runc and cgroupfs through a
`CONTAINERS_CONF` file of its own (crun refuses this cgroup setup), set for every podman call made here.

When podman, runc or mmdebstrap is missing, `require()` fails under `CI` (whose setup installs them:
.ci/container-setup.sh) and skips with the reason elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
TOOLS = {"podman": "podman", "runc": "runc", "mmdebstrap": "mmdebstrap"}  # binary -> Debian package
SUITE = "bookworm"
PACKAGES = ("python3", "python3-venv", "ca-certificates", "redis-server")
CONF = """\
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
"""
IMAGE = "localhost/tokenmock:test"
# Safety stops (seconds), far above what each step takes here; a step past one fails with its output.
BASE_TIMEOUT = 900
BUILD_TIMEOUT = 1200
STEP_TIMEOUT = 120
READY_TIMEOUT = 90


def missing_tools() -> list[str]:
    """The Debian packages whose binaries are not on PATH."""
    return [package for binary, package in TOOLS.items() if shutil.which(binary) is None]


def require() -> None:
    """Skip (locally) or fail (under CI) when podman cannot run here, with the reason."""
    missing = missing_tools()
    if not missing:
        return
    message = f"podman cannot run: missing {', '.join(missing)} (Debian: apt-get install {' '.join(missing)})"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


class StepFailed(AssertionError):
    """A podman (or mmdebstrap) command exited non-zero: its command line and output are the message."""


class Podman:
    """Runs podman with this machine's settings (a CONTAINERS_CONF file of our own)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        conf = workdir / "containers.conf"
        conf.write_text(CONF)
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}

    def run(
        self, *args: str, timeout: float = STEP_TIMEOUT, check: bool = True, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.command(["podman", *args], timeout=timeout, check=check, cwd=cwd)

    def command(
        self, argv: Sequence[str], *, timeout: float = STEP_TIMEOUT, check: bool = True, cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            list(argv), env={**self.env, **(env or {})}, cwd=cwd, capture_output=True, text=True,
            timeout=timeout, check=False,
        )
        if check and result.returncode != 0:
            raise StepFailed(f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def exists(self, image: str) -> bool:
        return self.run("image", "exists", image, check=False).returncode == 0

    def inspect(self, what: str) -> dict[str, Any]:
        return dict(json.loads(self.run("inspect", what).stdout)[0])

    # The test base: Debian from Debian's packages, trusting what the host trusts.

    def test_base(self) -> str:
        """The tag of the local base image, made with mmdebstrap the first time (about a minute)."""
        cafile = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")
        recipe = json.dumps([SUITE, PACKAGES, cafile.read_bytes().hex()]).encode()
        image = f"localhost/tokenmock-testbase:{hashlib.sha256(recipe).hexdigest()[:16]}"
        if self.exists(image):
            return image
        with tempfile.TemporaryDirectory(prefix="tokenmock-base-") as scratch:
            extra = Path(scratch, "etc")
            extra.mkdir()
            shutil.copyfile(cafile, extra / "host-ca-bundle.pem")
            (extra / "pip.conf").write_text("[global]\ncert = /etc/host-ca-bundle.pem\n")
            rootfs = Path(scratch, "rootfs.tar")
            self.command(
                [
                    "mmdebstrap", "--quiet", "--variant=minbase", f"--include={','.join(PACKAGES)}",
                    f"--customize-hook=copy-in {extra}/host-ca-bundle.pem {extra}/pip.conf /etc",
                    SUITE, str(rootfs),
                ],
                timeout=BASE_TIMEOUT,
            )
            self.run(
                "import", "--change", "ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--change", "CMD=/bin/bash", str(rootfs), image, timeout=BASE_TIMEOUT,
            )
        return image

    def build(self, base: str, tag: str = IMAGE) -> str:
        """Build the repository's Dockerfile on `base` (Docker format: OCI images drop HEALTHCHECK).

        The image the tag named before is removed when the build replaced it, so reruns after a change do
        not pile up images (the layer cache of the build stage stays).
        """
        before = self.run("image", "inspect", "--format", "{{.Id}}", tag, check=False).stdout.strip()
        self.run(
            "build", "--format", "docker", "--network", "host", "--build-arg", f"BASE={base}",
            "--tag", tag, str(ROOT), timeout=BUILD_TIMEOUT,
        )
        after = self.run("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()
        if before and before != after:
            self.run("rmi", before, check=False)
        return tag


def wait_healthy(url: str, container: str, podman: Podman) -> None:
    """Poll `url`/__mock/health until it answers 200; fail with the container's log if it never does."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        try:
            if requests.get(f"{url}/__mock/health", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            logs = podman.run("logs", container, check=False)
            raise AssertionError(f"{container} never answered /__mock/health:\n{logs.stdout}\n{logs.stderr}")
        time.sleep(0.5)
