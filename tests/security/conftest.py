"""Reports how many hostile cases the fuzz suites tried (issue 8 asks for the count)."""

from __future__ import annotations

from typing import Any

from tests.security.hostile import CASES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if CASES:
        counts = ", ".join(f"{name} {count}" for name, count in sorted(CASES.items()))
        terminalreporter.write_line(f"tokenmock fuzz: {sum(CASES.values())} hostile cases tried ({counts})")
