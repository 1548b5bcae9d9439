"""Load and soak against a live `tokenmock serve` on loopback, and a restart that keeps the configuration.

The soak (marker `soak`, run by `tox -e soak`, not by the default `tox`): 32 concurrent clients send a
fixed 100 000 requests (token requests, refreshes and protected calls across the five vendors) after a
warm-up of 5 000. Every answer must be the documented success; the server's resident memory may grow by
less than 20 MB between warm-up and the end, and it must hold no more file descriptors once the clients
have gone. Nothing is timed: throughput is printed, never asserted. A safety stop ends a run that a
starved machine cannot finish within 30 minutes; it reports how far the run got (on the terminal and in
the test's `user_properties`) instead of failing, and the checks then hold for the requests sent.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.reliability.serving import Served, open_fds, rss_kib, served
from tests.security.flows import (
    REFRESHING,
    RESOURCES,
    VENDORS,
    Credentials,
    Http,
    call_resource,
    login,
    refresh,
    requests_http,
    tokens_of,
)

CLIENTS = 32
TOTAL = int(os.environ.get("TOKENMOCK_SOAK_REQUESTS", "100000"))
WARMUP = 5_000
SAFETY_STOP = 1800.0  # seconds: far above the minutes the run takes on a busy 2-core machine; reports, never fails
RSS_GROWTH_LIMIT_KIB = 20 * 1024
SETTLE = 20.0  # seconds to wait (polling) for the server to close connections the clients closed


@dataclass
class Load:
    """Shared state of one load run: the request budget, the outcome counts, the errors."""

    budget: int
    stop_at: float
    sent: int = 0
    ok: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> bool:
        """One more request, if the budget and the deadline allow."""
        with self.lock:
            if self.sent >= self.budget or time.monotonic() > self.stop_at or len(self.errors) > 20:
                return False
            self.sent += 1
            return True


def _cycle(vendor: str, http: Http, load: Load) -> None:
    """One user's session: a token, protected calls, and (where the vendor has one) a refresh."""

    def expect_ok(what: str, status: int, body: bytes) -> bool:
        if status == 200:
            with load.lock:
                load.ok[what] += 1
            return True
        with load.lock:
            load.errors.append(f"{vendor} {what}: {status} {body[:200]!r}")
        return False

    if not load.take():
        return
    answer = login(vendor, http)
    if not expect_ok("token", answer.status, answer.body):
        return
    access, refresh_token = tokens_of(vendor, answer)
    for resource in RESOURCES[vendor] * 2:
        if not load.take():
            return
        called = call_resource(vendor, http, access, resource)
        expect_ok("protected", called.status, called.body)
    if vendor in REFRESHING and refresh_token and load.take():
        renewed = refresh(vendor, http, refresh_token)
        expect_ok("refresh", renewed.status, renewed.body)


def run_load(base: str, budget: int, clients: int, deadline: float) -> tuple[Load, float]:
    load = Load(budget, time.monotonic() + deadline)

    def client(index: int) -> None:
        with requests.Session() as session:
            http = requests_http(session, base)
            turn = index
            while load.sent < load.budget and time.monotonic() < load.stop_at and len(load.errors) <= 20:
                try:
                    _cycle(VENDORS[turn % len(VENDORS)], http, load)
                except requests.RequestException as exc:
                    with load.lock:
                        load.errors.append(f"{VENDORS[turn % len(VENDORS)]}: {type(exc).__name__}: {exc}")
                turn += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=deadline + 30)
    return load, time.monotonic() - started


def server_pids(server: Served) -> list[int]:
    """The gunicorn master and its workers."""
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
    return [server.process.pid, *map(int, children)]


def settled_fds(pids: list[int], at_most: int | None = None) -> int:
    """Descriptors held once idle connections are closed (polled until stable, or at most SETTLE s)."""
    deadline = time.monotonic() + SETTLE
    previous = -1
    while True:
        count = sum(open_fds(pid) for pid in pids)
        if (at_most is not None and count <= at_most) or (at_most is None and count == previous):
            return count
        if time.monotonic() > deadline:
            return count
        previous = count
        time.sleep(0.5)  # polling the server's descriptor table, not waiting for an expiry


@pytest.fixture
def soak_server(tmp_path: Path) -> Iterator[Served]:
    with served([], tmp_path / "serve.log") as server:  # the defaults a user gets
        yield server


