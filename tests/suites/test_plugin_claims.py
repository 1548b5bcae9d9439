"""Custom claims from the pytest plugin: the `tokenmock_server` and `tokenmock_in_process` controls and the
`tokenmock` marker's `claims`, each token read with PyJWT as the code under test would read it."""

from __future__ import annotations

import jwt
import pytest
import requests

from tokenmock.pytest_plugin import LiveMock

FORM = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret",
        "scope": "smartembed.viewkey"}
TOKEN_URL = "https://auth.clickviewapp.com/connect/token"  # ClickView's documented host, routed in-process


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_the_live_mock_arms_claims_and_resets_them(tokenmock_server: LiveMock) -> None:
    tokenmock_server.claims("clickview", {"tenant": "acme", "roles": ["admin"]}, times=1)
    url = tokenmock_server.url_for("clickview") + "/connect/token"
    first = requests.post(url, data=FORM, timeout=5).json()["access_token"]
    second = requests.post(url, data=FORM, timeout=5).json()["access_token"]
    assert claims_of(first)["roles"] == ["admin"] and "tenant" not in claims_of(second)
    minted = tokenmock_server.mint("vision10", claims={"sub": "user-1"})
    assert claims_of(minted["access_token"])["sub"] == "user-1"


@pytest.mark.tokenmock(claims={"vendor": "clickview", "claims": {"iss": "https://wrong.example"}, "times": 1})
def test_the_marker_hands_the_client_a_wrong_issuer(tokenmock_in_process) -> None:
    token = requests.post(TOKEN_URL, data=FORM, timeout=5).json()["access_token"]
    with pytest.raises(jwt.InvalidIssuerError):
        jwt.decode(token, options={"verify_signature": False, "verify_iss": True}, issuer="https://auth.clickviewapp.com")
    assert tokenmock_in_process.requests(vendor="clickview")[-1]["claims"]["overridden"] == ["iss"]


def test_the_marker_is_undone_after_its_test(tokenmock_in_process) -> None:
    token = requests.post(TOKEN_URL, data=FORM, timeout=5).json()["access_token"]
    assert claims_of(token)["iss"] != "https://wrong.example"
    assert tokenmock_in_process.armed_claims() == []


def test_a_bad_claims_marker_is_refused_before_the_test_runs() -> None:
    from tokenmock.testing.markers import MarkerError, plan

    with pytest.raises(MarkerError, match='need "vendor" and "claims"'):
        plan([((), {"claims": {"claims": {"a": 1}}})])
    with pytest.raises(MarkerError, match="not scope"):
        plan([((), {"claims": {"vendor": "clickview", "claims": {}, "scope": "x"}})])
