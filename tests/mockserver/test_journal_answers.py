"""The journal keeps every request, whatever answered it, with the same masking; the entry says what answered.

A test of a fault cares about exactly the attempt the fault answered: what the client sent then.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tokenmock.mockserver import MockController
from tokenmock.mockserver.pipeline.validation import journal_body

FORM = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"}
TOKEN = "/clickview/connect/token"
MASKED_FORM = {**FORM, "client_secret": "***"}


def arm(http: Any, kind: str, **params: Any) -> None:
    body = {"vendor": "clickview", "operation": "requestToken", "kind": kind, "params": params}
    assert http.post("/__mock/faults", json=body).status_code == 201


def last_entry(http: Any) -> dict[str, Any]:
    return http.get("/__mock/requests?limit=1").get_json()["requests"][0]


# (what is armed, the request's extra headers, the status, `fault`, `answered_by`)
ANSWERS = [
    (None, {}, 200, None, "handler"),
    ({"kind": "documented", "status": 401}, {}, 401, "documented", "fault"),
    ({"kind": "status", "status": 503}, {}, 503, "status", "fault"),
    ({"kind": "connection_reset"}, {}, 200, "connection_reset", "fault"),
    ({"kind": "sequence", "steps": [{"kind": "documented", "status": 400}]}, {}, 400, "sequence:1:documented", "fault"),
    ({"kind": "sequence", "steps": [{"kind": "real"}]}, {}, 200, "sequence:1:real", "handler"),
    (None, {"Prefer": "code=401"}, 401, None, "prefer"),
]


@pytest.mark.parametrize(("armed", "headers", "status", "fault", "answered_by"), ANSWERS)
def test_every_answer_keeps_the_masked_form(
    make_app: Callable[..., Flask],
    armed: dict[str, Any] | None,
    headers: dict[str, str],
    status: int,
    fault: str | None,
    answered_by: str,
) -> None:
    http = make_app().test_client()
    if armed is not None:
        arm(http, **armed)
    try:
        answer = http.post(TOKEN, data=FORM, headers=headers)
        assert answer.status_code == status
    except ConnectionError:  # a wire fault without a socket breaks the response body
        assert armed is not None and armed["kind"] == "connection_reset"
    entry = last_entry(http)
    assert (entry["status"], entry["fault"], entry["answered_by"]) == (status, fault, answered_by)
    assert entry["body"] == MASKED_FORM
    assert "demo-secret" not in json.dumps(entry)


def test_a_refused_request_keeps_its_body(make_app: Callable[..., Flask]) -> None:
    """Refused by the contract (validation) or matching no operation (refusal): the body is still there."""
    http = make_app().test_client()
    bad = {**FORM, "grant_type": "password", "password": "hunter22"}
    assert http.post(TOKEN, data=bad).status_code == 400
    entry = last_entry(http)
    assert entry["answered_by"] in ("validation", "handler")
    assert entry["body"]["grant_type"] == "password" and entry["body"]["password"] == "***"
    assert http.put(TOKEN, data=FORM).status_code == 405
    refused = last_entry(http)
    assert refused["answered_by"] == "refusal" and refused["operation"] is None
    assert refused["body"] == MASKED_FORM


def test_a_json_body_refused_for_its_media_type_is_journaled(make_app: Callable[..., Flask]) -> None:
    """ClickView takes a form; a JSON body is refused by validation (415) and kept as JSON, masked."""
    http = make_app().test_client()
    assert http.post(TOKEN, json=FORM).status_code in (400, 415)
    entry = last_entry(http)
    assert (entry["answered_by"], entry["body"]) == ("validation", MASKED_FORM)


def test_chaos_answers_keep_the_request(make_app: Callable[..., Flask]) -> None:
    http = make_app().test_client()
    assert http.put("/__mock/chaos", json={"seed": 3, "exclude": []}).status_code == 200
    http.post(TOKEN, data=FORM)
    entry = last_entry(http)
    assert entry["answered_by"] == "chaos" and entry["fault"].startswith("chaos:0:")
    assert entry["body"] == MASKED_FORM


@pytest.mark.parametrize(
    ("body", "content_type", "journaled"),
    [
        (b"a=1&a=2&b=", "application/x-www-form-urlencoded", {"a": ["1", "2"], "b": ""}),
        (b'{"a": 1}', None, {"a": 1}),  # no Content-Type: the bytes say JSON
        (b"a=1", None, {"a": "1"}),
        (b"{not json", "application/json", {"unparsed_bytes": 9}),
        (b'{"a": "\\ud800"}', "application/json", {"unparsed_bytes": 15}),  # a lone surrogate is never stored
        (b"\xff\xfe", "application/x-www-form-urlencoded", {"unparsed_bytes": 2}),
        (b"<xml/>", "text/xml", {"unparsed_bytes": 6}),
        (b"", "application/json", None),
    ],
)
def test_journal_body_reads_leniently_and_never_raises(body: bytes, content_type: str | None, journaled: Any) -> None:
    assert journal_body(body, content_type) == journaled


def test_the_controller_sees_the_attempt_a_fault_answered(live_clickview: str) -> None:
    """Over HTTP: a 401 armed with `documented` still shows the form the client sent."""
    mock = MockController(live_clickview.rsplit("/", 1)[0])
    mock.documented("clickview", "requestToken", status=401)
    import requests

    assert requests.post(live_clickview + "/connect/token", data=FORM, timeout=5).status_code == 401
    entry = mock.requests(vendor="clickview")[-1]
    assert entry["answered_by"] == "fault" and entry["body"] == MASKED_FORM


@pytest.fixture
def live_clickview(make_app: Callable[..., Flask], serve: Callable[[Flask], Any]) -> str:
    return str(serve(make_app()).url) + "/clickview"
