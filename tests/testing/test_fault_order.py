"""How armed faults combine, as docs/controls.md ("How armed faults combine") and the markers section of
docs/pytest-plugin.md state it: one fault answers each request, oldest first; a fault without `times`
applies once; a marker's faults are armed farthest first, faults before sequences."""

from __future__ import annotations

import requests

from tests.documentation import section
from tokenmock.testing import InProcessMock
from tokenmock.testing.markers import apply, plan

TOKEN_URL = "https://auth.clickviewapp.com/connect/token"
FORM = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"}


def statuses(mock: InProcessMock, count: int) -> list[int]:
    with mock.activate():
        return [requests.post(TOKEN_URL, data=FORM, timeout=5).status_code for _ in range(count)]


def test_one_fault_per_request_oldest_first_and_once_without_times() -> None:
    mock = InProcessMock()
    mock.fault("clickview", "requestToken", "status", times=2, status=503)
    mock.fault("clickview", "requestToken", "status", status=502)  # no times: once
    mock.fault("clickview", "getExample", "status", status=500)  # another operation: not in line
    assert statuses(mock, 4) == [503, 503, 502, 200]
    text = section("How armed faults combine")
    assert "the oldest armed that matches" in text and "neither `times` nor `probability` applies once" in text


def test_a_probability_fault_that_does_not_fire_passes_the_request_on() -> None:
    mock = InProcessMock()
    mock.fault("clickview", "requestToken", "status", probability=0.0001, seed=1, status=503)
    mock.fault("clickview", "requestToken", "status", status=502)
    assert statuses(mock, 2) == [502, 200]
    assert "goes on to the next fault in line" in section("How armed faults combine")


def test_a_sequence_holds_the_faults_armed_after_it() -> None:
    mock = InProcessMock()
    mock.sequence("clickview", "requestToken", [{"kind": "status", "status": 503}, {"kind": "real"}])
    mock.fault("clickview", "requestToken", "status", status=502)
    assert statuses(mock, 4) == [503, 200, 502, 200]
    assert "a fault armed after it waits for its last step" in section("How armed faults combine")


def test_a_module_markers_fault_comes_before_the_tests_own_sequence() -> None:
    module = ((), {"fault": {"kind": "status", "vendor": "clickview", "operation": "requestToken", "status": 502}})
    own = ((), {"sequence": {"vendor": "clickview", "operation": "requestToken",
                             "steps": [{"kind": "status", "status": 503}, {"kind": "real"}]}})
    mock = InProcessMock()
    apply(plan([own, module]), mock.control)  # pytest's iter_markers: the closest first
    assert statuses(mock, 4) == [502, 503, 200, 200]
    assert "a `sequence` on the test itself starts one request later" in " ".join(
        section("Markers: settings, faults and the clock for one test").split()
    )
