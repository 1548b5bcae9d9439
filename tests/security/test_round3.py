"""Issue 22 (security round 3): the small findings, each as an outsider meets it.

- In-process under chaos, the metrics keep one tally per source and kind, not one per request.
- A `wrong_content_type` fault whose type a header cannot carry is refused when armed (never a 500).
- A token sent as a query parameter's, a form field's or a header's name, or in the path, is masked in
  the journal.
- A store URL is masked in every form: userinfo and query parameters named like a secret.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from flask import Flask

from tests.ports import free_port
from tests.security.flows import flask_http, login, tokens_of
from tokenmock.mockserver.stores import StoreError, open_store
from tokenmock.redaction import mask_url

CHAOS_REQUESTS = 300
BAD_CONTENT_TYPES = ("application/€", "text/plain\r\nX-Injected: 1", "", "x" * 300, 5)
NAME_PLACEMENTS = ("query name", "form name", "header name", "path")
STORE_URLS = (
    ("redis://user:PW-1234@host:6379/0", "PW-1234"),
    ("redis://:PW-1234@host/0", "PW-1234"),
    ("redis://host/0?password=PW-1234", "PW-1234"),
    ("redis://host/0?prefix=a&Password=PW-1234", "PW-1234"),
    ("rediss://host/0?auth_token=PW-1234&db=1", "PW-1234"),
    ("redis://host/0?client_secret=PW-1234", "PW-1234"),
    ("redis://host/0?ssl_keyfile_password=PW-1234", "PW-1234"),
    ("redis://host/0?api_key=PW-1234#frag", "PW-1234"),
    ("unix:///run/redis.sock?password=PW-1234", "PW-1234"),
)
# Cases: the chaos requests, the content types, the placements, the store URLs, the stores' own messages.
CASE_COUNT = CHAOS_REQUESTS + len(BAD_CONTENT_TYPES) + len(NAME_PLACEMENTS) + len(STORE_URLS) + 2

VISION10 = "/vision10/v1/api/oauth/token"
VISION10_BODY = {
    "grant_type": "client_credentials",
    "scope": "all",
    "client_id": "demo-client",
    "client_secret": "demo-secret",
}
WIRE_KINDS = ["stalled_body", "dripping_body", "no_answer", "connection_reset", "not_http", "truncated_body"]


def test_metrics_tallies_stay_bounded_under_chaos(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    http = app.test_client()
    http.put("/__mock/chaos", json={"seed": 7, "exclude": WIRE_KINDS})
    for _ in range(CHAOS_REQUESTS):
        http.post(VISION10, json=VISION10_BODY)
    metrics = app.extensions["tokenmock"].metrics
    labels = set(metrics._fault_tallies)
    print(f"{CHAOS_REQUESTS} chaos answers: {len(labels)} fault tallies, {len(metrics._tallies)} request tallies")
    assert all(label.count(":") == 1 and label.startswith("chaos:") for label in labels), labels
    assert len(labels) <= 30 and sum(metrics._fault_tallies.values()) == CHAOS_REQUESTS
    assert len(metrics._tallies) <= 30


@pytest.mark.parametrize("content_type", BAD_CONTENT_TYPES, ids=repr)
def test_a_content_type_a_header_cannot_carry_is_refused_when_armed(
    make_app: Callable[..., Flask], content_type: object
) -> None:
    http = make_app().test_client()
    armed = http.post(
        "/__mock/faults",
        json={"kind": "wrong_content_type", "vendor": "vision10", "params": {"content_type": content_type}},
    )
    assert armed.status_code == 400, armed.get_data()
    assert "content_type" in armed.get_json()["error_description"]
    assert http.post(VISION10, json=VISION10_BODY).status_code == 200  # nothing armed


@pytest.mark.parametrize("placement", NAME_PLACEMENTS)
def test_a_token_anywhere_in_a_request_is_masked_in_the_journal(make_app: Callable[..., Flask], placement: str) -> None:
    app = make_app()
    http = app.test_client()
    token, _ = tokens_of("vision10", login("vision10", flask_http(http)))
    http.delete("/__mock/requests")
    if placement == "query name":
        http.post(f"{VISION10}?{token}=1", json=VISION10_BODY)
    elif placement == "form name":
        http.post("/clickview/connect/token", data={token: "1", "grant_type": "client_credentials"})
    elif placement == "header name":
        http.post(VISION10, json=VISION10_BODY, headers={token: "1"})
    else:
        http.get(f"/vision10/{token}/x")
    journal = json.dumps(http.get("/__mock/requests").get_json())
    assert "***" in journal
    assert token not in journal and token.split(".")[2] not in journal, placement


@pytest.mark.parametrize(("url", "secret"), STORE_URLS)
def test_store_urls_are_masked_in_every_form(url: str, secret: str) -> None:
    shown = mask_url(url)
    assert secret not in shown and "***" in shown, shown
    assert (shown.split("://")[0] == url.split("://")[0] and "host" in shown) or "sock" in shown


def test_an_unknown_store_does_not_print_its_password() -> None:
    with pytest.raises(StoreError) as refused:
        open_store("postgres://user:PW-5678@host/db?password=PW-5678")
    assert "PW-5678" not in str(refused.value) and "postgres://user:***@host" in str(refused.value)


def test_an_unreachable_redis_store_does_not_print_its_password() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0?password=PW-5678&prefix=t"
    with pytest.raises(StoreError) as refused:
        open_store(url, timeout=0.2)
    assert "PW-5678" not in str(refused.value) and "password=***" in str(refused.value)
