"""The vision10 mock suite again, on each shared store (SQLite, Redis): make_app is parametrised here."""

from tests.mockserver.test_vision10 import *  # noqa: F403
