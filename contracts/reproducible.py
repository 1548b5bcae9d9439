"""The same seed draws the same values whatever the process imported and however tokenmock is installed.

Hypothesis (6.131 and later) sometimes draws a constant it found in the source of the "local" modules
loaded so far: every module outside site-packages and the standard library whose path has no `test`
part. Which modules those are depends on how tokenmock is installed (an editable checkout is local, a
wheel is not) and on what the process imported before the draw (the tests that ran first, the commands
of the CLI that were loaded). So under one seed a chaos sequence or a schemathesis run could differ
between `pip install -e .` and `tox`, or with the order of the tests: issue 13's AminoTV link test
passed or failed that way. `own_constants_only()` makes Hypothesis draw from its built-in constants
only, while it is active.

It reaches into `hypothesis.internal` (there is no public switch); when that changes shape it does
nothing, and the run is as reproducible as Hypothesis makes it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

try:
    from hypothesis.internal.conjecture import providers as _providers
    from hypothesis.internal.constants_ast import Constants as _Constants
except ImportError:  # pragma: no cover - a Hypothesis without local constants
    _providers = None  # type: ignore[assignment]
    _Constants = None  # type: ignore[assignment,misc]

__all__ = ["own_constants_only"]

_LOCK = threading.Lock()
_depth = 0
_saved: Any = None


def _supported() -> bool:
    return (
        _providers is not None
        and _Constants is not None
        and callable(getattr(_providers, "_get_local_constants", None))
        and hasattr(getattr(_providers, "CONSTANTS_CACHE", None), "cache")
    )


def _no_local_constants() -> Any:
    return _Constants()


def _clear_cache() -> None:
    # The cache of permitted constants per choice type holds local constants gathered before.
    _providers.CONSTANTS_CACHE.cache.clear()


@contextmanager
def own_constants_only() -> Iterator[None]:
    """While active (in any thread), Hypothesis draws no constant from the process's local modules."""
    global _depth, _saved
    if not _supported():
        yield
        return
    with _LOCK:
        if _depth == 0:
            _saved = _providers._get_local_constants
            _providers._get_local_constants = _no_local_constants
            _clear_cache()
        _depth += 1
    try:
        yield
    finally:
        with _LOCK:
            _depth -= 1
            if _depth == 0:
                _providers._get_local_constants = _saved
                _saved = None
                _clear_cache()
