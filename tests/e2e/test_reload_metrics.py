"""End to end (issue 17): `serve --reload` applies a changed config without a restart, keeping state; the
metrics of several gunicorn workers add up."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.ports import free_port
from tokenmock.mockserver.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]
CLICKVIEW = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"}
# The ports this suite's servers may use.

class Served:
    """`tokenmock serve` in a subprocess; its stderr collected in a file (read at any time)."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"serve-{self.port}.log"
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tokenmock", "serve", "--port", str(self.port), *args],
                cwd=ROOT,
                env={**os.environ, "TOKENMOCK__ACCESS_LOG": "false"},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.wait_for(lambda: requests.get(self.base + "/", timeout=0.5).ok, "the server to answer")

    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, condition: Callable[[], Any], what: str, within: float = 20) -> Any:
        """Poll `condition` until it is truthy; past `within` seconds, fail saying what did not happen."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited: {self.output()}")
            with contextlib.suppress(requests.RequestException):
                if found := condition():
                    return found
            time.sleep(0.05)  # polling a server for a change, not waiting for expiry
        raise AssertionError(f"gave up after {within} s waiting for {what}; serve said:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=15)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(*args: str) -> Served:
        started.append(Served(tmp_path, *args))
        return started[-1]

    yield start
    for served in started:
        served.stop()


def lifetime(served: Served) -> int:
    answer = requests.post(f"{served.base}/clickview/connect/token", data=CLICKVIEW, timeout=5)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["expires_in"])


def test_reload_applies_a_changed_token_lifetime_and_keeps_state(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    config = tmp_path / "mock.yaml"
    config.write_text("vendors:\n  clickview:\n    token_lifetime: 60\n")
    served = serve("--workers", "1", "--config", str(config), "--reload")  # memory store: state in the worker
    assert lifetime(served) == 60
    early = requests.post(f"{served.base}/clickview/connect/token", data=CLICKVIEW, timeout=5).json()["access_token"]
    admin = f"{served.base}/__mock"
    requests.post(f"{admin}/clients", timeout=5, json={"vendor": "clickview", "client": {
        "client_id": "ci", "client_secret": "ci-secret-value", "scopes": ["smartembed.viewkey"]}})
    requests.post(f"{admin}/faults", json={"kind": "latency", "vendor": "divetv", "times": 5}, timeout=5)
    requests.post(f"{admin}/clock", json={"advance": 3600}, timeout=5)
    clock_before = requests.get(f"{admin}/clock", timeout=5).json()["offset"]

    config.write_text("vendors:\n  clickview:\n    token_lifetime: 120\n")
    served.wait_for(lambda: "reload: applied mock.yaml: vendors.clickview.token_lifetime: 60 -> 120\n"
                    in served.output(), "the reload to be reported")  # the line the README shows
    served.wait_for(lambda: lifetime(served) == 120, "expires_in 120")
    client = "{client_id: demo-client, client_secret: new-secret-value, scopes: [smartembed.viewkey]}"
    config.write_text(f"vendors:\n  clickview:\n    token_lifetime: 120\n    clients:\n      - {client}\n")
    served.wait_for(lambda: "vendors.clickview.clients changed (value not shown)" in served.output(), "the new client")
    served.wait_for(lambda: requests.post(f"{served.base}/clickview/connect/token", timeout=5, data={
        **CLICKVIEW, "client_secret": "new-secret-value"}).status_code == 200, "the new secret to work")
    assert "new-secret-value" not in served.output()  # a changed secret is named, not shown
    # the state kept in the store survived: journal, runtime client, armed fault, clock
    assert requests.get(f"{admin}/requests", timeout=5).json()["count"] >= 2
    ci = requests.post(f"{served.base}/clickview/connect/token", timeout=5,
                       data={**CLICKVIEW, "client_id": "ci", "client_secret": "ci-secret-value"})
    assert ci.status_code == 200
    assert [f["kind"] for f in requests.get(f"{admin}/faults", timeout=5).json()["faults"]] == ["latency"]
    assert requests.get(f"{admin}/clock", timeout=5).json()["offset"] == pytest.approx(clock_before, abs=1)
    example = requests.get(f"{served.base}/clickview/api/v1/example", timeout=5,
                           headers={"Authorization": f"Bearer {early}"})
    assert example.status_code == 401 and "expired" in example.headers["WWW-Authenticate"]  # same key: it verifies

    config.write_text("vendors:\n  clickview:\n    token_lifetime: [\n")  # not YAML
    served.wait_for(lambda: "reload: refused mock.yaml" in served.output(), "the refusal to be reported")
    assert "still serving the previous settings" in served.output()
    config.write_text("vendors:\n  clickview:\n    token_lifetime: -5\n")  # YAML the schema refuses
    with pytest.raises(ConfigError) as schema_says:
        load_settings(config)
    served.wait_for(lambda: f"still serving the previous settings: {schema_says.value}" in served.output(),
                    "the schema's message")
    assert requests.post(f"{served.base}/clickview/connect/token", timeout=5, data={
        **CLICKVIEW, "client_secret": "new-secret-value"}).json()["expires_in"] == 120


def scrape(served: Served) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = requests.get(f"{served.base}/__mock/metrics", timeout=5, headers={"Connection": "close"}).text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_add_up_across_workers(serve: Callable[..., Served]) -> None:
    served = serve("--workers", "2")
    sent, workers = 0, set()
    while len(workers) < 2 and sent < 400:  # new connections until both workers have answered
        with requests.Session() as fresh:
            fresh.post(f"{served.base}/clickview/connect/token", data=CLICKVIEW, timeout=5)
        sent += 1
        workers = {e["worker"] for e in requests.get(f"{served.base}/__mock/requests", timeout=5).json()["requests"]}
    if len(workers) < 2:
        pytest.skip(f"one worker answered all {sent} requests; the sum across workers was not exercised")
    key = ("tokenmock_requests_total",
           frozenset({"vendor": "clickview", "operation": "requestToken", "status": "200"}.items()))
    # A worker adds its tallies to the shared files at least twice a second (and before it answers a scrape).
    served.wait_for(lambda: scrape(served).get(key) == sent, f"a scrape counting all {sent} requests", within=10)
    seen = {scrape(served).get(key) for _ in range(8)}  # scrapes land on either worker: each sums both
    assert seen == {float(sent)}
    # The counts live in a directory of serve's own that only its user can enter, gone after it stops.
    pid = int(next(iter(workers)).rsplit(":", 1)[1])
    held = {os.path.realpath(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    directories = {os.path.dirname(path) for path in held if path.endswith(".db") and "tokenmock-metrics-" in path}
    assert len(directories) == 1, held
    directory = directories.pop()
    assert os.stat(directory).st_mode & 0o777 == 0o700
    served.stop()
    assert not os.path.exists(directory)


def worker_of_last_request(served: Served) -> str | None:
    """The worker that answered a token request (None while, mid-HUP, the two requests met different workers)."""
    requests.post(f"{served.base}/clickview/connect/token", data=CLICKVIEW, timeout=5)
    last = requests.get(f"{served.base}/__mock/requests?limit=1", timeout=5).json()["requests"]
    return str(last[0]["worker"]) if last else None


@pytest.mark.parametrize("reload", [False, True], ids=["hup", "hup-with-reload"])
def test_what_a_hup_does(serve: Callable[..., Served], tmp_path: Path, reload: bool) -> None:
    """The README's reason for an in-app reload: a HUP restarts the workers from the app the server started with."""
    config = tmp_path / "mock.yaml"
    config.write_text("vendors:\n  clickview:\n    token_lifetime: 60\n")
    served = serve("--workers", "1", "--config", str(config), *(["--reload"] if reload else []))
    first = worker_of_last_request(served)
    config.write_text("vendors:\n  clickview:\n    token_lifetime: 120\n")
    served.process.send_signal(signal.SIGHUP)
    served.wait_for(lambda: worker_of_last_request(served) not in (None, first), "a new worker after the HUP")
    if reload:  # the new worker catches up with the file
        served.wait_for(lambda: lifetime(served) == 120, "the new worker to apply the file")
    else:  # the old settings, and the memory store's state gone with the old worker
        assert lifetime(served) == 60
        assert {e["worker"] for e in requests.get(f"{served.base}/__mock/requests", timeout=5).json()["requests"]} \
            == {worker_of_last_request(served)}
