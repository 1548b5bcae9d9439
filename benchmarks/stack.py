"""Serve the mock (or the bare ceiling) on an explicit server configuration, for the stack comparison.

`python benchmarks/stack.py --port P --worker-class gthread --workers 2 --threads 8 [--app bare]
[--store sqlite:///tmp/x.db] [--keepalive 5]`: gunicorn, as `tokenmock serve` runs it but with the
given worker class and counts. `--worker-class granian` runs granian instead (a Rust HTTP server;
installed by run.py under benchmarks/.peers/py, not a dependency of tokenmock), each worker building
the app through `granian_app.build`. The mock is built as `tokenmock serve` builds it (settings from
the defaults, the config file and the environment; logging configured the same way).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any


def main() -> None:
    root = Path(__file__).resolve().parent
    sys.path[:0] = [str(root.parent), str(root)]
    from bare import app as bare_app

    from tokenmock.mockserver.serving.server import MockServer, configure_logging

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--keepalive", type=int, default=5)
    parser.add_argument("--app", choices=("mock", "bare"), default="mock")
    parser.add_argument("--store", help="state store URL for the mock (a shared one when --workers > 1)")
    args = parser.parse_args()

    if args.worker_class == "granian":
        env = {**os.environ, "BENCH_APP": args.app, "PYTHONPATH": os.pathsep.join(
            [str(root / ".peers" / "py"), str(root), str(root.parent), os.environ.get("PYTHONPATH", "")])}
        if args.store:
            env["TOKENMOCK__STORE"] = args.store
        command = [sys.executable, "-m", "granian", "--interface", "wsgi", "--factory", "--host", args.host,
                   "--port", str(args.port), "--workers", str(args.workers), "--blocking-threads",
                   str(args.threads), "--no-ws", "--log-level", "warning", "granian_app:build"]
        os.execve(sys.executable, command, env)  # granian becomes this process: run.py stops it by PID

    if args.app == "bare":
        app: Any = bare_app
    else:
        from tokenmock.mockserver import create_app
        from tokenmock.mockserver.config import load_settings

        settings = load_settings(None)
        if args.store:
            settings["store"] = args.store
        configure_logging(bool(settings.get("access_log", True)))
        app = create_app(settings)
        close = getattr(getattr(app.extensions["tokenmock"], "store", None), "close", None)
        if close is not None:
            close()  # connections must not cross the fork into the workers
    options = {
        "bind": f"{args.host}:{args.port}",
        "workers": args.workers,
        "worker_class": args.worker_class,
        "threads": args.threads,
        "keepalive": args.keepalive,
        "graceful_timeout": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "preload_app": True,
    }
    MockServer(lambda: app, options).run()


if __name__ == "__main__":
    main()
