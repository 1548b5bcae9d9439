"""In-process mode: the vendors' real URLs answered inside the test process, with no server and no socket.

These tests are written as a user writes theirs: unchanged code calling the vendor's documented URL
with `requests` or `httpx`, and the `tokenmock_in_process` fixture.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests

from tokenmock.testing import ANY, InProcessMock

CLICKVIEW_TOKEN = "https://auth.clickviewapp.com/connect/token"
CLICKVIEW_EXAMPLE = "https://integrations.clickviewapp.com/api/v1/example"
VISION10_TOKEN = "https://api.vision10.invalid/v1/api/oauth/token"
CLICKVIEW_FORM = {
    "grant_type": "client_credentials",
    "client_id": "demo-client",
    "client_secret": "demo-secret",
    "scope": "smartembed.viewkey",
}
VISION10_JSON = {"grant_type": "client_credentials", "scope": "all", "client_id": "demo-client",
                 "client_secret": "demo-secret"}


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network socket fails the test (asyncio's own local socket pair may open)."""
    real = socket.socket

    def network_refused(family: int = socket.AF_INET, *args: Any, **kwargs: Any) -> socket.socket:
        if family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError("a network socket was opened")
        return real(family, *args, **kwargs)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a connection was opened")

    monkeypatch.setattr(socket, "socket", network_refused)
    monkeypatch.setattr(socket, "create_connection", refuse)


# The user's code under test: it knows nothing of tokenmock.


