"""`tokenmock verify` against hostile providers (issue 21 item 4): tiny servers on plain sockets that drip,
flood, redirect elsewhere or send control characters. Verify must end, in one line or a report, without
following the provider anywhere, and write nothing a terminal or an XML parser chokes on.

Each server runs in a daemon thread and stops at teardown; a verify run that would hang is stopped by the
test's bound (`RUNAWAY`) and reported, never waited on for ever.
"""

from __future__ import annotations

import json
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tokenmock.cli import main

# Seconds after which a verify run is taken to hang (far above every --timeout used here).
RUNAWAY = 60.0
Handler = Callable[[socket.socket, threading.Event], None]


class Hostile:
    """A TCP server on 127.0.0.1 that hands every connection to `handler` (in a thread of its own)."""

    def __init__(self, handler: Handler) -> None:
        self.stop = threading.Event()
        self.hits: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.handler = handler
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                self.hits.append(read_request(conn))
                self.handler(conn, self.stop)
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


def read_request(conn: socket.socket) -> bytes:
    """The request's head and as much body as Content-Length says."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(body) < length:
        chunk = conn.recv(4096)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


@pytest.fixture
def hostile() -> Iterator[Callable[[Handler], Hostile]]:
    started: list[Hostile] = []

    def start(handler: Handler) -> Hostile:
        server = Hostile(handler)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def verify_bounded(*args: str) -> Result:
    """Run verify in a thread; a run still going after RUNAWAY seconds fails the test as a hang."""
    outcome: list[Result] = []
    thread = threading.Thread(
        target=lambda: outcome.append(
            CliRunner().invoke(main, ["verify", *args, "--max-examples", "2", "--seed", "1"], catch_exceptions=False)
        ),
        daemon=True,
    )
    thread.start()
    thread.join(RUNAWAY)
    if not outcome:
        pytest.fail(f"verify {' '.join(args)} still running after {RUNAWAY:g} s: it hangs on this provider")
    return outcome[0]


def one_line(result: Result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and result.exit_code == 1, result.output
    return lines[0]


def drip(data: bytes, stop: threading.Event, conn: socket.socket, every: float = 0.5) -> None:
    """Send `data` a byte at a time, then keep dripping spaces, until the test ends."""
    for index in range(len(data)):
        if stop.wait(every):
            return
        conn.sendall(data[index : index + 1])
    while not stop.wait(every):
        conn.sendall(b" ")


def test_a_provider_dripping_its_headers_cannot_hang_verify(hostile: Callable[[Handler], Hostile]) -> None:
    """Issue 21: a byte a second never trips a read timeout; verify used to wait for ever."""
    server = hostile(lambda conn, stop: drip(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n", stop, conn))
    line = one_line(verify_bounded("clickview", "--base-url", server.url, "--timeout", "2"))
    assert f"no complete answer from {server.url}/connect/token within 2 s (--timeout)" in line


@pytest.mark.parametrize("framing", [b"Content-Length: 100000\r\n", b"Connection: close\r\n"], ids=["length", "close"])
def test_a_provider_dripping_its_body_cannot_hang_verify(framing: bytes, hostile: Callable[[Handler], Hostile]) -> None:
    """Also an answer delimited by the connection's close, whose socket http.client hands to the response."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + framing + b"\r\n"

    def handler(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(head)
        drip(b'{"access_token": "', stop, conn, every=0.2)

    server = hostile(handler)
    line = one_line(verify_bounded("clickview", "--base-url", server.url, "--timeout", "2"))
    assert "within 2 s (--timeout)" in line


def json_answer(body: bytes, status: str = "200 OK", extra: bytes = b"") -> Handler:
    def handler(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(
            b"HTTP/1.1 " + status.encode() + b"\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n" + extra + b"\r\n" + body
        )

    return handler


@pytest.mark.parametrize(
    ("size", "cap", "refused"), [(5 * 1024 * 1024, None, True), (4096, "2048", True), (4096, None, False)]
)
def test_an_answer_over_the_cap_is_a_failure(
    size: int, cap: str | None, refused: bool, hostile: Callable[[Handler], Hostile]
) -> None:
    """1 MiB by default, `--max-body` otherwise; an 800 MB answer drove verify to 4.9 GB before."""
    body = json.dumps({"access_token": "x" * size}).encode()
    server = hostile(json_answer(body, "503 Service Unavailable"))
    args = ["clickview", "--base-url", server.url, *(["--max-body", cap] if cap else [])]
    line = one_line(verify_bounded(*args))
    limit = cap or str(1024 * 1024)
    assert (f"is larger than {limit} bytes (--max-body)" in line) is refused, line
    if not refused:
        assert "answered 503" in line


def test_the_root_probe_follows_no_redirect(hostile: Callable[[Handler], Hostile]) -> None:
    """`GET /` (is this a tokenmock?) used to follow a redirect to any host: an SSRF from the CI runner."""
    elsewhere = hostile(json_answer(b'{"service": "tokenmock", "vendors": {}}'))
    location = f"Location: {elsewhere.url}/internal\r\n".encode()

    def provider(conn: socket.socket, stop: threading.Event) -> None:
        request = server.hits[-1]
        if request.startswith(b"GET / "):
            json_answer(b"{}", "302 Found", location)(conn, stop)
        else:
            json_answer(b'{"error": "invalid_client"}', "400 Bad Request")(conn, stop)

    server = hostile(provider)
    verify_bounded("clickview", "--base-url", server.url)
    assert any(hit.startswith(b"GET / ") for hit in server.hits)
    assert elsewhere.hits == []


def test_a_token_request_is_never_redirected(hostile: Callable[[Handler], Hostile]) -> None:
    """A 307 would carry the credentials on to wherever it points: not followed, and said in one line."""
    elsewhere = hostile(json_answer(b'{"access_token": "stolen"}'))
    server = hostile(json_answer(b"{}", "307 Temporary Redirect", f"Location: {elsewhere.url}/t\r\n".encode()))
    line = one_line(verify_bounded("clickview", "--base-url", server.url))
    assert f"answered 307 redirecting to {elsewhere.url}/t" in line
    assert elsewhere.hits == []


PAINT = "\x1b[2J\x1b[H\x1b[32mPASSED: clickview\x1b[0m\r\n\x07\x00\u202e\ud800\ufffe"


def test_control_characters_from_a_provider_reach_neither_terminal_nor_junit(
    hostile: Callable[[Handler], Hostile], tmp_path: Path
) -> None:
    """Escape sequences in a provider's answers used to reach the terminal (a fake green PASSED) and made
    the JUnit file unparseable."""
    painted = PAINT.encode("utf-8", "surrogatepass")

    def provider(conn: socket.socket, stop: threading.Event) -> None:
        request = server.hits[-1]
        if b"client_secret=demo-secret" in request:
            body = json.dumps({"access_token": "abc.def", "token_type": "Bearer", "expires_in": 60}).encode()
            json_answer(body, extra=b"Cache-Control: no-store\r\nX-Paint: \x1b[31mred\r\n")(conn, stop)
        else:  # a refusal whose media type and body paint
            conn.sendall(
                b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; x=\x1b[2J\x1b[32mPASSED\x07\r\n"
                b"Content-Length: " + str(len(painted)).encode() + b"\r\nConnection: close\r\n\r\n" + painted
            )

    server = hostile(provider)
    junit = tmp_path / "verify.xml"
    result = verify_bounded("clickview", "--base-url", server.url, "--junit-xml", str(junit))
    assert result.exit_code == 1
    assert "\\x1b" in result.output  # shown, spelt out
    for raw in ("\x1b", "\x07", "\x00", "\r", "\u202e"):
        assert raw not in result.output
    assert not [line for line in result.output.splitlines() if line.startswith("PASSED")]
    suite = ET.parse(junit).getroot()  # well-formed
    assert suite.get("failures") != "0"
    text = junit.read_text(encoding="utf-8")
    assert "\x1b" not in text and "\\x1b" in text


def test_the_run_stops_at_its_deadline(hostile: Callable[[Handler], Hostile]) -> None:
    """Each answer comes in time, but slowly: `--run-timeout` bounds the whole run, with an error saying so."""
    body = json.dumps({"access_token": "a.b", "token_type": "Bearer", "expires_in": 60}).encode()

    def slow(conn: socket.socket, stop: threading.Event) -> None:
        if not stop.wait(0.4):
            json_answer(body, extra=b"Cache-Control: no-store\r\n")(conn, stop)

    server = hostile(slow)
    result = verify_bounded("clickview", "--base-url", server.url, "--run-timeout", "3", "--timeout", "2")
    assert result.exit_code == 1
    assert "the run's deadline of 3 s passed (--run-timeout)" in result.output
