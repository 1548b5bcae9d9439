"""Tests of guarantees that need a change in a file this suite does not own (issue 8's report, changes A-C).

Each marker is strict: once the change lands the test passes, pytest reports XPASS(strict) as a failure,
and the marker is to be deleted.
"""

from __future__ import annotations

import pytest

APP_READ_ERRORS = pytest.mark.xfail(
    strict=True,
    reason="change A (mockserver/app.py): a body that cannot be read (cut short, broken chunk, read timeout) "
    "is answered 404 or 500, and '//' in a path gets werkzeug's 308 with HTML; both must be the vendor's 4xx, "
    "and an operation without a body must ignore one",
)
WORKER_JSON_ERRORS = pytest.mark.xfail(
    strict=True,
    reason="change B (tokenmock/server.py): gunicorn refuses malformed HTTP with an HTML page and logs the "
    "request line (query secrets included); the worker must answer JSON and log without the request line",
)
# gunicorn answers an unknown or empty transfer coding (and some junk heads the wire fuzz finds) with
# "501 ... Unsupported transfer coding"; the fuzz tolerates that one answer until change B lands (then
# delete this and its use in test_fuzz_wire.assert_answer).
GUNICORN_501 = b"Unsupported transfer coding"
WORKER_SLOW_CLIENTS = pytest.mark.xfail(
    strict=True,
    reason="change B (tokenmock/server.py): a gthread worker blocks a thread on a client that sends its "
    "request slowly, so threads+1 slow clients stop the server; requests must be read before dispatch",
)
EXPOSED_ADMIN = pytest.mark.xfail(
    strict=True,
    reason="change C (tokenmock/cli.py): `serve` must pass exposed=True when it binds a non-loopback address, "
    "so /__mock/ asks for the admin token from every client",
)
