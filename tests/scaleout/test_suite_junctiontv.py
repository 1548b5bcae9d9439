"""The junctiontv mock suite again, on each shared store (SQLite, Redis): make_app is parametrised here."""

from tests.mockserver.test_junctiontv import *  # noqa: F403
