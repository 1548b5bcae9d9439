"""Several processes behaving as one mock: `tokenmock serve --workers 2` (SQLite, the default with more
than one worker), and two `serve` instances on different ports sharing one real redis-server.

Requests go out in parallel on fresh connections, so both workers (and both hosts) answer them; the
journal's `worker` field shows who did. Every number asserted is exact: a refresh token rotates once,
a fault armed for the next N requests fires N times, whichever process answers.
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.scaleout.conftest import RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
EPOCH = 1_767_225_600.0
CLICKVIEW_FORM = {
    "grant_type": "client_credentials",
    "client_id": "demo-client",
    "client_secret": "demo-secret",
    "scope": "smartembed.viewkey",
}
DIVE_KEY = {"Authorization": "Basic " + base64.b64encode(b"demo-client-key").decode()}
DIVE_LOGIN = {"username": "demo-user", "password": hashlib.md5(b"demo-password").hexdigest()}
PARALLEL = 8


class Serve:
    """`tokenmock serve` in a subprocess, stopped with SIGTERM; its output kept for the assertions."""

    def __init__(self, *args: str) -> None:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tokenmock", "serve", "--port", str(port), *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "TOKENMOCK__ACCESS_LOG": "false"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited: {self.stop()}")
            try:
                requests.get(self.base + "/", timeout=0.5)
                return
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"serve did not answer within 30 s: {self.stop()}") from None
                time.sleep(0.05)  # polling a starting server, not waiting for expiry

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            output, _ = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        return output or ""

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = requests.request(method, f"{self.base}/__mock{path}", timeout=10, **kwargs)
        assert response.status_code < 300, response.text
        return response


def spread(
    farm: list[Serve], count: int, call: Callable[..., requests.Response], *args: Any
) -> list[requests.Response]:
    """`call(server, *args)` `count` times on PARALLEL threads, alternating between the farm's two entry
    points (each request opens its own connection, so the workers share them out)."""
    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(lambda n: call(farm[n % 2], *args), range(count)))


def clickview_token(server: Serve, form: dict[str, str] = CLICKVIEW_FORM) -> requests.Response:
    return requests.post(f"{server.base}/clickview/connect/token", data=form, timeout=10)


def clickview_example(server: Serve, token: str) -> requests.Response:
    return requests.get(
        f"{server.base}/clickview/api/v1/example", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def vision_resource(server: Serve, token: str) -> requests.Response:
    return requests.get(
        f"{server.base}/vision10/v1/api/resource", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def clock(server: Serve) -> requests.Response:
    return server.admin("GET", "/clock")


def dive_login(server: Serve) -> dict[str, Any]:
    response = requests.post(
        f"{server.base}/divetv/v1/token?grant_type=device_credentials", json=DIVE_LOGIN, headers=DIVE_KEY, timeout=10
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def dive_refresh(server: Serve, token: str) -> requests.Response:
    return requests.post(
        f"{server.base}/divetv/v1/token?grant_type=refresh_token",
        json={"refresh_token": token},
        headers=DIVE_KEY,
        timeout=10,
    )


def journal(server: Serve, **filters: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = server.admin("GET", "/requests", params=filters).json()["requests"]
    return entries


# The farms: one host with two workers on SQLite; two hosts of two workers each on one Redis.


@pytest.fixture(scope="module")
def workers() -> Iterator[list[Serve]]:
    server = Serve("--workers", "2")
    yield [server, server]
    output = server.stop()
    assert "2 worker(s)" in output and "store sqlite://" in output, output
    assert server.process.returncode == 0, output


@pytest.fixture(scope="module")
def hosts(redis_server: RedisServer) -> Iterator[list[Serve]]:
    url = redis_server.url()
    first = Serve("--workers", "2", "--store", url)
    second = Serve("--workers", "2", "--store", url)
    yield [first, second]
    for server in (first, second):
        output = server.stop()
        assert "store redis://127.0.0.1" in output, output
        assert server.process.returncode == 0, output


@pytest.fixture(params=["workers", "hosts"])
def farm(request: pytest.FixtureRequest) -> list[Serve]:
    """Two entry points to one mock (the same server twice, or two servers), reset to a clean state."""
    servers: list[Serve] = request.getfixturevalue(request.param)
    servers[0].admin("POST", "/reset")
    return servers


def test_every_request_is_journalled_once_whoever_answers(farm: list[Serve]) -> None:
    results = spread(farm, 60, clickview_token)
    assert [r.status_code for r in results] == [200] * 60
    entries = journal(farm[1], vendor="clickview")
    assert len(entries) == 60
    assert len({e["id"] for e in entries}) == 60
    assert len({e["worker"] for e in entries}) >= 2, "one worker answered everything"
    assert journal(farm[0]) == journal(farm[1])


def test_tokens_from_one_process_open_resources_everywhere(farm: list[Serve]) -> None:
    tokens = [r.json()["access_token"] for r in spread(farm, 8, clickview_token)]
    for token in tokens:
        assert {r.status_code for r in spread(farm, 4, clickview_example, token)} == {200}
    vision = requests.post(
        f"{farm[0].base}/vision10/v1/api/oauth/token",
        json={
            "grant_type": "client_credentials",
            "scope": "all",
            "client_id": "demo-client",
            "client_secret": "demo-secret",
        },
        timeout=10,
    ).json()["access_token"]  # RS256: the private key came from the store, not from each host
    assert {r.status_code for r in spread(farm, 8, vision_resource, vision)} == {200}


def test_a_refresh_token_rotates_exactly_once_across_processes(farm: list[Serve]) -> None:
    first = dive_login(farm[0])
    attempts = spread(farm, 16, dive_refresh, first["refresh_token"])
    winners = [r for r in attempts if r.status_code == 200]
    assert len(winners) == 1
    assert {r.status_code for r in attempts if r is not winners[0]} == {400}
    # The replays revoked the family: the winner's new refresh token is refused on every process.
    rotated = winners[0].json()["refresh_token"]
    assert {dive_refresh(server, rotated).status_code for server in farm} == {400}
    # A session untouched by the replay still rotates, once.
    other = dive_login(farm[1])
    assert dive_refresh(farm[0], other["refresh_token"]).status_code == 200
    assert dive_refresh(farm[1], other["refresh_token"]).status_code == 400


def test_a_revocation_through_one_process_holds_in_all(farm: list[Serve]) -> None:
    token = clickview_token(farm[0]).json()["access_token"]
    assert clickview_example(farm[1], token).status_code == 200
    farm[0].admin("POST", "/revoke", json={"token": token})
    refused = spread(farm, 16, clickview_example, token)
    assert {r.status_code for r in refused} == {401}


def test_a_fault_for_the_next_n_requests_fires_exactly_n_times(farm: list[Serve]) -> None:
    def arm(times: int) -> None:
        farm[1].admin(
            "POST",
            "/faults",
            json={
                "kind": "status",
                "vendor": "clickview",
                "operation": "requestToken",
                "times": times,
                "params": {"status": 503},
            },
        )

    arm(5)
    results = spread(farm, 40, clickview_token)
    assert sorted(r.status_code for r in results) == [200] * 35 + [503] * 5
    assert farm[0].admin("GET", "/faults").json()["faults"] == []
    # Armed for as many requests as are sent: every process sees it, and it is used up exactly.
    farm[0].admin("DELETE", "/requests")
    arm(24)
    results = spread(farm, 24, clickview_token)
    assert [r.status_code for r in results] == [503] * 24
    assert clickview_token(farm[0]).status_code == 200
    faulted = [e for e in journal(farm[0], operation="requestToken") if e["fault"] == "status"]
    assert len(faulted) == 24 and {e["status"] for e in faulted} == {503}
    assert len({e["worker"] for e in faulted}) >= 2, "one worker answered everything"


def test_one_clock_for_every_process(farm: list[Serve]) -> None:
    farm[0].admin("POST", "/clock", json={"freeze": True, "at": EPOCH})
    token = clickview_token(farm[1]).json()["access_token"]
    readings = spread(farm, 16, clock)
    assert {r.json()["now"] for r in readings} == {EPOCH}
    assert {r.json()["frozen"] for r in readings} == {True}
    farm[1].admin("POST", "/clock", json={"advance": 86400})  # ClickView tokens live 86400 s
    expired = spread(farm, 16, clickview_example, token)
    assert {r.status_code for r in expired} == {401}
    assert all('error="invalid_token"' in r.headers["WWW-Authenticate"] for r in expired)
    assert {e["time"] for e in journal(farm[0], operation="getExample")} == {EPOCH + 86400}
    farm[1].admin("POST", "/clock", json={"reset": True})
    assert farm[0].admin("GET", "/clock").json()["frozen"] is False


def test_runtime_clients_are_known_everywhere(farm: list[Serve]) -> None:
    farm[0].admin(
        "POST",
        "/clients",
        json={
            "vendor": "clickview",
            "client": {"client_id": "ci", "client_secret": "ci-secret", "scopes": ["smartembed.viewkey"]},
        },
    )
    form = {**CLICKVIEW_FORM, "client_id": "ci", "client_secret": "ci-secret"}
    answers = spread(farm, 16, clickview_token, form)
    assert {r.status_code for r in answers} == {200}
