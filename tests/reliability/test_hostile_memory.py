"""Issue 22, done-when: memory stays flat under a hostile client sending maximum-size requests.

Marker `soak` (run by `tox -e soak`, not by the default run). One `tokenmock serve` worker; clients send
requests at every limit at once (92 headers of 8,000 bytes, within gunicorn's 100 fields of 8,190, and a
form body at max_body_bytes) for HOSTILE_SECONDS, and read the journal as the control page does (200
records a poll). The journal fills (1,000 records) during the warm-up, so what follows is steady state:
the worker's resident memory may grow by at most 50 MB between the end of the warm-up and the end. Before
issue 22, 1,000 such requests added 730 MB to the journal. Nothing is timed: rates are printed only;
the duration is the run's length, not a pass/fail bound.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

from tests.reliability.serving import rss_kib, served
from tokenmock.mockserver.controls.journal_size import ENTRY_BYTES

pytestmark = pytest.mark.soak

HOSTILE_SECONDS = float(os.environ.get("TOKENMOCK_HOSTILE_SECONDS", "60"))
CLIENTS = 4
WARMUP = 1_100  # more than the journal holds: it is full before the first measurement
RSS_GROWTH_LIMIT_KIB = 50 * 1024
# 92 headers of 8,000 bytes and the 8 requests sends (Host, User-Agent, Content-Length...): gunicorn's 100.
HEADERS = {f"X-Hostile-{n:02d}": "h" * 8000 for n in range(92)}
BODY_LIMIT = 64 * 1024  # the default max_body_bytes
SAFETY_STOP = 900.0  # a starved machine: the warm-up reports how far it got instead of hanging


def _body() -> bytes:
    fields = (
        b"grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret&scope=smartembed.viewkey&pad="
    )
    return fields + b"p" * (BODY_LIMIT - len(fields))


def test_memory_stays_flat_under_maximum_size_requests(tmp_path: Path) -> None:
    body = _body()
    assert len(body) == BODY_LIMIT
    headers = {**HEADERS, "Content-Type": "application/x-www-form-urlencoded"}
    with served([], tmp_path / "serve.log", env={"TOKENMOCK_WORKERS": "1"}) as server:
        target = server.url + "/clickview/connect/token"
        statuses: Counter[int] = Counter()
        journal_bytes: list[int] = []
        lock = threading.Lock()

        def hostile(until: float, budget: list[int]) -> None:
            with requests.Session() as session:
                while time.monotonic() < until:
                    with lock:
                        if budget[0] <= 0:
                            return
                        budget[0] -= 1
                    answer = session.post(target, data=body, headers=headers, timeout=60)
                    with lock:
                        statuses[answer.status_code] += 1

        def run(seconds: float, count: int) -> None:
            budget = [count]
            until = time.monotonic() + seconds
            workers = [threading.Thread(target=hostile, args=(until, budget)) for _ in range(CLIENTS)]
            for worker in workers:
                worker.start()
            while any(worker.is_alive() for worker in workers):
                poll = requests.get(server.url + "/__mock/requests", params={"limit": 200}, timeout=60)
                journal_bytes.append(len(poll.content))
                time.sleep(1.0)  # the control page's poll interval
            for worker in workers:
                worker.join()

        started = time.monotonic()
        run(SAFETY_STOP, WARMUP)
        warm = rss_kib(server.worker_pid)
        warmed = sum(statuses.values())
        took = time.monotonic() - started
        print(f"warm-up: {warmed} maximum-size requests in {took:.0f}s, worker RSS {warm / 1024:.1f} MB")
        statuses.clear()
        run(HOSTILE_SECONDS, 10**9)
        end = rss_kib(server.worker_pid)
        sent = sum(statuses.values())
        print(
            f"hostile: {sent} maximum-size requests in {HOSTILE_SECONDS:.0f}s ({sent / HOSTILE_SECONDS:.1f}/s), "
            f"statuses {dict(statuses)}; worker RSS {warm / 1024:.1f} MB -> {end / 1024:.1f} MB "
            f"({(end - warm) / 1024:+.1f} MB); largest journal poll {max(journal_bytes) / 1024:.0f} KiB"
        )
        assert sent > 0 and set(statuses) == {200}, statuses  # each one reached the mock and its journal
        assert min(journal_bytes[-5:]) > 200 * 1024  # the polls read 200 records (kept, truncated)
        assert end - warm <= RSS_GROWTH_LIMIT_KIB, (warm, end)
        assert max(journal_bytes) <= 200 * (ENTRY_BYTES + 64) + 1024  # a poll of 200 records stays bounded
