"""Hostile providers: servers that attack `tokenmock verify` itself rather than get OAuth wrong.

Plain WSGI (no framework could be talked into most of this): every path answers the same way, so
verify meets the attack at its first request, whichever it is.
- `drip`: a valid-looking token answer, one byte a second;
- `endless`: a JSON answer that never ends (no Content-Length);
- `huge`: an answer that announces 1 GiB and streams it;
- `redirect`: every request sent on to another origin (`Recorder`, which counts what reaches it);
- `escapes(app)`: an honest provider with ANSI escape sequences and control characters in its headers and
  bodies, on success and error.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

Start = Callable[[str, list[tuple[str, str]]], Any]
App = Callable[[dict[str, Any], Start], Iterable[bytes]]

# What a terminal would do with these: colour, a fake verdict, a window title, a bell, a backspace, NUL.
ESCAPES = "\x1b[2K\r\x1b[32mPASSED: 0 violation(s)\x1b[0m\x1b]0;owned\x07\x08\x00\x1b[1A"
TOKEN = {"access_token": "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "token_type": "Bearer", "expires_in": 86400, "scope": "x"}
CHUNK = b"a" * 65536


def drip(environ: dict[str, Any], start: Start) -> Iterator[bytes]:
    """One byte a second, for ever: no single read ever waits long."""
    start("200 OK", [("Content-Type", "application/json")])
    for byte in itertools.cycle(json.dumps(TOKEN).encode()):
        yield bytes([byte])
        time.sleep(1)


def endless(environ: dict[str, Any], start: Start) -> Iterator[bytes]:
    """A JSON answer with no end and no length."""
    start("200 OK", [("Content-Type", "application/json")])
    yield b'{"access_token": "'
    while True:
        yield CHUNK


def huge(environ: dict[str, Any], start: Start) -> Iterator[bytes]:
    """1 GiB announced and sent until the client gives up."""
    start("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(1 << 30))])
    yield b'{"access_token": "'
    while True:
        yield CHUNK


def redirect_to(origin: str) -> App:
    """Every request sent on to `origin`, the method and body kept (307)."""

    def app(environ: dict[str, Any], start: Start) -> list[bytes]:
        start("307 Temporary Redirect", [("Location", origin + environ.get("PATH_INFO", "/")), ("Content-Length", "0")])
        return []

    return app


def escapes(app: App) -> App:
    """`app` (an honest provider) with escape sequences wherever a provider controls the text: a header on
    every answer, a member of every JSON object answered, and the token answer's `token_type` (a schema
    violation, so that verify prints it)."""

    def hostile(environ: dict[str, Any], start: Start) -> list[bytes]:
        captured: dict[str, Any] = {}

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.update(status=status, headers=headers)
            return lambda data: None

        data = b"".join(app(environ, keep))
        try:
            document = json.loads(data) if data else None
        except ValueError:
            document = None
        if isinstance(document, dict):
            document["note"] = ESCAPES
            if "token_type" in document:
                document["token_type"] = "Bearer" + ESCAPES
            data = json.dumps(document).encode()  # valid JSON: the escapes arrive once it is decoded
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        headers += [("X-Note", ESCAPES.replace("\x00", "").replace("\r", "")), ("Content-Length", str(len(data)))]
        start(captured["status"], headers)
        return [data]

    return hostile


class Recorder:
    """The other origin: answers 200 to anything, and counts the requests that reach it."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start: Start) -> list[bytes]:
        with self.lock:
            self.seen.append(f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}")
        data = json.dumps(TOKEN).encode()
        start("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]


HOSTILE: dict[str, App] = {"drip": drip, "endless": endless, "huge": huge}
# Every attack, by the name the tests and docs/verify.md give it.
ATTACKS = (*HOSTILE, "redirect", "escapes")
