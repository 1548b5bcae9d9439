"""`tokenmock serve` as a subprocess on 127.0.0.1: its log in a file, its worker's memory and descriptors.

Every server started here is stopped by its own PID (SIGTERM, then SIGKILL after a bounded wait).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.ports import free_port

ROOT = Path(__file__).absolute().parents[2]  # not resolve(): a checkout may link its tests in
START_TIMEOUT = 30.0



class Served:
    """One `tokenmock serve` process; talk to it at `url` (always loopback)."""

    def __init__(
        self, args: Sequence[str], log: Path, env: dict[str, str] | None = None, port: int | None = None
    ) -> None:
        self.port = port or free_port()
        self.log_path = log
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "tokenmock", "serve", "--port", str(self.port), *args]
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=self._log, stderr=subprocess.STDOUT
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited {self.process.returncode}: {self.log()}")
            try:
                requests.get(self.url + "/", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.05)  # polling a starting server
        self.stop()
        raise AssertionError(f"serve did not answer within {START_TIMEOUT:g} s: {self.log()}")

    @property
    def worker_pid(self) -> int:
        """The gunicorn worker (the one process that holds the mock's state and serves requests)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        assert len(children) == 1, f"expected one worker, found {children}"
        return int(children[0])

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_once(self, ready: Callable[[str], bool], bound: float = 30.0) -> str:
        """The log once `ready(log)` holds, or as it is after `bound` seconds: access lines leave the
        workers through a queue (written within moments), so a test polls instead of reading at once."""
        deadline = time.monotonic() + bound
        while not ready(log := self.log()) and time.monotonic() < deadline:
            time.sleep(0.05)  # polling a log written by another thread, not waiting for expiry
        return log

    def stop(self) -> str:
        """SIGTERM (gunicorn's graceful stop), SIGKILL if it lingers; the whole log."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def served(args: Sequence[str], log: Path, env: dict[str, str] | None = None) -> Iterator[Served]:
    """A running `tokenmock serve` for the block's duration."""
    server = Served(args, log, env)
    try:
        yield server
    finally:
        server.stop()


def rss_kib(pid: int) -> int:
    """Resident memory of a process, from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def open_fds(pid: int) -> int:
    """How many file descriptors a process holds, from /proc/PID/fd."""
    return len(os.listdir(f"/proc/{pid}/fd"))
