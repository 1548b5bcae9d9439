"""Fixtures of the container tests: podman with this machine's settings, the image built from the repository,
and containers that are always removed (`podman rm --force`, by id) when the test that started them ends.

These tests are not collected by a plain `pytest` (pyproject's `norecursedirs`): `tox -e container` runs
them (`pytest tests/container`), and so does .ci/run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.container.podman import Podman, require, wait_healthy
from tests.ports import free_port


@pytest.fixture(scope="session")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Podman:
    """Podman with its settings file; skips (or fails under CI) with the reason when it cannot run."""
    require()
    return Podman(tmp_path_factory.mktemp("podman"))


@pytest.fixture(scope="session")
def test_base(podman: Podman) -> str:
    """The local Debian base standing in for python:3.12-slim (made once per machine, then reused)."""
    return podman.test_base()


@pytest.fixture(scope="session")
def image(podman: Podman, test_base: str) -> str:
    """The repository's Dockerfile built on the test base (podman's layer cache keeps rebuilds short)."""
    return podman.build(test_base)


@dataclass
class Running:
    """A container started by a test: its id and the loopback URL of its published port 8080."""

    id: str
    url: str

    def logs(self, podman: Podman) -> str:
        result = podman.run("logs", self.id, check=False)
        return result.stdout + result.stderr


@pytest.fixture
def start(podman: Podman, image: str) -> Iterator[Callable[..., Running]]:
    """start(*podman_run_options, command=[...]) runs the image detached, published on a free loopback port."""
    started: list[str] = []

    def run(*options: str, command: tuple[str, ...] = ()) -> Running:
        port = free_port()
        result = podman.run("run", "--detach", "--publish", f"127.0.0.1:{port}:8080", *options, image, *command)
        container = result.stdout.strip().splitlines()[-1]
        started.append(container)
        running = Running(container, f"http://127.0.0.1:{port}")
        wait_healthy(running.url, container, podman)
        return running

    yield run
    for container in started:
        podman.run("rm", "--force", "--volumes", container, check=False)