def clickview_example_with_requests() -> dict[str, Any]:
    token = requests.post(CLICKVIEW_TOKEN, data=CLICKVIEW_FORM, timeout=5).json()["access_token"]
    answer = requests.get(CLICKVIEW_EXAMPLE, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    answer.raise_for_status()
    return answer.json()  # type: ignore[no-any-return]


def clickview_example_with_httpx() -> dict[str, Any]:
    with httpx.Client(timeout=5) as client:
        token = client.post(CLICKVIEW_TOKEN, data=CLICKVIEW_FORM).json()["access_token"]
        answer = client.get(CLICKVIEW_EXAMPLE, headers={"Authorization": f"Bearer {token}"})
    answer.raise_for_status()
    return answer.json()  # type: ignore[no-any-return]


def vision10_token_with_requests(url: str = VISION10_TOKEN) -> str:
    return str(requests.post(url, json=VISION10_JSON, timeout=5).json()["access_token"])


def vision10_token_with_httpx(url: str = VISION10_TOKEN) -> str:
    return str(httpx.post(url, json=VISION10_JSON, timeout=5).json()["access_token"])


# The tests.


def test_real_urls_with_requests_and_httpx_and_no_socket(tokenmock_in_process: InProcessMock, no_sockets: None) -> None:
    assert clickview_example_with_requests()["client_id"] == "demo-client"
    assert clickview_example_with_httpx()["client_id"] == "demo-client"
    assert vision10_token_with_requests().count(".") == 2  # an RS256 JWT
    assert vision10_token_with_httpx().count(".") == 2
    tokenmock_in_process.assert_received("clickview", "requestToken", times=2, form={"client_secret": ANY})
    tokenmock_in_process.assert_received("clickview", "getExample", times=2, headers={"Authorization": "Bearer ***"})
    tokenmock_in_process.assert_received("vision10", "getAccessToken", times=2, json={"scope": "all"})


def test_async_httpx_clients_are_routed_too(tokenmock_in_process: InProcessMock, no_sockets: None) -> None:
    async def fetch() -> int:
        async with httpx.AsyncClient(timeout=5) as client:
            return (await client.post(CLICKVIEW_TOKEN, data=CLICKVIEW_FORM)).status_code

    assert asyncio.run(fetch()) == 200


def test_the_issuer_is_the_real_host(tokenmock_in_process: InProcessMock) -> None:
    """The paths are the vendor's own (no `/clickview` prefix), so is what the mock derives from the URL."""
    discovery = requests.get("https://auth.clickviewapp.com/.well-known/openid-configuration", timeout=5).json()
    assert discovery["issuer"] == "https://auth.clickviewapp.com"
    assert discovery["token_endpoint"] == CLICKVIEW_TOKEN


def test_faults_clock_and_journal_are_the_same_controls(tokenmock_in_process: InProcessMock) -> None:
    mock = tokenmock_in_process
    mock.documented("clickview", "requestToken", status=401)
    assert requests.post(CLICKVIEW_TOKEN, data=CLICKVIEW_FORM, timeout=5).status_code == 401
    token = requests.post(CLICKVIEW_TOKEN, data=CLICKVIEW_FORM, timeout=5).json()["access_token"]
    mock.clock.advance(86400 + 1)  # ClickView tokens live a day
    expired = httpx.get(CLICKVIEW_EXAMPLE, headers={"Authorization": f"Bearer {token}"})
    assert expired.status_code == 401
    first, second = mock.assert_received("clickview", "requestToken", times=2)
    assert (first["status"], first["answered_by"], second["status"]) == (401, "fault", 200)


def test_other_hosts_are_refused_not_sent(tokenmock_in_process: InProcessMock, no_sockets: None) -> None:
    named = (
        r"tokenmock in-process: no vendor answers 'example\.com', so https://example\.com/x was refused; "
        r"routed hosts: .*auth\.clickviewapp\.com"
    )
    with pytest.raises(requests.ConnectionError, match=named):
        requests.get("https://example.com/x", timeout=5)
    with pytest.raises(requests.ConnectionError, match=named):
        requests.post("https://example.com/x", data={"a": "b"}, timeout=5)
    with pytest.raises(httpx.ConnectError, match=named):
        httpx.get("https://example.com/x")
    # The routed hosts still answer, a look-alike host is refused.
    assert requests.post(CLICKVIEW_TOKEN, data=CLICKVIEW_FORM, timeout=5).status_code == 200
    with pytest.raises(requests.ConnectionError, match=r"'auth\.clickviewapp\.com\.evil'"):
        requests.get("https://auth.clickviewapp.com.evil/", timeout=5)


# What requests and httpx raise for each wire fault, in-process, and over a socket (checked below).
WIRE = [
    ("connection_reset", {}, 5, requests.ConnectionError, httpx.ReadError),
    ("empty_response", {}, 5, requests.ConnectionError, httpx.RemoteProtocolError),
    ("not_http", {}, 5, requests.ConnectionError, httpx.RemoteProtocolError),
    ("truncated_body", {}, 5, requests.exceptions.ChunkedEncodingError, httpx.RemoteProtocolError),
    ("stalled_body", {"seconds": 1}, 5, requests.exceptions.ChunkedEncodingError, httpx.RemoteProtocolError),
    ("stalled_body", {"seconds": 2}, 0.5, requests.ConnectionError, httpx.ReadTimeout),  # requests: in the body
    ("no_answer", {"seconds": 1}, 5, requests.ConnectionError, httpx.RemoteProtocolError),
    ("no_answer", {"seconds": 2}, 0.5, requests.exceptions.ReadTimeout, httpx.ReadTimeout),
    ("slow_drip", {"interval_ms": 50}, 5, None, None),
    ("slow_drip", {"interval_ms": 1000}, 0.5, requests.ConnectionError, httpx.ReadTimeout),
]


def outcome(call: Any) -> type[BaseException] | int:
    try:
        return int(call().status_code)
    except (requests.RequestException, httpx.HTTPError) as exc:
        return type(exc)


def both(mock: Any, url: str, kind: str, params: dict[str, Any], timeout: float) -> tuple[Any, Any]:
    results = []
    for post in (requests.post, httpx.post):
        mock.fault("clickview", "requestToken", kind, **params)
        results.append(outcome(lambda post=post: post(url, data=CLICKVIEW_FORM, timeout=timeout)))
    return results[0], results[1]


@pytest.mark.parametrize(("kind", "params", "timeout", "by_requests", "by_httpx"), WIRE)
def test_wire_faults_raise_what_the_library_raises(
    tokenmock_in_process: InProcessMock, no_sockets: None, kind: str, params: dict[str, Any], timeout: float,
    by_requests: type | None, by_httpx: type | None,
) -> None:
    got = both(tokenmock_in_process, CLICKVIEW_TOKEN, kind, params, timeout)
    assert got == (by_requests or 200, by_httpx or 200)
    assert len(tokenmock_in_process.received("clickview", fault=kind)) == 2  # the journal keeps both attempts


@pytest.fixture(scope="module")
def over_a_socket() -> Iterator[Any]:
    from tokenmock.pytest_plugin import LiveMock

    live = LiveMock({"validate_responses": True, "access_log": False})
    yield live
    live.stop()


@pytest.mark.parametrize(("kind", "params", "timeout", "by_requests", "by_httpx"), WIRE)
def test_the_same_exceptions_as_over_a_socket(
    over_a_socket: Any, kind: str, params: dict[str, Any], timeout: float, by_requests: Any, by_httpx: Any
) -> None:
    """The table above is what a real socket gives (the live mock on 127.0.0.1)."""
    url = over_a_socket.url_for("clickview") + "/connect/token"
    assert both(over_a_socket, url, kind, params, timeout) == (by_requests or 200, by_httpx or 200)


def test_a_session_adapter_and_an_httpx_transport_without_patching() -> None:
    """Code that takes a session or a client gets the mock with no patching at all."""
    mock = InProcessMock()
    session = requests.Session()
    session.mount("https://", mock.requests_adapter())
    assert session.post(CLICKVIEW_TOKEN, data=CLICKVIEW_FORM, timeout=5).status_code == 200
    with httpx.Client(transport=mock.httpx_transport()) as client:
        assert client.post(CLICKVIEW_TOKEN, data=CLICKVIEW_FORM).status_code == 200
    mock.assert_received("clickview", "requestToken", times=2)


def test_vision10_at_the_host_the_user_was_given() -> None:
    """Vision10 documents no host: route the one your code calls with `hosts=`."""
    mock = InProcessMock(hosts={"vision10.example.com": "vision10"})
    assert mock.url_for("vision10") == "https://vision10.example.com"
    with mock.activate():
        assert vision10_token_with_requests("https://vision10.example.com/v1/api/oauth/token").count(".") == 2
    with pytest.raises(ValueError, match="not a vendor"):
        InProcessMock(hosts={"vision10.example.com": "vision11"})


def test_routes_on_the_users_own_responses_and_respx() -> None:
    """A test that runs responses or respx already adds the vendors' hosts to its own router."""
    import responses
    import respx

    mock = InProcessMock()
    with (
        responses.RequestsMock(assert_all_requests_are_fired=False) as rsps,
        respx.mock(assert_all_called=False) as respx_mock,
    ):
        rsps.get("https://example.com/ping", json={"pong": True})
        respx_mock.get("https://example.com/ping").respond(json={"pong": True})
        mock.route(rsps)
        mock.route(respx_mock)
        assert requests.get("https://example.com/ping", timeout=5).json() == {"pong": True}
        assert requests.post(CLICKVIEW_TOKEN, data=CLICKVIEW_FORM, timeout=5).status_code == 200
        assert httpx.get("https://example.com/ping").json() == {"pong": True}
        assert httpx.post(CLICKVIEW_TOKEN, data=CLICKVIEW_FORM).status_code == 200
    mock.assert_received("clickview", "requestToken", times=2)
    with pytest.raises(TypeError, match=r"responses\.RequestsMock or a respx router"):
        mock.route(object())
    with pytest.raises(ValueError, match="assert_all_requests_are_fired=False"), responses.RequestsMock() as strict:
        mock.route(strict)


def test_the_live_server_and_in_process_in_one_test(tokenmock_server: Any, tokenmock_in_process: InProcessMock) -> None:
    """Loopback passes through: a live mock and the in-process one side by side, each its own journal."""
    live_url = tokenmock_server.url_for("clickview") + "/connect/token"
    assert requests.post(live_url, data=CLICKVIEW_FORM, timeout=5).status_code == 200
    assert httpx.post(live_url, data=CLICKVIEW_FORM).status_code == 200
    assert requests.post(CLICKVIEW_TOKEN, data=CLICKVIEW_FORM, timeout=5).status_code == 200
    tokenmock_server.assert_received("clickview", "requestToken", times=2)
    tokenmock_in_process.assert_received("clickview", "requestToken", times=1)


def test_one_vendor_alone_when_the_settings_name_it(no_sockets: None) -> None:
    mock = InProcessMock({"vendor": "vision10"})
    assert mock.vendors == ("vision10",)
    with mock.activate():
        assert vision10_token_with_httpx().count(".") == 2
        with pytest.raises(httpx.ConnectError, match="no vendor answers"):  # ClickView's host is not routed
            httpx.post(CLICKVIEW_TOKEN, data=CLICKVIEW_FORM)


def test_every_reference_client_at_its_documented_host(tokenmock_in_process: InProcessMock, no_sockets: None) -> None:
    """The reference clients, at their default base URLs (Vision10's placeholder given), get tokens
    in-process: AminoTV's cookie exchange and Dive's MD5 password included."""
    from tokenmock.client import AminoTVClient, ClickViewClient, DiveTVClient, JunctionTVClient, Vision10Client

    mock = tokenmock_in_process
    dive = mock.demo("divetv")
    clients = [
        JunctionTVClient("demo-client", "demo-secret"),
        ClickViewClient("demo-client", "demo-secret"),
        Vision10Client("demo-client", "demo-secret", base_url=mock.url_for("vision10")),
        DiveTVClient(dive["client_key"], dive["username"], dive["password"]),
        AminoTVClient("demo@example.com", "demo-password"),
    ]
    for client in clients:
        assert client.token().access_token, client.vendor
    assert {entry["vendor"] for entry in mock.received(status=200)} == set(mock.vendors)


def test_the_mock_is_its_own_context_manager(no_sockets: None) -> None:
    """`with InProcessMock() as mock:` activates it for the block, as `with mock.activate():` does."""
    unpatched = requests.adapters.HTTPAdapter.send
    with InProcessMock() as mock:
        assert requests.adapters.HTTPAdapter.send is not unpatched
        assert requests.post(CLICKVIEW_TOKEN, data=CLICKVIEW_FORM, timeout=5).status_code == 200
        assert httpx.post(CLICKVIEW_TOKEN, data=CLICKVIEW_FORM).status_code == 200
        with mock:  # nested: still routed after the inner block ends
            pass
        assert requests.post(CLICKVIEW_TOKEN, data=CLICKVIEW_FORM, timeout=5).status_code == 200
    mock.assert_received("clickview", "requestToken", times=3)
    assert requests.adapters.HTTPAdapter.send is unpatched  # routed no more
