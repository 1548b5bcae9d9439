"""The repository's compose.yaml, run with podman-compose: two replicas on one Redis behave as one mock.

The farm runs the image built by the `image` fixture (`--no-build`; compose.yaml's `build:` section names
the same Dockerfile) and a Redis from the test base (Debian's redis-server, since no registry can be
reached here). Only mock-1 publishes a port (on 127.0.0.1); mock-2 is reached the way a job container in
the farm's network would reach it, by its service name, from inside mock-1's container.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.container.podman import ROOT, STEP_TIMEOUT, Podman, StepFailed, wait_healthy
from tests.ports import free_port
from tokenmock.client import CLIENTS

ADMIN_TOKEN = "farm-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
UP_TIMEOUT = 300  # seconds: a safety stop far above the seconds `up` takes with the image built
HEALTHY_TIMEOUT = 90
TOKEN_FORM = "grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret&scope=smartembed.viewkey"
# Run inside a replica's container: one HTTP request with Python's urllib; prints [status, body].
REQUEST = """\
import json, sys, urllib.error, urllib.request
url, method, headers, body = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4].encode() or None
try:
    with urllib.request.urlopen(urllib.request.Request(url, body, headers, method=method), timeout=10) as r:
        print(json.dumps([r.status, r.read().decode()]))
except urllib.error.HTTPError as e:
    print(json.dumps([e.code, e.read().decode()]))
"""


def _compose_missing() -> None:
    try:
        import podman_compose  # noqa: F401 - present through tox's container env
    except ImportError:
        message = "podman-compose is not installed (pip install podman-compose; tox -e container has it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class Farm:
    podman: Podman
    project: str
    url: str  # mock-1's published port

    def container(self, service: str) -> str:
        listed = self.podman.run(
            "ps", "--quiet", "--filter", f"label=com.docker.compose.project={self.project}",
            "--filter", f"label=com.docker.compose.service={service}",
        )
        ids = listed.stdout.split()
        assert len(ids) == 1, (service, ids)
        return ids[0]

    def request_from_mock_1(
        self, url: str, method: str = "GET", headers: dict[str, str] | None = None, body: str = ""
    ) -> tuple[int, str]:
        """One request sent from inside mock-1's container (as a job in the farm's network would send it)."""
        result = self.podman.run(
            "exec", self.container("mock-1"), "python3", "-c", REQUEST, url, method, json.dumps(headers or {}), body
        )
        status, text = json.loads(result.stdout.strip().splitlines()[-1])
        return int(status), str(text)


def _wait_container_healthy(podman: Podman, container: str) -> None:
    """Run the container's health check until it passes (podman without systemd runs no timer of its own)."""
    deadline = time.monotonic() + HEALTHY_TIMEOUT
    while podman.run("healthcheck", "run", container, check=False).returncode != 0:
        if time.monotonic() > deadline:
            logs = podman.run("logs", container, check=False)
            raise AssertionError(f"{container} never became healthy:\n{logs.stdout}\n{logs.stderr}")
        time.sleep(1)


