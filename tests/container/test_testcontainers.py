"""`tokenmock.containers.TokenmockContainer` driven by Testcontainers for Python, on podman's Docker API.

Podman serves a Docker-compatible API (`podman system service`), started here on a socket of the test's
own and stopped by PID. The container is started in a child Python with the environment a user would set
for podman: DOCKER_HOST names the socket; TESTCONTAINERS_RYUK_DISABLED, because the Ryuk image cannot be
pulled here (the `with` block removes the container instead); and, because this machine is itself a
container (/.dockerenv), TESTCONTAINERS_CONNECTION_MODE=docker_host with TC_HOST=127.0.0.1, so that
Testcontainers reaches the published port on loopback instead of a gateway address.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.container.podman import STEP_TIMEOUT, Podman
from tests.documentation import section

SERVICE_TIMEOUT = 30  # seconds for `podman system service` to answer /_ping
USER_CODE = textwrap.dedent(
    """\
    import json, sys
    from tokenmock.client import ClickViewClient
    from tokenmock.containers import TokenmockContainer

    with TokenmockContainer(sys.argv[1], settings={"vendors__clickview__token_lifetime": "60"}) as mock:
        token = ClickViewClient("demo-client", "demo-secret", base_url=mock.url + "/clickview").token()
        controller = mock.controller()
        before = controller.clock.now()
        after = controller.clock.advance(3600)
        journal = controller.requests(vendor="clickview")
        print(json.dumps({
            "url": mock.url, "id": mock.get_container_id(), "expires_in": token.raw["expires_in"],
            "advanced": after - before, "journal": len(journal),
        }))
    """
)


def _ping(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(str(path))
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
            return b" 200 " in s.recv(64)
    except OSError:
        return False


@pytest.fixture
def docker_api(podman: Podman, tmp_path: Path) -> Iterator[Path]:
    """podman's Docker-compatible API on a socket of this test, stopped (by PID) when the test ends."""
    try:
        import testcontainers  # noqa: F401 - the `containers` extra
    except ImportError:
        message = "testcontainers is not installed (pip install 'tokenmock[containers]'; tox -e container has it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    path = tmp_path / "podman.sock"
    log = (tmp_path / "service.log").open("w")
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{path}"], env=podman.env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + SERVICE_TIMEOUT
        while not (path.exists() and _ping(path)):
            assert service.poll() is None, (tmp_path / "service.log").read_text()
            assert time.monotonic() < deadline, "podman system service never answered /_ping"
            time.sleep(0.2)
        yield path
    finally:
        service.terminate()
        try:
            service.wait(timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
        log.close()


def _env(podman: Podman, socket_path: Path) -> dict[str, str]:
    return {
        **podman.env,
        "DOCKER_HOST": f"unix://{socket_path}",
        "TESTCONTAINERS_RYUK_DISABLED": "true",
        "TESTCONTAINERS_CONNECTION_MODE": "docker_host",
        "TC_HOST": "127.0.0.1",
    }


def test_a_testcontainers_user_gets_a_mock_with_its_admin_api(podman: Podman, image: str, docker_api: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", USER_CODE, image], env=_env(podman, docker_api), capture_output=True, text=True,
        timeout=STEP_TIMEOUT * 2,
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["url"].startswith("http://127.0.0.1:")
    assert seen["expires_in"] == 60  # settings= became TOKENMOCK__* variables
    assert seen["advanced"] == pytest.approx(3600, abs=5)  # the admin API answered with the container's token
    assert seen["journal"] >= 1
    gone = podman.run("container", "exists", seen["id"], check=False)
    assert gone.returncode == 1  # the with block removed it


def test_the_documented_example_runs(podman: Podman, image: str, docker_api: Path) -> None:
    """docs/container-ci.md's example, on the image built here (tests/test_docs.py leaves it to this test)."""
    examples = [code for code in re.findall(r"```python\n(.*?)```", section("From Testcontainers"), re.S)]
    assert len(examples) == 1 and 'TokenmockContainer("tokenmock:latest"' in examples[0]
    code = examples[0].replace('"tokenmock:latest"', repr(image)) + "\nprint('example done')\n"
    run = subprocess.run(
        [sys.executable, "-c", code], env=_env(podman, docker_api), capture_output=True, text=True,
        timeout=STEP_TIMEOUT * 2,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().endswith("example done")
