"""The soak runs only when asked for (`pytest -m soak`, `tox -e soak`): it takes minutes."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "soak" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="long load and soak run: select it with -m soak (tox -e soak)")
    for item in items:
        if item.get_closest_marker("soak") is not None:
            item.add_marker(skip)
