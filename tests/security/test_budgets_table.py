"""The budgets table (docs/security.md, "Budgets") states the limits the code enforces, and every row names
a test module that exists. A limit changed in the code and not in the table (or the reverse) fails here."""

from __future__ import annotations

import re

from tests.documentation import ROOT, section, table
from tokenmock import plugin_wire
from tokenmock.mockserver.config import DEFAULTS, MAX_CONFIG_BYTES
from tokenmock.mockserver.controls import journal_size
from tokenmock.mockserver.controls.claims import CLAIMS_SCHEMA, MAX_ARMED, MAX_CLAIMS_BYTES
from tokenmock.mockserver.controls.faults import MAX_CONTENT_TYPE
from tokenmock.mockserver.serving import server
from tokenmock.mockserver.stores.base import MAX_REVOKED

TABLE = table("| What an outsider controls")


def _figure(number: int) -> str:
    return f"{number:,}"


def _kib(number: int) -> str:
    return f"{number // 1024} KiB" if number < 1024 * 1024 else f"{number // (1024 * 1024)} MiB"


# Row (by its first cell's start) -> what its budget cell must say, from the code.
EXPECTED = {
    "Request line": [_figure(8190)],
    "Header block": ["100 headers", _figure(8190)],
    "Request body": [_kib(int(DEFAULTS["max_body_bytes"]))],
    "Transfer-Encoding": ["exactly `chunked`"],
    "Time to send a request": [f"{server.REQUEST_DEADLINE:g} s"],
    "TLS handshake": [f"{server.TLS_HANDSHAKE_DEADLINE:g} s"],
    "Open connections per worker": [_figure(server.MAX_CONNECTIONS)],
    "A journal record": [_kib(journal_size.ENTRY_BYTES)],
    "The whole journal": [_figure(int(DEFAULTS["journal_size"])), _kib(journal_size.TOTAL_BYTES)],
    "Revoked refresh-token families": [_figure(MAX_REVOKED)],
    "A config file": [_kib(MAX_CONFIG_BYTES)],
    "A fault's `content_type`": [str(MAX_CONTENT_TYPE)],
    "Metrics tallies": ["one per fault source and kind"],
    "Custom claims sent to the admin API": [
        f"{CLAIMS_SCHEMA['maxProperties']} members",
        _kib(MAX_CLAIMS_BYTES),
        f"{MAX_ARMED} claim sets",
    ],
    "The pytest plugin's servers": [
        f"{plugin_wire.MAX_CONNECTIONS} connections",
        f"{plugin_wire.READ_DEADLINE:g} s",
        _kib(plugin_wire.MAX_HEAD_BYTES),
        _kib(plugin_wire.MAX_BODY_BYTES),
    ],
}


def _rows() -> dict[str, list[str]]:
    rows = {}
    for line in TABLE.splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = cells
    return rows


def test_every_budget_in_the_table_is_the_codes() -> None:
    rows = _rows()
    for what, figures in EXPECTED.items():
        (cells,) = [cells for name, cells in rows.items() if name.startswith(what)]
        for figure in figures:
            assert figure in cells[1], (what, figure, cells[1])
    assert len(rows) == len(EXPECTED), set(rows)


def test_every_row_names_a_test_that_exists() -> None:
    for cells in _rows().values():
        (module,) = re.findall(r"`(tests/[\w/]+\.py)`", cells[3])
        assert (ROOT / module).is_file(), module


def test_the_shed_target_and_the_journal_markers_are_as_written() -> None:
    rows = _rows()
    shed = next(cells for name, cells in rows.items() if name.startswith("Open connections"))
    assert _figure(server.MAX_CONNECTIONS - server.SHED_SPARE) in shed[2]
    record = next(cells for name, cells in rows.items() if name.startswith("A journal record"))
    assert f"{journal_size.FIELD_CHARS} characters" in record[2] and f"{journal_size.FIELD_ITEMS} items" in record[2]
    assert f"`{journal_size.TRUNCATED}`" in record[2]
    from tests.reliability.test_hostile_memory import RSS_GROWTH_LIMIT_KIB

    assert RSS_GROWTH_LIMIT_KIB == 50 * 1024 and "within 50 MB" in section("Budgets")
