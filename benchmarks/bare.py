"""The ceiling: a bare WSGI callable answering a static token, served exactly as the mock is.

`python benchmarks/bare.py --port P [--workers W --threads T]` runs it through
`tokenmock.mockserver.serving.server.serve`,
the function `tokenmock serve` uses, so the only difference from the mock is the application.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

BODY = b'{"access_token":"static-token","token_type":"Bearer","expires_in":3600}'
HEADERS = [
    ("Content-Type", "application/json"),
    ("Cache-Control", "no-store"),
    ("Pragma", "no-cache"),
    ("Content-Length", str(len(BODY))),
]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Read the body (as any server must), answer the same static token every time."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    start_response("200 OK", HEADERS)
    return [BODY]


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tokenmock.mockserver.serving.server import serve

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()
    accepted = inspect.signature(serve).parameters
    options: dict[str, Any] = {k: v for k, v in (("workers", args.workers), ("threads", args.threads)) if v}
    options = {k: v for k, v in options.items() if k in accepted}
    serve(lambda: app, host=args.host, port=args.port, **options)  # type: ignore[arg-type,return-value]


if __name__ == "__main__":
    main()
