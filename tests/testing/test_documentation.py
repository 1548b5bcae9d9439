"""What docs/pytest-plugin.md and docs/controls.md claim about assertions, in-process mode and markers is
what the code does (the examples themselves run as a user project in tests/test_docs.py)."""

from __future__ import annotations

import re

import requests

from tests.documentation import section, table
from tests.testing.test_in_process import WIRE
from tokenmock.mockserver.pipeline.core import ANSWERERS
from tokenmock.testing import InProcessMock, documented_hosts
from tokenmock.testing.markers import KEYS


def test_the_near_miss_sample_is_what_a_failure_prints() -> None:
    sample = re.search(r"```text\n(.*?)```", section("Assertions on what the mock received"), re.S)
    assert sample is not None
    mock = InProcessMock()
    with mock.activate():
        requests.post(
            "https://auth.clickviewapp.com/connect/token",
            data={"grant_type": "password", "client_id": "demo-client", "client_secret": "demo-secret"},
            timeout=5,
        )
        requests.post("https://api.vision10.invalid/v1/api/oauth/token", json={"grant_type": "x"}, timeout=5)
    try:
        mock.assert_received("clickview", "requestToken", times=1, form={"grant_type": "client_credentials"})
    except AssertionError as failure:
        assert str(failure) == sample[1].rstrip("\n")
    else:
        raise AssertionError("the assertion passed")


def test_the_answerers_listed_are_the_journals() -> None:
    for heading in ("Assertions on what the mock received", "The admin API (`/__mock/`)"):
        listed = re.findall(r"`(\w+)`", section(heading).split("answered", 1)[1].split(".", 1)[0])
        assert [name for name in listed if name in ANSWERERS] == list(ANSWERERS), heading


def test_the_host_table_is_the_contracts() -> None:
    rows = re.findall(r"^\| (\w+) \| (.+) \|$", table("| vendor | hosts routed |"), re.M)
    listed = {host: vendor for vendor, cell in rows for host in re.findall(r"`([\w.-]+)`", cell)}
    assert listed == documented_hosts()


def test_the_marker_table_is_the_markers_arguments() -> None:
    rows = re.findall(r"^\| `(\w+)` \|", table("| argument | what it arms |"), re.M)
    assert tuple(rows) == KEYS


def test_the_wire_fault_table_is_the_checked_one() -> None:
    text = table("| fault | requests raises | httpx raises |")
    for kind, _params, _timeout, by_requests, by_httpx in WIRE:
        row = next(line for line in text.splitlines() if f"`{kind}`" in line.split("|")[1])
        _, _, requests_cell, httpx_cell, _ = row.split("|")
        assert (by_requests.__name__ if by_requests else "the whole body") in requests_cell, kind
        assert (by_httpx.__name__ if by_httpx else "the whole body") in httpx_cell, kind
