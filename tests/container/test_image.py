"""The image built from the repository's Dockerfile, run with podman as a user would: every vendor issues a
token through the published port, the server runs as a user without privileges, the health check answers
(Python's, as the image carries no curl), settings come from `TOKENMOCK__*` variables and a mounted file,
state lives on the declared volume, and the admin API is closed until a token is set, which the log says.
"""

from __future__ import annotations

import inspect
import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.container.conftest import Running
from tests.container.podman import Podman
from tests.documentation import section
from tokenmock.client import CLIENTS

ADMIN_TOKEN = "container-admin-token-0123456789"


def test_every_vendor_issues_a_token_through_the_published_port(start: Callable[..., Running]) -> None:
    mock = start()
    index = requests.get(mock.url + "/", timeout=10).json()["vendors"]
    assert sorted(index) == sorted(CLIENTS)
    for vendor, shown in index.items():
        client_class = CLIENTS[vendor]
        names = inspect.signature(client_class.__init__).parameters
        credentials = {k: v for k, v in shown["demo_credentials"].items() if k in names}
        client = client_class(**credentials, base_url=shown["base_url"], timeout=10)
        token = client.token()  # the reference client checks the answer against the vendor's contract
        assert token.access_token, vendor
        assert shown["base_url"].startswith(mock.url), vendor


def test_the_server_runs_as_a_user_without_privileges(
    podman: Podman, image: str, start: Callable[..., Running]
) -> None:
    assert podman.inspect(image)["Config"]["User"] == "10001:10001"
    mock = start()
    users = podman.run("top", mock.id, "user", "huser", "args").stdout.splitlines()[1:]
    serving = [line for line in users if "tokenmock" in line or "gunicorn" in line]
    assert serving, users
    for line in serving:
        user, huser = line.split()[:2]
        assert user == "tokenmock" and huser == "10001", line
    assert podman.run("exec", mock.id, "id", "-u").stdout.strip() == "10001"


def test_health_answers_and_the_image_health_check_runs_without_curl(
    podman: Podman, image: str, start: Callable[..., Running]
) -> None:
    mock = start()
    health = requests.get(mock.url + "/__mock/health", timeout=10)
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["store"]["kind"] == "sqlite"
    check = podman.inspect(image)["Healthcheck"]["Test"]  # kept by --format docker
    assert check[:2] == ["CMD", "python3"] and "/__mock/health" in check[-1]
    assert podman.run("healthcheck", "run", mock.id, check=False).returncode == 0
    absent = podman.run(
        "run", "--rm", "--entrypoint", "sh", image, "-c",
        "command -v curl wget pip pip3 gcc cc; ls -d /opt/build /wheels /src /opt/tokenmock/bin/pip* 2>/dev/null",
        check=False,
    )
    assert absent.stdout.strip() == "", absent.stdout  # no fetcher, installer, compiler or build stage left


def test_exposed_without_a_token_the_log_says_the_admin_api_is_closed(
    podman: Podman, start: Callable[..., Running]
) -> None:
    mock = start()
    refused = requests.get(mock.url + "/__mock/clock", timeout=10)
    assert refused.status_code == 403
    assert refused.json()["error"] == "access_denied"
    shown = re.findall(r"```text\n(.*?)```", section("The container image"), re.S)  # the page's sample
    assert len(shown) == 1
    log = mock.logs(podman)
    for line in shown[0].splitlines():
        assert line in log, line
    assert "the admin API (/__mock/) is closed: set admin_token (TOKENMOCK__ADMIN_TOKEN=...)" in log


