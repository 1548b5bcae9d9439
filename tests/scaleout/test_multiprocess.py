"""Several processes behaving as one mock: `tokenmock serve --workers 2` (SQLite, the default with more
than one worker), and two `serve` instances on different ports sharing one real redis-server.

Requests go out in parallel on connections held open to two different processes (a gthread worker
keeps the connections it accepted), alternating between them; the journal's `worker` field shows who
answered. Every number asserted is exact: a refresh token rotates once,
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

from tests.ports import free_port
from tests.redis_server import GENEROUS_STORE_TIMEOUT, PrivateRedis

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
            # Not an outage test: a slow Redis reply on a busy machine must not be taken for one.
            env={
                **os.environ,
                "TOKENMOCK__ACCESS_LOG": "false",
                "TOKENMOCK__STORE_TIMEOUT": str(GENEROUS_STORE_TIMEOUT),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 60  # generous: a busy machine may take long to start the workers
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited: {self.stop()}")
            try:
                requests.get(self.base + "/", timeout=5)
                return
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or still booting
                if time.monotonic() > deadline:
                    raise AssertionError(f"serve did not answer within 60 s: {self.stop()}") from None
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


class Entry:
    """A connection kept alive to one worker process (gthread workers keep a connection they accepted)."""

    def __init__(self, server: Serve) -> None:
        self.server = server
        self.session = requests.Session()
        response = self.get("/clickview/__which-worker")  # unknown path: journalled, no state touched
        assert response.status_code == 404, response.text
        self.worker = str(journal(server)[-1]["worker"])

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.server.base + path, timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.post(self.server.base + path, timeout=10, **kwargs)


def pin(servers: list[Serve], per_side: int = PARALLEL // 2) -> tuple[list[Entry], list[Entry]]:
    """`per_side` connections to one worker of servers[0] and as many to another worker of servers[1],
    interleaved, so alternate requests land on different processes whatever the kernel's choices.

    Returns them and the connections it did not want, to be kept open as long as the pinned ones: the
    workers of one server share connections evenly (and ask a client to reconnect when one holds two
    more than another), so the pinned ones stay where they are only while the others are held too.
    """
    sides: list[list[Entry]] = [[], []]
    held: list[Entry] = []
    for side, server in enumerate(servers):
        for _attempt in range(200):  # bounded: the kernel hands new connections to either worker
            if len(sides[side]) == per_side:
                break
            entry = Entry(server)
            taken = {e.worker for e in sides[1 - side]}
            wanted = sides[side][0].worker if sides[side] else None
            if entry.worker not in taken and wanted in (None, entry.worker):
                sides[side].append(entry)
            else:
                held.append(entry)
        assert len(sides[side]) == per_side, "could not reach two different workers"
    return [entry for pair in zip(*sides, strict=True) for entry in pair], held


def spread(
    entries: list[Entry], count: int, call: Callable[..., requests.Response], *args: Any
) -> list[requests.Response]:
    """`call(entry, *args)` for n in range(count) on entry n % len(entries), one thread per connection
    (the connections alternate between the two workers)."""

    def run(first: int) -> list[tuple[int, requests.Response]]:
        return [(n, call(entries[first], *args)) for n in range(first, count, len(entries))]

    with ThreadPoolExecutor(len(entries)) as pool:
        done = [pair for batch in pool.map(run, range(len(entries))) for pair in batch]
    return [response for _, response in sorted(done, key=lambda pair: pair[0])]


def clickview_token(entry: Entry, form: dict[str, str] = CLICKVIEW_FORM) -> requests.Response:
    return entry.post("/clickview/connect/token", data=form)


def clickview_example(entry: Entry, token: str) -> requests.Response:
    return entry.get("/clickview/api/v1/example", headers={"Authorization": f"Bearer {token}"})


def vision_resource(entry: Entry, token: str) -> requests.Response:
    return entry.get("/vision10/v1/api/resource", headers={"Authorization": f"Bearer {token}"})


def clock(entry: Entry) -> requests.Response:
    return entry.get("/__mock/clock")


def dive_login(entry: Entry) -> dict[str, Any]:
    response = entry.post("/divetv/v1/token?grant_type=device_credentials", json=DIVE_LOGIN, headers=DIVE_KEY)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def dive_refresh(entry: Entry, token: str) -> requests.Response:
    return entry.post("/divetv/v1/token?grant_type=refresh_token", json={"refresh_token": token}, headers=DIVE_KEY)


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
def hosts(redis_server: PrivateRedis) -> Iterator[list[Serve]]:
    url = redis_server.url()
    first = Serve("--workers", "2", "--store", url)
    second = Serve("--workers", "2", "--store", url)
    yield [first, second]
    for server in (first, second):
        output = server.stop()
        assert "store redis://127.0.0.1" in output, output
        assert server.process.returncode == 0, output


@pytest.fixture(params=["workers", "hosts"])
def farm(request: pytest.FixtureRequest) -> Iterator[list[Entry]]:
    """Connections to two different processes of one mock (two workers of one server, or two servers),
    alternating, after a reset to a clean state."""
    servers: list[Serve] = request.getfixturevalue(request.param)
    servers[0].admin("POST", "/reset", json={})
    entries, held = pin(servers)
    servers[0].admin("DELETE", "/requests")
    yield entries
    for entry in entries + held:
        entry.session.close()


def test_every_request_is_journalled_once_whoever_answers(farm: list[Entry]) -> None:
    results = spread(farm, 60, clickview_token)
    assert [r.status_code for r in results] == [200] * 60
    entries = journal(farm[1].server, vendor="clickview")
    assert len(entries) == 60
    assert len({e["id"] for e in entries}) == 60
    # At least two processes answered. Not exactly the two pinned: the connection balancer may ask a
    # pinned client to reconnect (Connection: close), and its next connection may reach another worker.
    assert len({e["worker"] for e in entries}) >= 2
    seen_by = [entry.get("/__mock/requests").json()["requests"] for entry in farm[:2]]
    assert seen_by[0] == seen_by[1] and len(seen_by[0]) == 60  # one journal, read through either process


def test_tokens_from_one_process_open_resources_everywhere(farm: list[Entry]) -> None:
    tokens = [r.json()["access_token"] for r in spread(farm, 8, clickview_token)]
    for token in tokens:
        assert {r.status_code for r in spread(farm, 4, clickview_example, token)} == {200}
    vision = (
        farm[0]
        .post(
            "/vision10/v1/api/oauth/token",
            json={
                "grant_type": "client_credentials",
                "scope": "all",
                "client_id": "demo-client",
                "client_secret": "demo-secret",
            },
        )
        .json()["access_token"]
    )  # RS256: the private key came from the store, not from each host
    assert {r.status_code for r in spread(farm, 8, vision_resource, vision)} == {200}


def test_a_refresh_token_rotates_exactly_once_across_processes(farm: list[Entry]) -> None:
    first = dive_login(farm[0])
    attempts = spread(farm, 16, dive_refresh, first["refresh_token"])
    winners = [r for r in attempts if r.status_code == 200]
    assert len(winners) == 1
    assert {r.status_code for r in attempts if r is not winners[0]} == {400}
    # The replays revoked the family: the winner's new refresh token is refused on every process.
    rotated = winners[0].json()["refresh_token"]
    assert [dive_refresh(entry, rotated).status_code for entry in farm[:2]] == [400, 400]
    # A session untouched by the replay still rotates, once.
    other = dive_login(farm[1])
    assert dive_refresh(farm[0], other["refresh_token"]).status_code == 200
    assert dive_refresh(farm[1], other["refresh_token"]).status_code == 400


def test_a_revocation_through_one_process_holds_in_all(farm: list[Entry]) -> None:
    token = clickview_token(farm[0]).json()["access_token"]
    assert clickview_example(farm[1], token).status_code == 200
    assert farm[0].post("/__mock/revoke", json={"token": token}).status_code == 204
    refused = spread(farm, 16, clickview_example, token)
    assert {r.status_code for r in refused} == {401}


def test_a_fault_for_the_next_n_requests_fires_exactly_n_times(farm: list[Entry]) -> None:
    def arm(times: int) -> None:
        fault = {
            "kind": "status",
            "vendor": "clickview",
            "operation": "requestToken",
            "times": times,
            "params": {"status": 503},
        }
        assert farm[1].post("/__mock/faults", json=fault).status_code == 201

    arm(5)
    results = spread(farm, 40, clickview_token)
    assert sorted(r.status_code for r in results) == [200] * 35 + [503] * 5
    assert farm[0].get("/__mock/faults").json()["faults"] == []
    # Armed for as many requests as are sent: every process sees it, and it is used up exactly.
    farm[0].server.admin("DELETE", "/requests")
    arm(24)
    results = spread(farm, 24, clickview_token)
    assert [r.status_code for r in results] == [503] * 24
    assert clickview_token(farm[0]).status_code == 200
    faulted = [e for e in journal(farm[0].server, operation="requestToken") if e["fault"] == "status"]
    assert len(faulted) == 24 and {e["status"] for e in faulted} == {503}
    assert len({e["worker"] for e in faulted}) >= 2  # used up across processes (see the journal test)


def test_one_clock_for_every_process(farm: list[Entry]) -> None:
    assert farm[0].post("/__mock/clock", json={"freeze": True, "at": EPOCH}).json()["now"] == EPOCH
    token = clickview_token(farm[1]).json()["access_token"]
    readings = spread(farm, 16, clock)
    assert {r.json()["now"] for r in readings} == {EPOCH}
    assert {r.json()["frozen"] for r in readings} == {True}
    farm[1].post("/__mock/clock", json={"advance": 86400})  # ClickView tokens live 86400 s
    expired = spread(farm, 16, clickview_example, token)
    assert {r.status_code for r in expired} == {401}
    assert all('error="invalid_token"' in r.headers["WWW-Authenticate"] for r in expired)
    assert {e["time"] for e in journal(farm[0].server, operation="getExample")} == {EPOCH + 86400}
    farm[1].post("/__mock/clock", json={"reset": True})
    assert farm[0].get("/__mock/clock").json()["frozen"] is False


def test_runtime_clients_are_known_everywhere(farm: list[Entry]) -> None:
    client = {"client_id": "ci", "client_secret": "ci-secret", "scopes": ["smartembed.viewkey"]}
    assert farm[0].post("/__mock/clients", json={"vendor": "clickview", "client": client}).status_code == 201
    form = {**CLICKVIEW_FORM, "client_id": "ci", "client_secret": "ci-secret"}
    answers = spread(farm, 16, clickview_token, form)
    assert {r.status_code for r in answers} == {200}