@pytest.mark.soak
def test_soak_32_clients_100k_requests(
    soak_server: Served, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    stop_at = time.monotonic() + SAFETY_STOP  # one safety stop for warm-up and run together
    warm, _ = run_load(soak_server.url, WARMUP, CLIENTS, SAFETY_STOP)
    assert warm.errors == [], warm.errors[:5]
    pids = server_pids(soak_server)
    fds_before = settled_fds(pids)
    rss_before = {pid: rss_kib(pid) for pid in pids}

    # Four quarters of the fixed work, with the memory of every process sampled after each; the warm-up
    # counts against the same safety stop.
    load, elapsed, samples = Load(0, stop_at), 0.0, [sum(rss_before.values())]
    fds_warm = fds_before
    for quarter in range(4):
        part, took = run_load(soak_server.url, TOTAL // 4, CLIENTS, max(stop_at - time.monotonic(), 0.0))
        load.sent += part.sent
        load.ok.update(part.ok)
        load.errors += part.errors
        elapsed += took
        samples.append(sum(rss_kib(pid) for pid in pids))
        if quarter == 0:
            # Worker threads open their SQLite connection on first use (bounded by the thread count),
            # so the leak check compares the last three quarters against the state after the first.
            fds_warm = settled_fds(pids)

    assert soak_server.alive() and server_pids(soak_server) == pids, "a worker died or was replaced"
    rss_after = {pid: rss_kib(pid) for pid in pids}
    fds_after = settled_fds(pids, at_most=fds_warm)
    growth = sum(rss_after.values()) - sum(rss_before.values())
    planned = TOTAL // 4 * 4
    stopped = load.sent < planned and not load.errors
    report = (
        f"soak: {load.sent} of {planned} requests ({dict(load.ok)}) from {CLIENTS} clients in {elapsed:.1f} s "
        f"= {load.sent / max(elapsed, 1e-9):.0f} req/s; RSS KiB by quarter {samples} (+{growth} KiB) over "
        f"{len(pids)} processes {rss_after}; fds {fds_before} -> {fds_warm} -> {fds_after}; "
        f"errors {len(load.errors)}"
    )
    if stopped:
        report += f"; SAFETY STOP after {SAFETY_STOP:g} s: the machine could not finish the fixed work"
    request.node.user_properties.append(("soak", report))
    with capsys.disabled():
        print("\n" + report)
    assert load.errors == [], load.errors[:5]
    assert load.sent == sum(load.ok.values())
    assert growth < RSS_GROWTH_LIMIT_KIB, f"RSS grew {growth} KiB"
    assert fds_after <= fds_warm, f"descriptors {fds_warm} after the first quarter -> {fds_after}"


def test_the_safety_stop_ends_a_run_without_an_error() -> None:
    """A run past its safety stop sends nothing more and records no error (the soak reports it, no failure)."""
    load, _ = run_load("http://127.0.0.1:9", budget=100, clients=4, deadline=0.0)  # nothing listens on port 9
    assert (load.sent, load.errors) == (0, [])


# A restart keeps what the configuration file says.

RESTART = Credentials(
    client_id="restart-client",
    client_secret="restart-secret-0123",
    client_key="restart-client-key",
    username="restart-user",
    password="restart-password",
    amino_username="restart@example.com",
)
PROFILE = "9b2e7c1a-4f3d-4e8a-b6c5-1d2e3f4a5b6c"


def _config(path: Path) -> Path:
    """Every vendor's credentials and signing keys in a YAML file (the demo credentials replaced)."""
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    client = {"client_id": RESTART.client_id, "client_secret": RESTART.client_secret}
    settings = {
        "vendors": {
            "junctiontv": {"token_secret": "jtv-restart-key-0123456789abcdef0123", "clients": [client]},
            "clickview": {
                "signing_secret": "cv-restart-key-0123456789abcdef0123",
                "clients": [{**client, "scopes": ["smartembed.viewkey"]}],
            },
            "vision10": {"private_key_pem": pem.decode(), "clients": [{**client, "scopes": ["all"]}]},
            "divetv": {
                "secret": "dive-restart-key-0123456789abcdef0123",
                "clients": [{"client_key": RESTART.client_key, "client_id": "restart-dive", "scope": ["device"]}],
                "users": [
                    {
                        "username": RESTART.username,
                        "password": RESTART.password,
                        "device_id": "42",
                        "authorities": ["ROLE_TV_GRID"],
                    }
                ],
            },
            "aminotv": {
                "secret": "amino-restart-key-0123456789abcdef0123",
                "clients": [
                    {
                        "username": RESTART.amino_username,
                        "password": RESTART.password,
                        "user_id": 42,
                        "profiles": [PROFILE],
                    }
                ],
            },
        }
    }
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


def test_a_restart_keeps_configured_credentials_and_keys(tmp_path: Path) -> None:
    config = _config(tmp_path / "mock.yaml")
    issued: dict[str, str] = {}
    with served(["--config", str(config)], tmp_path / "first.log") as first, requests.Session() as session:
        http = requests_http(session, first.url)
        for vendor in VENDORS:
            issued[vendor], _ = tokens_of(vendor, login(vendor, http, RESTART))
            assert login(vendor, http).status != 200  # the demo credentials were replaced by the file's
    assert first.process.returncode == 0, first.log()

    with served(["--config", str(config)], tmp_path / "second.log") as second, requests.Session() as session:
        http = requests_http(session, second.url)
        for vendor in VENDORS:
            assert login(vendor, http, RESTART).status == 200, vendor
            for resource in RESOURCES[vendor]:
                if vendor == "aminotv" and resource[0] == "getProfileAuthToken":
                    resource = (resource[0], resource[1], f"/profiles/{PROFILE}/token")
                answer = call_resource(vendor, http, issued[vendor], resource)
                assert answer.status == 200, (vendor, resource[0], answer.body[:200])  # keys from the file
