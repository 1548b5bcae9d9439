"""Assertions on what the mock received, and the near-miss report a failed one prints."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import requests
from flask import Flask

from tests import documentation
from tests.conftest import LiveServer
from tokenmock.mockserver import MockController
from tokenmock.mockserver.controls.verification import ANY, RequestPattern, check_received, report

FORM = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"}


@pytest.fixture
def live(make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer]) -> LiveServer:
    return serve(make_app())


@pytest.fixture
def mock(live: LiveServer) -> MockController:
    return MockController(live.url)


def token(live: LiveServer, **form: str) -> requests.Response:
    return requests.post(f"{live.url}/clickview/connect/token", data={**FORM, **form}, timeout=5)


def test_count_and_match_what_the_client_sent(live: LiveServer, mock: MockController) -> None:
    token(live)
    token(live)
    sent = mock.assert_received(
        vendor="clickview", operation="requestToken", times=2, form={"grant_type": "client_credentials"}
    )
    assert [entry["status"] for entry in sent] == [200, 200]
    mock.assert_received("clickview", "requestToken", method="post", status=200, form={"client_secret": ANY})
    mock.assert_received("clickview", headers={"content-type": re.compile(r"application/x-www-form-urlencoded.*")})
    mock.assert_not_received("vision10")
    assert len(mock.received("clickview", status=range(200, 300))) == 2


def test_a_failed_assertion_lists_the_closest_requests_and_what_each_failed(
    live: LiveServer, mock: MockController
) -> None:
    token(live, grant_type="password")
    requests.post(f"{live.url}/vision10/v1/api/oauth/token", json={"grant_type": "client_credentials"}, timeout=5)
    with pytest.raises(AssertionError) as failed:
        mock.assert_received("clickview", "requestToken", times=1, form={"grant_type": "client_credentials"})
    message = str(failed.value)
    assert message.startswith(
        "expected exactly 1 request matching vendor='clickview', operation='requestToken', "
        "form={'grant_type': 'client_credentials'}\nreceived 0 matching, of 2 in the journal\n"
        "closest requests that did not match:\n"
        "  #1 POST /clickview/connect/token -> 400 (clickview.requestToken, answered by handler)\n"
        "      form.grant_type: expected 'client_credentials', got 'password'\n"
        "  #2 POST /vision10/v1/api/oauth/token -> "
    )
    assert "vendor: expected 'clickview', got 'vision10'" in message
    assert "body: expected a form body, got application/json" in message


def test_too_many_is_a_failure_that_lists_the_matches(live: LiveServer, mock: MockController) -> None:
    token(live)
    token(live)
    with pytest.raises(AssertionError, match=r"received 2 matching, of 2.*\nmatched:\n  #1 POST .*\n  #2 POST"):
        mock.assert_received("clickview", times=1)
    with pytest.raises(AssertionError, match="expected exactly 0 requests"):
        mock.assert_not_received("clickview", status=200)


def test_secrets_stay_masked_in_the_report(live: LiveServer, mock: MockController) -> None:
    token(live)
    with pytest.raises(AssertionError) as failed:
        mock.assert_received("clickview", form={"client_secret": "demo-secret", "grant_type": "x"})
    assert "demo-secret" not in str(failed.value)
    assert "form.client_secret: masked in the journal (secrets are never kept); match it with ANY" in str(failed.value)


@pytest.mark.parametrize(
    ("condition", "matches", "reason"),
    [
        (ANY, True, None),
        ("Bearer ***", True, None),
        (re.compile("Bearer .*"), True, None),
        ("Bearer the-real-token", False, "header Authorization: masked in the journal"),
        (re.compile("Basic .*"), False, "header Authorization: expected re('Basic .*'), got 'Bearer ***'"),
        ("Basic dXNlcjpwYXNz", False, "header Authorization: expected 'Basic ***', got 'Bearer ***' (the part not"),
    ],
)
def test_a_masked_header_keeps_its_scheme_for_conditions(condition: Any, matches: bool, reason: str | None) -> None:
    entry = {**ENTRY, "headers": {"Authorization": "Bearer ***"}}
    pattern = RequestPattern(headers={"Authorization": condition})
    found = pattern.mismatches(entry)
    assert (not found) is matches
    if reason is not None:
        assert len(found) == 1 and found[0].startswith(reason), found
        text = report([entry], pattern, times=1)
        assert "the-real-token" not in text and "dXNlcjpwYXNz" not in text
        shown = "re('Basic .*')" if isinstance(condition, re.Pattern) else repr(_masked(condition))
        assert f"headers={{'Authorization': {shown}}}" in text


def _masked(literal: str) -> str:
    return literal.split(" ", 1)[0] + " ***"


def test_the_documentation_states_the_secret_rule() -> None:
    text = documentation.section("Assertions on what the mock received")
    assert "can only be `ANY`" not in text
    claims = ("keeping an `Authorization` header's scheme", 're.compile("Bearer .*")', "the part not masked differs")
    for claim in claims:
        assert claim in text, claim


def test_an_empty_journal_says_nothing_reached_the_mock() -> None:
    with pytest.raises(AssertionError, match="the journal is empty: no request reached the mock"):
        check_received([], RequestPattern(vendor="clickview"))


ENTRY: dict[str, Any] = {
    "id": 7,
    "vendor": "vision10",
    "operation": "getAccessToken",
    "method": "POST",
    "path": "/vision10/v1/api/oauth/token",
    "query": {"debug": "1"},
    "headers": {"Content-Type": "application/json", "Authorization": "Basic ***"},
    "body": {"grant_type": "client_credentials", "scope": "all", "nested": {"a": 1, "b": 2}},
    "status": 200,
    "fault": None,
    "answered_by": "handler",
}


@pytest.mark.parametrize(
    ("conditions", "reasons"),
    [
        ({"json": {"scope": "all", "nested": {"a": 1}}}, []),
        ({"json": {"scope": lambda s: s.startswith("a")}}, []),
        ({"headers": {"authorization": "Basic ***"}, "query": {"debug": ANY}}, []),
        ({"headers": {"authorization": "Basic abc"}}, ["header authorization: masked in the journal"]),
        ({"headers": {"X-Trace": ANY}}, ["header X-Trace: expected ANY, missing"]),
        ({"json": {"scope": "openid"}}, ["json.scope: expected 'openid', got 'all'"]),
        ({"form": {"scope": "all"}}, ["body: expected a form body, got application/json (fields ["]),
        ({"status": {401, 403}, "method": "get"}, ["status: expected {401, 403}, got 200", "method: expected GET"]),
        ({"answered_by": "fault", "fault": "documented"}, ["fault: expected 'documented', got None", "answered_by"]),
    ],
)
def test_each_condition_says_why_it_failed(conditions: dict[str, Any], reasons: list[str]) -> None:
    found = RequestPattern(**conditions).mismatches(ENTRY)
    assert len(found) == len(reasons)
    for reason, line in zip(sorted(reasons), sorted(found), strict=True):
        assert line.startswith(reason)


def test_report_ranks_by_fewest_failed_conditions_then_newest() -> None:
    older, newer, far = dict(ENTRY, id=1), dict(ENTRY, id=2), dict(ENTRY, id=3, vendor="clickview", status=400)
    text = report([older, newer, far], RequestPattern(vendor="vision10", status=401), times=1)
    assert [line.split(" ")[2] for line in text.splitlines() if line.startswith("  #")] == ["#2", "#1", "#3"]
    assert json.dumps(ENTRY)  # entries are plain JSON, as the admin API gives them
