"""tokenmock's mock server: every vendor's token endpoints, driven by the contracts in openapi/."""

from tokenmock.mockserver.app import create_app
from tokenmock.mockserver.controls.clock import Clock
from tokenmock.mockserver.controls.controller import ControlError, MockController
from tokenmock.mockserver.pipeline.core import ResponseDrift, StartupError, TokenMock

__all__ = ["Clock", "ControlError", "MockController", "ResponseDrift", "StartupError", "TokenMock", "create_app"]
