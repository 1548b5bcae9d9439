"""End to end: `tokenmock serve` as a subprocess, spoken to over HTTP with requests."""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]



def start(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    """Start `tokenmock serve` and wait (bounded) until it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tokenmock", "serve", "--port", str(port), *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60  # generous: a busy machine may take long to start the workers
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited: {process.stdout.read() if process.stdout else ''}")
        try:
            requests.get(base + "/", timeout=5)
            return process, base
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or a worker still booting
            time.sleep(0.05)  # polling a starting server, not waiting for expiry
    process.kill()
    raise AssertionError("serve did not answer within 60 s")


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=15)
    return output


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    process, base = start()
    yield base
    output = stop(process)
    assert process.returncode == 0, output
    for secret in ("demo-secret", "demo-password", "abcdefghizklmnopponommnshfghzxxs"):
        assert secret not in output  # one masked line per request, never a secret


def test_index_lists_every_vendor_with_demo_credentials(server: str) -> None:
    index = requests.get(server + "/", timeout=5).json()
    assert set(index["vendors"]) == {"junctiontv", "clickview", "vision10", "divetv", "aminotv"}
    assert index["vendors"]["clickview"]["base_url"] == server + "/clickview"
    assert all(v["demo_credentials"] for v in index["vendors"].values())


@pytest.mark.parametrize("vendor", ["junctiontv", "clickview", "vision10", "divetv", "aminotv"])
def test_each_contract_is_served(server: str, vendor: str) -> None:
    response = requests.get(f"{server}/{vendor}/openapi.yaml", timeout=5)
    assert response.status_code == 200 and f"x-vendor: {vendor}" in response.text


def test_junctiontv_documented_request(server: str) -> None:
    # curl --user demo-client:demo-secret -X POST -H 'Content-Type: application/x-www-form-urlencoded'
    response = requests.post(
        f"{server}/junctiontv/ums/2.0/oauth/",
        auth=("demo-client", "demo-secret"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=5,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == "1.1" and body["client_id"] == "demo-client" and body["expires_in"] == 3600
    refused = requests.post(f"{server}/junctiontv/ums/2.0/oauth/", timeout=5)
    assert refused.status_code == 401 and refused.json()["result"] == "error"


def test_clickview_documented_curl(server: str) -> None:
    response = requests.post(
        f"{server}/clickview/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "scope": "smartembed.viewkey",
        },
        timeout=5,
    )
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 86400 and token["scope"] == "smartembed.viewkey"
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Pragma"] == "no-cache"
    example = requests.get(
        f"{server}/clickview/api/v1/example", headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=5
    )
    assert example.status_code == 200
    wrong = requests.post(
        f"{server}/clickview/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "demo-client",
            "client_secret": "nope",
            "scope": "smartembed.viewkey",
        },
        timeout=5,
    )
    assert wrong.json()["error"] == "invalid_client"


def test_vision10_documented_payload(server: str) -> None:
    response = requests.post(
        f"{server}/vision10/v1/api/oauth/token",
        json={
            "grant_type": "client_credentials",
            "scope": "all",
            "client_id": "vision-api-user",
            "client_secret": "abcdefghizklmnopponommnshfghzxxs",
        },
        timeout=5,
    )
    assert response.status_code == 200 and response.json()["expires_in"] == 7199
    refused = requests.post(
        f"{server}/vision10/v1/api/oauth/token",
        json={"grant_type": "client_credentials", "scope": "all", "client_id": "x", "client_secret": "y"},
        timeout=5,
    )
    assert refused.status_code == 401 and refused.json()[0]["errorCode"] == "240101"


def test_divetv_documented_flow(server: str) -> None:
    key = base64.b64encode(b"demo-client-key").decode()
    password = hashlib.md5(b"demo-password").hexdigest()
    issued = requests.post(
        f"{server}/divetv/v1/token?grant_type=device_credentials",
        json={"username": "demo-user", "password": password},
        headers={"Authorization": f"Basic {key}"},
        timeout=5,
    )
    assert issued.status_code == 200, issued.text
    token = issued.json()
    assert token["token_type"] == "bearer" and token["expires_in"] == 8999 and token["refresh_token"]
    refreshed = requests.post(
        f"{server}/divetv/v1/token?grant_type=refresh_token",
        json={"refresh_token": token["refresh_token"]},
        headers={"Authorization": f"Basic {key}"},
        timeout=5,
    )
    assert refreshed.status_code == 200
    resource = requests.get(
        f"{server}/divetv/v1/resource",
        headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"},
        timeout=5,
    )
    assert resource.status_code == 200


def test_aminotv_login_and_streams(server: str) -> None:
    login = requests.post(
        f"{server}/aminotv/auth/login", json={"username": "demo@example.com", "password": "demo-password"}, timeout=5
    )
    assert login.status_code == 200, login.text
    attributes = login.json()["data"][0]["attributes"]
    streams = requests.get(
        f"{server}/aminotv/channels/demo-channel/relationships/streams",
        headers={"Authorization": f"Bearer {attributes['access_token']}"},
        timeout=5,
    )
    assert streams.status_code == 200


def test_one_vendor_at_the_root_and_config_file(tmp_path: Path) -> None:
    config = tmp_path / "mock.toml"
    config.write_text("[vendors.clickview]\ntoken_lifetime = 60\n", encoding="utf-8")
    process, base = start("--vendor", "clickview", "--config", str(config))
    try:
        response = requests.post(
            f"{base}/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "demo-client",
                "client_secret": "demo-secret",
                "scope": "smartembed.viewkey",
            },
            timeout=5,
        )
        assert response.status_code == 200 and response.json()["expires_in"] == 60
    finally:
        stop(process)


def test_bad_config_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("readings: {NOPE-99: strict}\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "tokenmock", "serve", "--port", str(free_port()), "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "NOPE-99" in result.stderr and "Traceback" not in result.stderr
