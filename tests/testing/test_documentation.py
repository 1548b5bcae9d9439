"""What docs/pytest-plugin.md and docs/controls.md claim about assertions, in-process mode and markers is
what the code does (the examples themselves run as a user project in tests/test_docs.py)."""

from __future__ import annotations

import dataclasses
import inspect
import re

import requests

from tests.documentation import PAGES, section, table
from tests.testing.test_in_process import WIRE
from tokenmock.contracts.strategies import Reply
from tokenmock.mockserver.pipeline.core import ANSWERERS
from tokenmock.pytest_plugin import ReplayServer
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


def test_the_replay_server_is_documented_for_users() -> None:
    text = section("Fuzzing a client: `tokenmock_replay`")
    for name in (".play(reply, routes=", "tokenmock_replay.url", "tokenmock_replay.received", "Reply(status, headers"):
        assert name in text, name
    assert "<!-- readme-test: file test_replay.py -->" in text  # a runnable user-project file
    deliveries = re.findall(r'mode == "(\w+)"', inspect.getsource(ReplayServer._deliver))
    assert len(deliveries) == 7, deliveries
    for delivery in deliveries:
        assert f"`{delivery}`" in text, delivery
    assert [f.name for f in dataclasses.fields(Reply)][:5] == ["status", "headers", "body", "kind", "delivery"]
    # Users get the wheel, not the repository's tests: the page points at none of them.
    assert "tests/" not in PAGES["docs/pytest-plugin.md"]


def test_report_numbers_are_journal_ids_that_go_on_after_a_reset() -> None:
    mock = InProcessMock()
    form = {"grant_type": "password", "client_id": "demo-client", "client_secret": "demo-secret"}
    with mock.activate():
        for _ in range(3):
            requests.post("https://auth.clickviewapp.com/connect/token", data=form, timeout=5)
        mock.reset()
        requests.post("https://auth.clickviewapp.com/connect/token", data=form, timeout=5)
    [entry] = mock.requests()
    assert entry["id"] == 4
    try:
        mock.assert_received("clickview", status=200)
    except AssertionError as failure:
        assert "received 0 matching, of 1 in the journal" in str(failure)
        assert "\n  #4 POST /connect/token -> 400" in str(failure)
    else:
        raise AssertionError("the assertion passed")
    text = " ".join(section("Assertions on what the mock received").split())
    assert "the reset before each test empties the journal but the numbers go on" in text


def test_a_host_given_for_a_vendor_becomes_its_base_url() -> None:
    text = " ".join(section("In-process: the vendors' real URLs, no server").split())
    assert 'A host given for a vendor becomes its base URL: `tokenmock_in_process.url_for("vision10")` is then' in text
    mock = InProcessMock(hosts={"vision10.example.com": "vision10"})
    assert mock.url_for("vision10") == "https://vision10.example.com"
    assert mock.vendor_of("https://api.vision10.invalid/v1/api/oauth/token") == "vision10"  # still routed
    assert "(which is still routed)" in text
