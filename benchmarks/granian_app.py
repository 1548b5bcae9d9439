"""The WSGI target for granian in the stack comparison: `granian --interface wsgi --factory granian_app:build`.

Each granian worker calls `build()`: the mock as `tokenmock serve` builds it (BENCH_APP=mock, the store
from TOKENMOCK__STORE) or the bare ceiling (BENCH_APP=bare).
"""

from __future__ import annotations

import os
from typing import Any


def build() -> Any:
    """The application for this worker."""
    if os.environ.get("BENCH_APP") == "bare":
        from bare import app

        return app
    from tokenmock.mockserver import create_app
    from tokenmock.mockserver.config import load_settings
    from tokenmock.mockserver.serving.server import configure_logging

    settings = load_settings(None)
    configure_logging(bool(settings.get("access_log", True)))
    return create_app(settings)
