"""Shared by the contract suites: the plugin (when the package is not installed) and the mock's readings."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tokenmock import contracts
from tokenmock.mockserver import create_app


def pytest_configure(config: pytest.Config) -> None:
    """Load the tokenmock plugin when its `pytest11` entry point is not installed (a source checkout)."""
    manager = config.pluginmanager
    if not (manager.has_plugin("tokenmock") or manager.has_plugin("tokenmock.pytest_plugin")):
        manager.import_plugin("tokenmock.pytest_plugin")


def spec_readings(vendor: str) -> dict[str, str]:
    """Every discrepancy switch in the reading the contract encodes (not the mock's lenient defaults)."""
    return {entry.id: entry.spec for entry in contracts.register(vendor) if entry.switchable}


def contract_app(vendor: str, **settings: Any) -> Flask:
    """One vendor's mock in the contract's readings. Its own response validation is off, so that drift
    reaches the contract checks under test as a response, not as an exception inside the app."""
    return create_app(
        {
            "vendor": vendor,
            "readings": spec_readings(vendor),
            "access_log": False,
            "validate_responses": False,
            **settings,
        }
    )
