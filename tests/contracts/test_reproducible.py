"""A seed draws the same values whatever the process imported (contracts.reproducible): chaos sequences
and contract runs do not depend on how tokenmock is installed or on which tests ran first."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from hypothesis import strategies as st

from tokenmock.contracts import strategies
from tokenmock.contracts.reproducible import own_constants_only

LOCAL_CONSTANTS = [f"local-constant-{i}" for i in range(300)]


def test_importing_a_module_full_of_constants_changes_no_draw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    strategy = st.lists(st.text(max_size=24), min_size=40, max_size=40)
    before = strategies.sample(strategy, seed=5, count=25)
    # A "local" module (outside site-packages, no `test` in its path), as an editable checkout's are.
    (tmp_path / "user_constants_module.py").write_text(
        "\n".join(f"C{i} = {value!r}" for i, value in enumerate(LOCAL_CONSTANTS)) + "\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("user_constants_module")
    try:
        after = strategies.sample(strategy, seed=5, count=25)
    finally:
        sys.modules.pop("user_constants_module", None)
    assert after == before
    assert not {text for draw in after for text in draw} & set(LOCAL_CONSTANTS)


def test_the_switch_nests_and_restores() -> None:
    from hypothesis.internal.conjecture import providers

    original = providers._get_local_constants
    with own_constants_only():
        with own_constants_only():
            assert providers._get_local_constants is not original
        assert providers._get_local_constants is not original
    assert providers._get_local_constants is original
