"""The container and CI recipes as written: the Dockerfile's promises, compose.yaml's farm, and the CI
snippets of docs/container-ci.md, held to what the page says about them.

No container engine is needed here (tests/container builds and runs the image and the farm with podman);
the GitHub Actions step that starts tokenmock in the background runs as written, on a free port.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.documentation import ROOT, section
from tests.ports import free_port

DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
START_TIMEOUT = 90  # seconds: the step's own `timeout 60` plus the shell's start


def _yaml_blocks(heading: str) -> list[Any]:
    return [yaml.safe_load(code) for code in re.findall(r"```yaml\n(.*?)```", section(heading), re.S)]


def test_the_dockerfile_keeps_the_promises_of_the_image_table() -> None:
    table = section("The container image")
    lines = DOCKERFILE.splitlines()
    base = lines.index("ARG BASE=python:3.12-slim")
    assert base < lines.index("FROM ${BASE} AS build") and "FROM ${BASE}" in lines
    assert "`ARG BASE=python:3.12-slim`" in table
    assert 'CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]' in lines
    assert "`tokenmock serve --host 0.0.0.0 --port 8080`" in table
    assert "USER 10001:10001" in lines and "uid and gid 10001" in table
    assert 'VOLUME ["/var/lib/tokenmock"]' in lines and "the volume `/var/lib/tokenmock`" in table
    healthcheck = DOCKERFILE[DOCKERFILE.index("\nHEALTHCHECK ") :].split("\n")[2]
    assert '"python3", "-c"' in healthcheck and "/__mock/health" in healthcheck and "curl" not in healthcheck
    labels = set(re.findall(r"org\.opencontainers\.image\.(\w+)=", DOCKERFILE))
    assert labels == {"title", "description", "version", "licenses", "documentation"}
    assert all(f".{label}`" in table for label in labels - {"title"}) and "image.title`" in table
    assert "TOKENMOCK_WORKERS=2" in DOCKERFILE and "the 2 workers" in table


def test_the_dockerignore_lets_in_only_what_the_wheel_is_built_from() -> None:
    rules = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert rules[0] == "*"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    copied = set(re.findall(r"^COPY (?!--from)(.+?) \S+$", DOCKERFILE, re.M))
    assert {name for sources in copied for name in sources.split()} == allowed


def test_the_compose_farm_is_the_documented_one() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"redis", "mock-1", "mock-2"}
    assert [name for name, service in services.items() if "ports" in service] == ["mock-1"]
    for name in ("mock-1", "mock-2"):
        mock = services[name]
        assert mock["environment"]["TOKENMOCK_STORE"] == "redis://redis:6379/0"
        assert "TOKENMOCK__ADMIN_TOKEN" in mock["environment"]
        assert mock["depends_on"]["redis"]["condition"] == "service_healthy"
        assert mock["networks"]["default"]["aliases"] == ["mock"]
        assert mock["restart"] == "on-failure"
        assert "/__mock/health" in mock["healthcheck"]["test"][-1]
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    text = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    variables = set(re.findall(r"\$\{(\w+)", text))
    farm = section("A CI farm with compose")
    assert variables == set(re.findall(r"`([A-Z_]+)`", farm.split("Variables that compose reads:")[1]))


def test_the_ci_snippets_are_yaml_and_wait_for_health() -> None:
    github = _yaml_blocks("In GitHub Actions")
    gitlab = _yaml_blocks("In GitLab CI")
    assert len(github) == 2 and len(gitlab) == 1
    service = github[0]["jobs"]["contract-tests"]["services"]["tokenmock"]
    assert service["env"]["TOKENMOCK__ADMIN_TOKEN"] and service["ports"] == ["8080:8080"]
    assert github[0]["jobs"]["contract-tests"]["needs"] == "tokenmock-image"
    tests = gitlab[0]["contract-tests"]
    assert tests["services"][0]["alias"] == "tokenmock" and tests["services"][0]["variables"]["TOKENMOCK__ADMIN_TOKEN"]
    for snippet in (*github, *gitlab):
        assert "/__mock/health" in yaml.safe_dump(snippet)


def test_the_github_actions_background_step_starts_and_stops_the_mock(tmp_path: Path) -> None:
    steps = _yaml_blocks("In GitHub Actions")[1]["jobs"]["contract-tests"]["steps"]
    start = next(step["run"] for step in steps if step.get("name") == "Start the mock")
    stop = next(step["run"] for step in steps if step.get("name") == "Stop the mock")
    port = free_port()
    github_env = tmp_path / "github_env"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # where pip put `tokenmock`
        "GITHUB_ENV": str(github_env),
    }
    script = start.replace("8080", str(port))
    subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, env=env, timeout=START_TIMEOUT, check=True)
    pid = int(dict(line.split("=", 1) for line in github_env.read_text().splitlines())["TOKENMOCK_PID"])
    try:
        assert requests.get(f"http://127.0.0.1:{port}/__mock/health", timeout=10).status_code == 200
        stopped = subprocess.run(
            ["bash", "-e", "-c", stop], cwd=tmp_path, env={**env, "TOKENMOCK_PID": str(pid)},
            capture_output=True, text=True, timeout=60, check=True,
        )
        assert "tokenmock ready in" in stopped.stdout  # the log the step prints
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Path(f"/proc/{pid}").exists()
    finally:
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)
