"""`@pytest.mark.tokenmock(...)`: settings, faults, sequences, chaos, clock and clients for one test.

Each test here is one a user writes; `test_user_project.py` checks in a separate pytest run that the
marker is registered and that what it arms is undone after the test.
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
import pytest
import requests
from flask import Flask

from tokenmock.testing import InProcessMock
from tokenmock.testing.markers import MarkerError, plan

CLICKVIEW_FORM = {
    "grant_type": "client_credentials",
    "client_id": "demo-client",
    "client_secret": "demo-secret",
    "scope": "smartembed.viewkey",
}
TOKEN = "https://auth.clickviewapp.com/connect/token"


@pytest.mark.tokenmock(fault={"kind": "documented", "vendor": "clickview", "operation": "requestToken", "status": 401})
def test_a_documented_401_with_the_live_server(tokenmock_server: Any) -> None:
    answer = requests.post(tokenmock_server.url_for("clickview") + "/connect/token", data=CLICKVIEW_FORM, timeout=5)
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


@pytest.mark.tokenmock(fault={"kind": "documented", "vendor": "clickview", "operation": "requestToken", "status": 401})
def test_a_documented_401_in_process(tokenmock_in_process: InProcessMock) -> None:
    assert requests.post(TOKEN, data=CLICKVIEW_FORM, timeout=5).status_code == 401
    tokenmock_in_process.assert_received("clickview", "requestToken", times=1, fault="documented")


@pytest.mark.tokenmock(settings={"vendors": {"clickview": {"token_lifetime": 60}}})
def test_settings_for_one_test_with_the_live_server(tokenmock_server: Any) -> None:
    answer = requests.post(tokenmock_server.url_for("clickview") + "/connect/token", data=CLICKVIEW_FORM, timeout=5)
    assert answer.json()["expires_in"] == 60


@pytest.mark.tokenmock(settings={"vendors": {"clickview": {"token_lifetime": 60}}})
def test_settings_for_one_test_in_process(tokenmock_in_process: InProcessMock) -> None:
    assert httpx.post(TOKEN, data=CLICKVIEW_FORM).json()["expires_in"] == 60


@pytest.mark.tokenmock(
    sequence={
        "vendor": "clickview",
        "operation": "requestToken",
        "steps": [{"kind": "status", "status": 503}, {"kind": "real"}],
    },
    clock={"freeze": 1_800_000_000},
)
def test_a_sequence_and_a_frozen_clock(tokenmock_in_process: InProcessMock) -> None:
    assert requests.post(TOKEN, data=CLICKVIEW_FORM, timeout=5).status_code == 503
    assert requests.post(TOKEN, data=CLICKVIEW_FORM, timeout=5).status_code == 200
    assert tokenmock_in_process.clock.now() == 1_800_000_000


@pytest.mark.tokenmock(clients={"vendor": "clickview", "client_id": "ci-client", "client_secret": "ci-s3cret",
                                "scopes": ["smartembed.viewkey"]})
def test_a_runtime_client(tokenmock_app: Flask) -> None:
    form = {**CLICKVIEW_FORM, "client_id": "ci-client", "client_secret": "ci-s3cret"}
    assert tokenmock_app.test_client().post("/clickview/connect/token", data=form).status_code == 200


@pytest.mark.tokenmock(chaos=7)
def test_chaos_for_one_test(tokenmock_in_process: InProcessMock) -> None:
    with contextlib.suppress(requests.RequestException):  # chaos may break the connection
        requests.post(TOKEN, data=CLICKVIEW_FORM, timeout=5)
    assert tokenmock_in_process.received("clickview", answered_by="chaos")


@pytest.mark.tokenmock(fault={"kind": "status", "vendor": "clickview", "status": 503})
class TestAMarkerOnAClass:
    @pytest.mark.tokenmock(fault={"kind": "status", "vendor": "clickview", "status": 502})
    def test_both_apply_closest_first_in_the_journal(self, tokenmock_in_process: InProcessMock) -> None:
        statuses = {requests.post(TOKEN, data=CLICKVIEW_FORM, timeout=5).status_code for _ in range(2)}
        assert statuses == {502, 503}


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ({"faults": {}}, "tokenmock has no argument faults"),
        ({"fault": {"vendor": "clickview"}}, 'needs a "kind"'),
        ({"fault": "documented"}, "must be a mapping or a list of mappings"),
        ({"sequence": {"vendor": "clickview", "steps": []}}, 'needs "steps"'),
        ({"chaos": "seven"}, "must be a mapping"),
        ({"chaos": {"exclude": []}}, "whole-number seed"),
        ({"clock": {"rewind": 5}}, "clock takes freeze, set, advance"),
        ({"clients": {"client_id": "x"}}, 'needs "vendor"'),
        ({"settings": ["vendor"]}, "settings must be a mapping"),
    ],
)
def test_a_mistaken_marker_says_what_it_takes(marker: dict[str, Any], message: str) -> None:
    with pytest.raises(MarkerError, match=message):
        plan([((), marker)])


def test_positional_arguments_are_refused() -> None:
    with pytest.raises(MarkerError, match="keyword arguments only"):
        plan([(({"kind": "status"},), {})])
