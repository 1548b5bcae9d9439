"""The case counts the documentation's "Security and reliability" section quotes are the ones the suites try."""

from __future__ import annotations

import importlib
import re

from tests.documentation import TEXT

README = TEXT  # the README and the docs site
CITED = re.compile(r"`tests/security/(test_\w+)\.py`,\s+(\d+) cases")
COUNTED = {
    "test_text_input",
    "test_wire_round2",
    "test_canonical_tokens",
    "test_small_findings",
    "test_masking_values",
    "test_admin_guard",
    "test_store_faults",
    "test_files_and_config",
    "test_round3",
    "test_wire_round3",
    "test_plugin_servers",
}


def test_every_quoted_count_is_the_suites_own() -> None:
    cited = {module: int(count) for module, count in CITED.findall(README)}
    assert set(cited) == COUNTED, set(cited) ^ COUNTED
    for module, count in cited.items():
        assert count == importlib.import_module(f"tests.security.{module}").CASE_COUNT, module