def test_settings_from_the_environment_and_a_mounted_file_apply(
    podman: Podman, start: Callable[..., Running], tmp_path: Path
) -> None:
    settings = tmp_path / "tokenmock.toml"
    settings.write_text("[vendors.vision10]\ntoken_lifetime = 1234\n", encoding="utf-8")
    settings.chmod(0o644)  # read by the container's user 10001
    mock = start(
        "--env", f"TOKENMOCK__ADMIN_TOKEN={ADMIN_TOKEN}",
        "--env", "TOKENMOCK__VENDORS__CLICKVIEW__TOKEN_LIFETIME=60",
        "--env", "TOKENMOCK_CONFIG=/etc/tokenmock/tokenmock.toml",
        "--volume", f"{settings}:/etc/tokenmock/tokenmock.toml:ro",
    )
    clickview = CLIENTS["clickview"]("demo-client", "demo-secret", base_url=mock.url + "/clickview")
    assert clickview.token().raw["expires_in"] == 60
    vision10 = CLIENTS["vision10"]("demo-client", "demo-secret", base_url=mock.url + "/vision10")
    assert vision10.token().raw["expires_in"] == 1234
    assert requests.get(mock.url + "/__mock/clock", timeout=10).status_code == 401
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert requests.get(mock.url + "/__mock/clock", headers=headers, timeout=10).status_code == 200
    log = mock.logs(podman)
    assert "the admin API (/__mock/) asks every client for admin_token" in log
    assert ADMIN_TOKEN not in log


def test_state_on_a_named_volume_outlives_the_container(podman: Podman, start: Callable[..., Running]) -> None:
    volume = f"tokenmock-test-{uuid.uuid4().hex[:12]}"
    admin = ["--env", f"TOKENMOCK__ADMIN_TOKEN={ADMIN_TOKEN}", "--volume", f"{volume}:/var/lib/tokenmock"]
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
    client = {"client_id": "ci-runner", "client_secret": "ci-runner-secret", "scopes": ["smartembed.viewkey"]}
    try:
        first = start(*admin)
        added = requests.post(
            first.url + "/__mock/clients", json={"vendor": "clickview", "client": client}, headers=headers, timeout=10
        )
        assert added.status_code in (200, 201), added.text
        podman.run("rm", "--force", first.id)
        second = start(*admin)
        registered = CLIENTS["clickview"]("ci-runner", "ci-runner-secret", base_url=second.url + "/clickview")
        assert registered.token().access_token
    finally:
        podman.run("volume", "rm", "--force", volume, check=False)


def test_state_lives_on_the_declared_volume(podman: Podman, image: str, start: Callable[..., Running]) -> None:
    config = podman.inspect(image)["Config"]
    assert list(config["Volumes"]) == ["/var/lib/tokenmock"]
    assert config["Labels"]["org.opencontainers.image.title"] == "tokenmock"
    mock = start()
    listed = podman.run("exec", mock.id, "ls", "-l", "/var/lib/tokenmock/state.db").stdout
    assert listed.startswith("-rw------- ") and " tokenmock tokenmock " in listed, listed
    mounts = podman.inspect(mock.id)["Mounts"]
    assert [m["Destination"] for m in mounts] == ["/var/lib/tokenmock"]


def _megabytes(text: str, pattern: str) -> float:
    found = re.search(pattern, text)
    assert found, pattern
    return float(found[1])


def test_the_documented_sizes_hold(podman: Podman, image: str, test_base: str) -> None:
    """The figures of docs/container-ci.md's "Size" paragraph, within 15% (dependencies grow)."""
    page = section("The container image")
    layers = json.loads(podman.run("history", "--format", "json", image).stdout)
    venv_layer = [int(layer["size"]) for layer in layers if "COPY" in layer["CreatedBy"] and layer["size"]]
    assert len(venv_layer) == 1, layers
    sizes = {
        r"one layer of (\d+) MB": venv_layer[0],
        r"the Debian test base\s+\(below, (\d+) MB\)": int(podman.inspect(test_base)["Size"]),
        r"the image measured (\d+) MB": int(podman.inspect(image)["Size"]),
    }
    for pattern, measured in sizes.items():
        assert measured / 1e6 == pytest.approx(_megabytes(page, pattern), rel=0.15), (pattern, measured)
    pyc = podman.run(
        "run", "--rm", "--entrypoint", "sh", image, "-c",
        "find /opt/tokenmock -name '*.pyc' -printf '%s\\n' | awk '{s+=$1} END {print s}'",
    ).stdout.strip().splitlines()[-1]
    assert int(pyc) / 1e6 == pytest.approx(_megabytes(page, r"(\d+) MB of which are compiled"), rel=0.25)
