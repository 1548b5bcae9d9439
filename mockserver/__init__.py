"""tokenmock's mock server: every vendor's token endpoints, driven by the contracts in openapi/."""

from mockserver.app import create_app
from mockserver.clock import Clock
from mockserver.controller import ControlError, MockController
from mockserver.core import ResponseDrift, StartupError, TokenMock

__all__ = ["Clock", "ControlError", "MockController", "ResponseDrift", "StartupError", "TokenMock", "create_app"]
