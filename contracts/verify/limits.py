"""The budgets of a `tokenmock verify` run: the defaults of its --timeout, --run-timeout and --max-body.

Apart from `guard` (which enforces them with requests) so that building the command line, `tokenmock
--help` included, does not load the HTTP client (tests/test_startup.py).
"""

from __future__ import annotations

EXCHANGE_SECONDS = 10.0  # one request and its answer
RUN_SECONDS = 900.0  # the whole run
MAX_BODY = 1024 * 1024  # one answer's body, in bytes
