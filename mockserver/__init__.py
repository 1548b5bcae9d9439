"""tokenmock's mock server: every vendor's token endpoints, driven by the contracts in openapi/."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokenmock.mockserver.app import create_app
from tokenmock.mockserver.controls.clock import Clock
from tokenmock.mockserver.pipeline.core import ResponseDrift, StartupError, TokenMock

if TYPE_CHECKING:
    from tokenmock.mockserver.controls.async_controller import AsyncMockController
    from tokenmock.mockserver.controls.controller import ControlError, MockController

__all__ = [
    "AsyncMockController",
    "Clock",
    "ControlError",
    "MockController",
    "ResponseDrift",
    "StartupError",
    "TokenMock",
    "create_app",
]


def __getattr__(name: str) -> Any:
    """The HTTP controller on first use: it brings `requests` (~90 ms of imports), which `serve` never needs."""
    if name in ("ControlError", "MockController"):
        from tokenmock.mockserver.controls import controller

        return getattr(controller, name)
    if name == "AsyncMockController":  # httpx, only for asyncio tests
        from tokenmock.mockserver.controls import async_controller

        return async_controller.AsyncMockController
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
