"""`tokenmock serve --chaos SEED`: two runs with the same seed answer the same requests alike, across workers."""

from __future__ import annotations

import json
import socket
from typing import Any

import requests

from tests.e2e.test_serve import start, stop

# (path, Content-Type, body): token requests of two vendors, as a client in any language would send them.
REQUESTS = [
    ("/clickview/connect/token", "application/x-www-form-urlencoded",
     b"grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret"),
    ("/vision10/v1/api/oauth/token", "application/json",
     json.dumps({"grant_type": "client_credentials", "scope": "all", "client_id": "demo-client",
                 "client_secret": "demo-secret"}).encode()),
] * 15


def send(base: str, path: str, content_type: str, body: bytes) -> bytes:
    """One request over a plain socket; the first bytes received (the status line, or whatever came)."""
    host, port = base.removeprefix("http://").split(":")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=1.5) as sock:
        sock.sendall(head + body)
        try:
            return sock.recv(12)  # b"HTTP/1.1 200", garbage, or b"" when the connection was dropped
        except OSError:  # a reset, or a stall the client gives up on (the server then lets go)
            return b""


def chaos_run(*args: str) -> list[dict[str, Any]]:
    process, base = start("--chaos", "7", *args)
    try:
        seen = [send(base, path, content_type, body) for path, content_type, body in REQUESTS]
        journal = requests.get(f"{base}/__mock/requests", timeout=5).json()["requests"]
    finally:
        output = stop(process)
    assert "demo-secret" not in output
    assert "Traceback" not in output  # broken connections are the point here, not server errors
    assert len(journal) == len(REQUESTS)
    # Entries are journaled as answers finish (a slow draw may finish after the next request's); request
    # n, sent after request n-1 was given up or answered, took draw n when it arrived.
    journal.sort(key=lambda e: int(e["fault"].split(":")[1]))
    return [
        {"path": e["path"], "fault": e["fault"], "status": e["status"], "first_bytes": first[:12]}
        for e, first in zip(journal, seen, strict=True)
    ]


def test_same_seed_same_sequence_across_runs_and_workers() -> None:
    first = chaos_run("--workers", "2")
    again = chaos_run("--workers", "2")
    answers = [[(e["path"], e["fault"], e["status"]) for e in run] for run in (first, again)]
    assert answers[0] == answers[1]
    assert [e["fault"].split(":")[1] for e in first] == [str(n) for n in range(len(REQUESTS))]
    assert [e["path"] for e in first] == [path for path, _, _ in REQUESTS]  # draw n is request n
    drawn = {e["fault"].split(":")[2] for e in first}
    assert {"real", "documented_error"} <= drawn and len(drawn) >= 8
    # what went over the wire follows the draw: a real answer starts with a status line
    assert all(e["first_bytes"].startswith(b"HTTP/1.1 200") for e in first if e["fault"].endswith(":real"))


def test_exclude_leaves_kinds_out() -> None:
    slow = "stalled_body,dripping_body,no_answer,connection_reset,not_http,truncated_body"
    run = chaos_run("--workers", "1", "--chaos-exclude", slow)
    drawn = {e["fault"].split(":")[2] for e in run}
    assert not drawn & set(slow.split(","))
    assert all(e["first_bytes"].startswith(b"HTTP/1.1 ") for e in run)  # every draw is a whole HTTP answer
