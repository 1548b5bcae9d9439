"""Loopback ports for the servers tests start: ones the kernel hands out, so parallel runs never collide."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on now (the kernel's choice of an ephemeral port)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
