"""What the serving changes of issue 18 promise: one send per whole response (same bytes as gunicorn's),
kept-alive connections shared evenly by the workers, a port never shared with another server, and every access-log
line written (through the log queue) by the time `serve` has stopped."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from types import SimpleNamespace

import pytest
import requests
from gunicorn.config import Config
from gunicorn.http import wsgi

from tests.e2e.test_serve import ROOT, start, stop
from tokenmock.mockserver.serving import logpump
from tokenmock.mockserver.serving.server import OneWriteResponse
from tokenmock.mockserver.tokens import new_jti

CLICKVIEW_FORM = {
    "grant_type": "client_credentials",
    "client_id": "demo-client",
    "client_secret": "demo-secret",
    "scope": "smartembed.viewkey",
}


class RecordingSocket:
    def __init__(self) -> None:
        self.sends: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.sends.append(bytes(data))


def respond(cls: type[wsgi.Response], headers: list[tuple[str, str]], chunks: list[bytes], method: str) -> list[bytes]:
    sock = RecordingSocket()
    request = SimpleNamespace(version=(1, 1), method=method, should_close=lambda: False)
    response = cls(request, sock, Config())
    response.start_response("200 OK", headers)
    for chunk in chunks:
        response.write(chunk)
    response.close()
    return sock.sends


def without_date(data: bytes) -> bytes:
    return re.sub(rb"Date: [^\r]*\r\n", b"", data)


@pytest.mark.parametrize(
    ("headers", "chunks", "method", "sends"),
    [
        ([("Content-Type", "application/json"), ("Content-Length", "13")], [b'{"a":"token"}'], "POST", 1),
        ([("Content-Length", "4")], [b"ab", b"cd"], "POST", 3),  # a body in parts: gunicorn's way
        ([("Content-Type", "text/plain")], [b"streamed"], "POST", 3),  # no length: chunked
        ([("Content-Length", "4")], [b"abcd"], "HEAD", 1),  # no body on the wire
        ([("Content-Length", "8")], [b"half"], "POST", 2),  # shorter than announced (a truncation fault)
    ],
)
def test_a_whole_response_goes_out_in_one_send_with_gunicorns_bytes(
    headers: list[tuple[str, str]], chunks: list[bytes], method: str, sends: int
) -> None:
    ours = respond(OneWriteResponse, headers, chunks, method)
    stock = respond(wsgi.Response, headers, chunks, method)
    assert len(ours) == sends
    assert without_date(b"".join(ours)) == without_date(b"".join(stock))
    assert re.search(rb"\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\n", ours[0])


def both_workers_answer(base: str) -> None:
    """Wait (bounded) until both workers have booted and answered once; then empty the journal."""
    seen: set[str] = set()
    for _attempt in range(100):
        requests.get(base + "/clickview/__boot", timeout=10)
        seen |= {e["worker"] for e in requests.get(base + "/__mock/requests", timeout=10).json()["requests"]}
        if len(seen) == 2:
            break
    requests.delete(base + "/__mock/requests", timeout=10)
    assert len(seen) == 2, seen


def test_kept_alive_connections_are_shared_evenly_by_the_workers() -> None:
    process, base = start("--workers", "2")
    sessions = [requests.Session() for _ in range(8)]
    try:
        both_workers_answer(base)
        for number, session in enumerate(sessions):  # each keeps its connection (and its worker) open
            assert session.get(f"{base}/clickview/__connection-{number}", timeout=10).status_code == 404
        journal = requests.get(base + "/__mock/requests", params={"vendor": "clickview"}, timeout=10).json()
    finally:
        for session in sessions:
            session.close()
        output = stop(process)
    per_worker = Counter(entry["worker"] for entry in journal["requests"])
    assert sum(per_worker.values()) == 8, output
    # The kernel alone hands a connection to whichever worker wakes first (often one takes all); the
    # workers' board keeps them within one of each other (3 allows for a worker slow to accept).
    assert len(per_worker) == 2 and min(per_worker.values()) >= 3, per_worker


def test_a_worker_two_connections_ahead_asks_a_client_to_reconnect() -> None:
    process, base = start("--workers", "2")
    sessions = [requests.Session() for _ in range(8)]
    try:
        both_workers_answer(base)
        workers = []
        for number, session in enumerate(sessions):
            session.get(f"{base}/clickview/__connection-{number}", timeout=10)
            workers.append(requests.get(base + "/__mock/requests", timeout=10).json()["requests"][-1]["worker"])
        for session, worker in zip(sessions, workers, strict=True):
            if worker == workers[0]:
                session.close()  # every connection of the first worker gone: the other holds several more
        kept = [s for s, w in zip(sessions, workers, strict=True) if w != workers[0]]
        assert len(kept) >= 3, workers
        closes = 0
        for _ in range(10):  # bounded: each round one request per connection, at most one let go per 50 ms
            for session in kept:
                response = session.get(base + "/clickview/__which", timeout=10)
                closes += response.headers.get("Connection", "").lower() == "close"
            time.sleep(0.06)  # the REBALANCE interval: one connection let go per interval
        answered = requests.get(base + "/__mock/requests", timeout=10).json()["requests"]
    finally:
        for session in sessions:
            session.close()
        stop(process)
    assert closes >= 1  # a connection was asked to move
    last_round = Counter(entry["worker"] for entry in answered[-len(kept) :])
    assert len(last_round) == 2, last_round  # and the held connections now span both workers


def test_a_port_another_server_listens_on_is_refused_not_shared() -> None:
    first, base = start("--workers", "2")
    port = base.rsplit(":", 1)[1]
    try:
        second = subprocess.run(
            [sys.executable, "-m", "tokenmock", "serve", "--workers", "2", "--port", port],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode != 0
        assert "in use" in second.stderr
        assert requests.get(base + "/", timeout=10).status_code == 200  # the first one is untouched
    finally:
        stop(first)


def test_every_access_line_is_written_by_the_time_serve_stops() -> None:
    process, base = start("--workers", "2")
    try:
        with requests.Session() as session:
            for _ in range(40):
                assert session.post(base + "/clickview/connect/token", data=CLICKVIEW_FORM, timeout=10).ok
    finally:
        output = stop(process)
    assert process.returncode == 0, output
    assert len(re.findall(r"POST /clickview/connect/token -> 200 clickview\.requestToken", output)) == 40
    assert "demo-secret" not in output


def test_the_log_queue_is_bounded_and_drained_on_stop(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger("tokenmock")
    saved = (root.handlers[:], root.level, root.propagate, logging.getLogger("tokenmock.access").disabled)
    try:
        logpump.configure_logging(access_log=True)
        assert logpump._pump is not None and logpump._pump.listener is not None
        logpump._pump.listener.stop()  # no listener: lines stay queued
        logpump._pump.listener = None
        for n in range(logpump.LogPump.QUEUE_SIZE + 50):
            logging.getLogger("tokenmock.access").info("line %d", n)
        assert len(logpump._pump.handler.queue) == logpump.LogPump.QUEUE_SIZE  # type: ignore[arg-type]
        logpump._pump.listener = logpump._Listener(logpump._pump.handler.queue, logpump._pump.sink)
        logpump._pump.listener.start()
        logpump.stop_logging()
        written = capsys.readouterr().err.splitlines()
        assert len(written) == logpump.LogPump.QUEUE_SIZE
        assert written[0].endswith("tokenmock.access line 0")
    finally:
        logpump.stop_logging()
        logpump._pump = None
        root.handlers[:], root.level, root.propagate, logging.getLogger("tokenmock.access").disabled = saved


def test_token_ids_come_from_batched_random_bytes_yet_never_repeat_across_a_fork() -> None:
    first = new_jti()  # fills this process's buffer
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe and leaves at once
        os.write(writer, new_jti().encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    from_child = os.read(reader, 64).decode()
    os.close(reader)
    ours = new_jti()
    assert len({first, from_child, ours}) == 3
    assert {uuid.UUID(value).version for value in (first, from_child, ours)} == {4}