@pytest.fixture(scope="module")
def farm(podman: Podman, image: str, test_base: str) -> Iterator[Farm]:
    _compose_missing()
    project = f"tokenmock-test-{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {
        "TOKENMOCK_ADMIN_TOKEN": ADMIN_TOKEN,
        "TOKENMOCK_IMAGE": image,
        "TOKENMOCK_BASE": test_base,
        "REDIS_IMAGE": test_base,
        "TOKENMOCK_FARM_ADDRESS": "127.0.0.1",
        "TOKENMOCK_FARM_PORT": str(port),
    }
    compose = [sys.executable, "-m", "podman_compose", "--file", str(ROOT / "compose.yaml"), "--project-name", project]
    try:
        podman.command([*compose, "up", "--detach", "--no-build"], env=env, timeout=UP_TIMEOUT, cwd=ROOT)
        built = Farm(podman, project, f"http://127.0.0.1:{port}")
        for service in ("redis", "mock-1", "mock-2"):
            _wait_container_healthy(podman, built.container(service))
        wait_healthy(built.url, built.container("mock-1"), podman)
        yield built
    finally:
        # The replicas' anonymous volumes (the image's VOLUME), which `down --volumes` leaves behind.
        volumes: list[str] = []
        with contextlib.suppress(StepFailed):  # a container gone meanwhile leaves no volume to find
            volumes = [
                mount["Name"]
                for container in podman.run(
                    "ps", "--all", "--quiet", "--filter", f"label=com.docker.compose.project={project}", check=False
                ).stdout.split()
                for mount in podman.inspect(container).get("Mounts", [])
                if mount.get("Type") == "volume"
            ]
        with contextlib.suppress(subprocess.TimeoutExpired):  # then the containers are removed one by one
            podman.command([*compose, "down", "--volumes"], env=env, timeout=STEP_TIMEOUT, cwd=ROOT, check=False)
        for leftover in podman.run(
            "ps", "--all", "--quiet", "--filter", f"label=com.docker.compose.project={project}", check=False
        ).stdout.split():
            podman.run("rm", "--force", "--volumes", leftover, check=False)
        for volume in volumes:
            podman.run("volume", "rm", "--force", volume, check=False)


def test_both_replicas_share_the_redis_store_and_report_it(farm: Farm) -> None:
    health = requests.get(farm.url + "/__mock/health", timeout=10).json()
    assert health["store"] == {**health["store"], "kind": "redis", "reachable": True}
    status, body = farm.request_from_mock_1("http://mock-2:8080/__mock/health")
    assert status == 200 and json.loads(body)["store"]["kind"] == "redis"
    # The alias `mock` names both replicas (the farm's network spreads jobs over them).
    addresses = farm.podman.run(
        "exec", farm.container("mock-1"), "python3", "-c",
        "import socket; print(sorted({a[4][0] for a in socket.getaddrinfo('mock', 8080)}))",
    ).stdout
    assert len(json.loads(addresses.strip().splitlines()[-1].replace("'", '"'))) == 2


def test_a_fault_armed_through_one_replica_fires_once_on_the_other(farm: Farm) -> None:
    fault = {"kind": "status", "vendor": "clickview", "operation": "requestToken", "times": 1,
             "params": {"status": 503, "retry_after": 2}}
    armed = requests.post(farm.url + "/__mock/faults", json=fault, headers=ADMIN, timeout=10)
    assert armed.status_code in (200, 201), armed.text
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _ = farm.request_from_mock_1("http://mock-2:8080/clickview/connect/token", "POST", form, TOKEN_FORM)
    assert status == 503  # armed through mock-1, fired on mock-2
    again = requests.post(farm.url + "/clickview/connect/token", data=TOKEN_FORM, headers=form, timeout=10)
    assert again.status_code == 200  # `times: 1` counted across the farm: spent on mock-2
    journal = requests.get(
        farm.url + "/__mock/requests", params={"vendor": "clickview", "operation": "requestToken"},
        headers=ADMIN, timeout=10,
    ).json()["requests"]
    hosts = {entry["status"]: entry["worker"].partition(":")[0] for entry in journal[-2:]}
    assert set(hosts) == {503, 200} and hosts[503] != hosts[200], journal[-2:]


def test_a_token_from_one_replica_is_accepted_by_the_other(farm: Farm) -> None:
    clickview = CLIENTS["clickview"]("demo-client", "demo-secret", base_url=farm.url + "/clickview")
    token = clickview.token().access_token
    status, _ = farm.request_from_mock_1(
        "http://mock-2:8080/clickview/api/v1/example", headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 200
    status, _ = farm.request_from_mock_1(
        "http://mock-2:8080/clickview/api/v1/example", headers={"Authorization": f"Bearer {token}x"}
    )
    assert status == 401
