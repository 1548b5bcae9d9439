"""Testing your own code with tokenmock's pytest plugin (this file is the README's example).

The plugin comes with `pip install tokenmock`; its fixtures need no import.
"""

import pytest
import requests
from hypothesis import given, settings

from tokenmock.client import ClickViewClient, ContractViolation, RetryPolicy, TransportError
from tokenmock.contracts import strategies


def test_my_service_calls_the_api_with_a_token(tokenmock_server):
    base = tokenmock_server.url + "/clickview"  # the live mock, one per session, clean for every test
    demo = tokenmock_server.demo("clickview")
    clickview = ClickViewClient(demo["client_id"], demo["client_secret"], base_url=base)

    response = requests.get(f"{base}/api/v1/example", auth=clickview.auth(), timeout=5)

    assert response.status_code == 200


def test_my_service_rides_out_an_outage(tokenmock_server):
    # The token endpoint fails twice with 503, then recovers: the client's retries absorb it.
    tokenmock_server.control.fault("clickview", "requestToken", "status", status=503, times=2)
    demo = tokenmock_server.demo("clickview")
    clickview = ClickViewClient(
        demo["client_id"],
        demo["client_secret"],
        base_url=tokenmock_server.url_for("clickview"),
        retry=RetryPolicy(attempts=3, base=0.01),
    )

    assert clickview.token().access_token
    assert [r["status"] for r in tokenmock_server.control.requests(vendor="clickview")] == [503, 503, 200]


@settings(max_examples=25, deadline=None)
@given(
    reply=strategies.hostile_replies(
        "clickview", "requestToken", ["html_error_page", "redirect", "invalid_json", "no_answer"]
    )
)
def test_my_client_fails_cleanly_on_a_broken_server(tokenmock_replay, reply):
    # tokenmock_replay answers with whatever it is given: here, what a broken server or proxy sends.
    tokenmock_replay.play(reply)
    clickview = ClickViewClient(
        "id", "secret", base_url=tokenmock_replay.url, timeout=0.5, retry=RetryPolicy(attempts=1)
    )

    with pytest.raises((ContractViolation, TransportError)):
        clickview.token()
