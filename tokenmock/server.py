"""Serving the mock on gunicorn (a production WSGI server), with the logging the mock needs."""

from __future__ import annotations

import ipaddress
import logging
import sys
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class MockServer(BaseApplication):
    """gunicorn running an app built once in the master and forked into the workers.

    With one worker the state may live in the process (memory store); with more, it lives in a shared
    store (SQLite or Redis) and the workers behave as one server. gthread workers keep connections
    alive (sync workers close each one, which costs load generators and clients a TCP handshake per
    request).
    """

    def __init__(self, app_factory: Callable[[], Flask], options: dict[str, Any]) -> None:
        self.app_factory = app_factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.app_factory()


def configure_logging(access_log: bool) -> None:
    """One masked line per request on stderr (the mock writes it itself; gunicorn's access log is off)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    root = logging.getLogger("tokenmock")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    logging.getLogger("tokenmock.access").disabled = not access_log


def serve(
    app_factory: Callable[[], Flask],
    *,
    host: str,
    port: int,
    workers: int = 1,
    threads: int = 8,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Run until SIGINT/SIGTERM (gunicorn stops gracefully on both)."""
    options: dict[str, Any] = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "keepalive": 5,
        "graceful_timeout": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "preload_app": True,
        "limit_request_line": 8190,
        "limit_request_fields": 100,
        "limit_request_field_size": 8190,
    }
    if on_ready is not None:
        options["when_ready"] = lambda _server: on_ready()
    MockServer(app_factory, options).run()
