"""The settings docs/performance.md states about the test suite are the code's (its timings are a
benchmark's, benchmarks/startup.py and the runs it names, not a test's)."""

from __future__ import annotations

from hypothesis import settings

from tests.documentation import section
from tests.redis_server import GENEROUS_STORE_TIMEOUT
from tests.suites.test_mock_contract import EXAMPLES_PER_PROFILE_EXAMPLE
from tokenmock.mockserver.config import load_settings

SUITE = section("The test suite")


def test_contract_run_sizes_are_the_stated_ones() -> None:
    ci = settings.get_profile("ci").max_examples * EXAMPLES_PER_PROFILE_EXAMPLE
    thorough = settings.get_profile("thorough").max_examples * EXAMPLES_PER_PROFILE_EXAMPLE
    assert f"now take {ci} examples per operation" in " ".join(SUITE.split())
    assert f"`--hypothesis-profile thorough` runs {thorough:,}." in SUITE


def test_store_timeouts_are_the_stated_ones() -> None:
    production = load_settings(None, environ={})["store_timeout"]
    text = " ".join(SUITE.split())
    assert f"production's {production:g} s `store_timeout`" in text
    assert f"they now wait {GENEROUS_STORE_TIMEOUT:g} s" in text
    assert f"The outage tests keep {production:g} s." in text
