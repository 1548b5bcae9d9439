"""Documented responses and sequences armed from outside the client, and the `prefer` switch (issue 17)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from flask import Flask

from tests.conftest import LiveServer
from tokenmock import contracts
from tokenmock.client import AuthenticationError, ClickViewClient, Vision10Client
from tokenmock.mockserver import ControlError, MockController

CLICKVIEW_TOKEN = "/clickview/connect/token"
VISION10_TOKEN = "/vision10/v1/api/oauth/token"
VISION10_BODY = {"grant_type": "client_credentials", "scope": "all", "client_id": "demo-client",
                 "client_secret": "demo-secret"}


@pytest.fixture
def live(make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer]) -> LiveServer:
    return serve(make_app())


def arm(live: LiveServer, body: dict[str, Any]) -> dict[str, Any]:
    """Arm through the admin API over HTTP, as curl or a test in another language would."""
    response = requests.post(f"{live.url}/__mock/faults", json=body, timeout=5)
    assert response.status_code == 201, response.text
    return response.json()


def example_of(vendor: str, operation_id: str, name: str) -> tuple[int, Any]:
    return next((status, value) for n, status, _, value in contracts.operation(vendor, operation_id).examples()
                if n == name)


def test_the_reference_client_gets_a_documented_401_then_a_real_token(live: LiveServer) -> None:
    arm(live, {"kind": "documented", "vendor": "clickview", "operation": "requestToken", "times": 1,
               "params": {"status": 401}})
    client = ClickViewClient("demo-client", "demo-secret", base_url=f"{live.url}/clickview")
    with pytest.raises(AuthenticationError) as refused:
        client.token()
    assert refused.value.status == 401
    assert client.token().access_token.count(".") == 2  # a real JWT, not the document's placeholder


def test_authlib_gets_a_documented_401_then_a_real_token(live: LiveServer) -> None:
    from authlib.integrations.base_client.errors import OAuthError
    from authlib.integrations.requests_client import OAuth2Session

    arm(live, {"kind": "sequence", "vendor": "clickview", "operation": "requestToken",
               "params": {"steps": [{"kind": "documented", "example": "invalid_client_basic"}, {"kind": "real"}]}})
    with OAuth2Session("demo-client", "demo-secret") as session:
        with pytest.raises(OAuthError) as refused:
            session.fetch_token(live.url + CLICKVIEW_TOKEN, grant_type="client_credentials")
        assert refused.value.error == "invalid_client"
        token = session.fetch_token(live.url + CLICKVIEW_TOKEN, grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and token["access_token"].count(".") == 2


def test_the_answer_is_the_contract_s_example_with_its_headers(live: LiveServer) -> None:
    arm(live, {"kind": "documented", "vendor": "junctiontv", "operation": "getAccessToken", "params": {"status": 401}})
    answered = requests.post(f"{live.url}/junctiontv/ums/2.0/oauth/", timeout=5)
    status, value = example_of("junctiontv", "getAccessToken", "no_authorization")  # the first 401 example
    assert (answered.status_code, answered.json()) == (status, value)
    assert answered.headers["WWW-Authenticate"] == 'Basic realm="junctiontv"'  # the documented header example
    arm(live, {"kind": "documented", "vendor": "clickview", "operation": "requestToken", "params": {"status": 200}})
    token = requests.post(live.url + CLICKVIEW_TOKEN, timeout=5)
    assert token.json() == example_of("clickview", "requestToken", "documented")[1]
    assert (token.headers["Cache-Control"], token.headers["Pragma"]) == ("no-store", "no-cache")


def test_renamed_examples_answer_to_their_old_name_too(make_app: Callable[..., Flask]) -> None:
    http = make_app().test_client()
    by_new = http.post(CLICKVIEW_TOKEN, headers={"Prefer": "example=invalid_client"})
    by_old = http.post(CLICKVIEW_TOKEN, headers={"Prefer": "code=400, example=documented"})
    assert by_new.status_code == by_old.status_code == 400
    documented = {"error": "invalid_client", "error_description": "Client authentication failed."}
    assert by_new.json == by_old.json == documented
    assert http.post(VISION10_TOKEN, headers={"Prefer": "example=invalid_client"}).status_code == 401


def test_a_sequence_runs_its_steps_in_order_and_is_journaled(live: LiveServer) -> None:
    control = MockController(live.url)
    control.sequence("vision10", "getAccessToken", [
        {"kind": "documented", "status": 401},
        {"kind": "status", "status": 503, "retry_after": 1},
        {"kind": "real"},
    ])
    statuses = [requests.post(live.url + VISION10_TOKEN, json=VISION10_BODY, timeout=5).status_code
                for _ in range(4)]
    assert statuses == [401, 503, 200, 200]
    labels = [e["fault"] for e in control.requests(operation="getAccessToken")]
    assert labels == ["sequence:1:documented", "sequence:2:status", "sequence:3:real", None]
    assert control.faults()["faults"] == []  # used up


def test_documented_under_a_seed_is_reproducible(make_app: Callable[..., Flask]) -> None:
    def pattern() -> list[int]:
        http = make_app(vendor="vision10").test_client()
        armed = http.post("/__mock/faults", json={"kind": "documented", "vendor": "vision10",
                                                  "operation": "getAccessToken", "probability": 0.5, "seed": 3,
                                                  "params": {"example": "invalid_client"}})
        assert armed.status_code == 201
        return [http.post("/v1/api/oauth/token", json=VISION10_BODY).status_code for _ in range(16)]

    first = pattern()
    assert first == pattern() and set(first) == {200, 401}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"kind": "documented", "vendor": "vision10", "operation": "getAccessToken", "params": {"status": 418}},
         "documents no such response"),
        ({"kind": "documented", "vendor": "vision10", "operation": "getAccessToken", "params": {"example": "nope"}},
         "invalid_client"),  # the valid names are listed
        ({"kind": "documented", "params": {"status": 401}}, "vendor, operation is required"),  # by admin.yaml
        ({"kind": "documented", "vendor": "vision10", "operation": "getAccessToken"}, "params is required"),
        ({"kind": "documented", "vendor": "vision10", "operation": "getAccessToken", "params": {"status": "401"}},
         "params"),
        ({"kind": "sequence", "params": {"steps": []}}, "params/steps must have at least 1 items"),
        ({"kind": "sequence", "params": {"steps": [{"kind": "real"}, {"kind": "bogus"}]}}, "step 2: unknown fault"),
        ({"kind": "sequence", "params": {"steps": [{"kind": "sequence", "steps": [{"kind": "real"}]}]}},
         "cannot hold a sequence"),
        ({"kind": "sequence", "times": 2, "params": {"steps": [{"kind": "real"}]}}, "leave out times"),
    ],
)
def test_bad_scripts_are_refused_with_a_reason(make_app: Callable[..., Flask], body: dict[str, Any], says: str) -> None:
    refused = make_app().test_client().post("/__mock/faults", json=body)
    assert refused.status_code == 400 and refused.json["error"] == "invalid_request"
    assert says in refused.json["error_description"]


def test_the_controller_refuses_what_the_contract_does_not_document(live: LiveServer) -> None:
    with pytest.raises(ControlError, match="documents no such response"):
        MockController(live.url).documented("clickview", "getExample", status=500)


@pytest.mark.parametrize(
    ("settings", "honoured"),
    [({}, True), ({"prefer": False}, False), ({"exposed": True}, False), ({"exposed": True, "prefer": True}, True)],
)
def test_prefer_can_be_switched_off_and_is_off_when_exposed(
    make_app: Callable[..., Flask], settings: dict[str, Any], honoured: bool
) -> None:
    http = make_app(vendor="vision10", **settings).test_client()
    answered = http.get("/v1/api/resource", headers={"Prefer": "code=200"})
    assert answered.status_code == (200 if honoured else 401)  # without Prefer: no token, 401
    still = http.post("/__mock/faults", json={"kind": "documented", "vendor": "vision10",
                                             "operation": "getProtectedResource", "params": {"status": 200}},
                      environ_base={"REMOTE_ADDR": "127.0.0.1"})
    # armed faults are the admin API's, under its own access rules (closed when exposed without a token)
    assert still.status_code == (403 if settings.get("exposed") else 201)


def test_mock_controller_sequence_through_the_reference_client(live: LiveServer) -> None:
    control = MockController(live.url)
    control.documented("vision10", "getAccessToken", example="invalid_client", times=2)
    client = Vision10Client("demo-client", "demo-secret", base_url=f"{live.url}/vision10")
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            client.token()
    assert client.token().access_token
