"""A private redis-server for the tests: Debian's binary on a free loopback port, no persistence.

One harness for every suite that needs a real Redis (the store suites, outages, health): it can be
stopped, restarted empty on the same port, frozen (SIGSTOP) and thawed, and is always stopped by the
fixture that started it, by PID.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import redis

from tests.ports import free_port
from tests.system import require

# The store timeout of tests that are not about outages. Production's 0.5 s (`store_timeout`) takes one
# slow reply for an outage, and on a busy machine (2 shared cores, a CPU burner beside) a reply can be
# that slow: a test of sharing or of the suites must not fail for it. Outage tests keep the production one.
GENEROUS_STORE_TIMEOUT = 10.0


def redis_binary() -> str:
    """The redis-server binary; CI installs it (.ci/run), so there its absence fails instead of skipping."""
    return require("redis-server")


class PrivateRedis:
    """A redis-server of the test's own: start, stop, restart empty at the same port, freeze, thaw."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary, self.workdir = binary, workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [self.binary, *args, "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        probe = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    probe.ping()
                    return
                except redis.RedisError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError("redis-server did not start") from None
                    time.sleep(0.02)  # polling a starting server, not waiting for expiry
        finally:
            probe.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)  # a frozen server cannot act on SIGTERM
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def freeze(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def flush(self) -> None:
        client = redis.Redis(host="127.0.0.1", port=self.port)
        client.flushall()
        client.close()

    def url(self, prefix: str | None = None) -> str:
        """A store URL on this server; a fresh prefix keeps each test's state apart."""
        return f"redis://127.0.0.1:{self.port}/0?prefix={prefix or 'tm-' + uuid.uuid4().hex[:12]}"
