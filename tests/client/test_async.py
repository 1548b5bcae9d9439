"""The async clients (tokenmock.client.aio) on httpx: the same requests as the sync clients for every
vendor, single-flight renewal under asyncio, the 401 loop through httpx.Auth, refusals typed and
scrubbed, and a transport that cannot be hung or flooded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import requests
from flask import Flask

from tests.client.test_core import HANG, FakeServer, Script, http_reply
from tests.conftest import LiveServer
from tokenmock.client import (
    AminoTVClient,
    AuthenticationError,
    ClickViewClient,
    ContractViolation,
    DiveTVClient,
    JunctionTVClient,
    RetryPolicy,
    TokenClient,
    TransportError,
    Vision10Client,
)
from tokenmock.client.aio import (
    AsyncAminoTVClient,
    AsyncClickViewClient,
    AsyncDiveTVClient,
    AsyncJunctionTVClient,
    AsyncTokenClient,
    AsyncVision10Client,
)
from tokenmock.mockserver.controls.clock import Clock
from tokenmock.mockserver.controls.controller import MockController

pytestmark = pytest.mark.anyio

SECOND_PROFILE = "3f1c2a9e-5b7d-4e8a-9c61-2d4b8e7f0a13"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# vendor -> (sync class, async class, credentials, protected resource under the vendor's base URL)
VENDORS: dict[str, tuple[type[TokenClient], type[AsyncTokenClient], tuple[str, ...], str]] = {
    "junctiontv": (JunctionTVClient, AsyncJunctionTVClient, ("demo-client", "demo-secret"), "/ums/2.0/resource"),
    "clickview": (ClickViewClient, AsyncClickViewClient, ("demo-client", "demo-secret"), "/api/v1/example"),
    "vision10": (Vision10Client, AsyncVision10Client, ("demo-client", "demo-secret"), "/v1/api/resource"),
    "divetv": (DiveTVClient, AsyncDiveTVClient, ("demo-client-key", "demo-user", "demo-password"), "/v1/resource"),
    "aminotv": (
        AminoTVClient,
        AsyncAminoTVClient,
        ("demo@example.com", "demo-password"),
        "/channels/demo-channel/relationships/streams",
    ),
}


class Live:
    """A live mock of every vendor on the test's frozen clock, and its journal."""

    def __init__(self, app: Flask, server: LiveServer, clock: Clock) -> None:
        self.app, self.url, self.clock = app, server.url, clock
        self.control = MockController(server.url)

    def base(self, vendor: str) -> str:
        return f"{self.url}/{vendor}"

    def trace(self, vendor: str) -> list[tuple[str, int]]:
        return [(e["operation"], e["status"]) for e in self.control.requests(vendor=vendor)]


@pytest.fixture
def live(make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer], clock: Clock) -> Live:
    app = make_app()
    return Live(app, serve(app), clock)


def _options(live: Live, vendor: str) -> dict[str, Any]:
    return {"base_url": live.base(vendor), "clock": live.clock.now, "retry": RetryPolicy(attempts=2, base=0.01)}


def _sync_session(sync: TokenClient, live: Live, vendor: str) -> list[tuple[str, int]]:
    resource = live.base(vendor) + VENDORS[vendor][3]
    assert requests.get(resource, auth=sync.auth(), timeout=10).status_code == 200
    live.clock.advance(7 * 24 * 3600)  # every vendor's access token has expired
    assert requests.get(resource, auth=sync.auth(), timeout=10).status_code == 200
    return live.trace(vendor)


async def _async_session(client: AsyncTokenClient, live: Live, vendor: str) -> list[tuple[str, int]]:
    resource = live.base(vendor) + VENDORS[vendor][3]
    async with httpx.AsyncClient() as http:
        assert (await http.get(resource, auth=client.auth())).status_code == 200
        live.clock.advance(7 * 24 * 3600)
        assert (await http.get(resource, auth=client.auth())).status_code == 200
    return live.trace(vendor)


@pytest.mark.parametrize("vendor", list(VENDORS))
async def test_async_and_sync_clients_send_the_same_requests(vendor: str, live: Live) -> None:
    sync_class, async_class, credentials, _ = VENDORS[vendor]
    sync_trace = _sync_session(sync_class(*credentials, **_options(live, vendor)), live, vendor)
    live.control.reset()
    live.clock.set(live.clock.now() + 60)
    client = async_class(*credentials, **_options(live, vendor))
    try:
        async_trace = await _async_session(client, live, vendor)
    finally:
        await client.aclose()
    assert async_trace == sync_trace
    assert len(sync_trace) == 4  # token, resource; after expiry: renewal, resource


async def test_concurrent_callers_on_an_expired_token_cause_one_renewal(live: Live) -> None:
    client = AsyncDiveTVClient("demo-client-key", "demo-user", "demo-password", **_options(live, "divetv"))
    first = await client.token()
    live.clock.advance(7 * 24 * 3600)
    tokens = await asyncio.gather(*(client.token() for _ in range(20)))
    assert {t.access_token for t in tokens} == {tokens[0].access_token} != {first.access_token}
    assert [op for op, _ in live.trace("divetv")] == ["issueToken", "issueToken"]  # a login, one refresh
    await client.aclose()


async def test_a_401_renews_once_and_retries_once(live: Live) -> None:
    client = AsyncClickViewClient("demo-client", "demo-secret", **_options(live, "clickview"))
    live.control.revoke((await client.token()).access_token)
    async with httpx.AsyncClient() as http:
        answer = await http.get(live.base("clickview") + "/api/v1/example", auth=client.auth())
    assert answer.status_code == 200
    assert live.trace("clickview") == [
        ("requestToken", 200), ("getExample", 401), ("requestToken", 200), ("getExample", 200)
    ]
    await client.aclose()


async def test_a_retried_503_still_gets_a_token(live: Live) -> None:
    live.control.fault("vision10", "getAccessToken", "status", times=1, status=503)
    client = AsyncVision10Client("demo-client", "demo-secret", **_options(live, "vision10"))
    assert (await client.token()).token_type == "Bearer"
    assert live.trace("vision10") == [("getAccessToken", 503), ("getAccessToken", 200)]
    await client.aclose()


async def test_a_refused_secret_is_typed_and_never_echoed(live: Live) -> None:
    client = AsyncVision10Client("demo-client", "wrong-s3cret-value", **_options(live, "vision10"))
    with pytest.raises(AuthenticationError) as refused:
        await client.token()
    assert refused.value.code == "240101" and refused.value.status == 401
    assert "wrong-s3cret-value" not in str(refused.value) + repr(refused.value) + repr(client)
    await client.aclose()


async def test_profile_tokens_ride_on_the_async_user_client(live: Live) -> None:
    user = AsyncAminoTVClient("demo@example.com", "demo-password", **_options(live, "aminotv"))
    kids = user.profile_client(SECOND_PROFILE)
    assert user.profile_client(SECOND_PROFILE) is kids
    token = await kids.token()
    assert token.raw["data"][0]["attributes"]["user_profile_id"] == SECOND_PROFILE
    assert [op for op, _ in live.trace("aminotv")] == ["loginUser", "getProfileAuthToken"]
    await user.aclose()


async def test_the_async_auth_refuses_a_sync_httpx_client(live: Live) -> None:
    client = AsyncClickViewClient("demo-client", "demo-secret", **_options(live, "clickview"))
    with httpx.Client() as http, pytest.raises(RuntimeError, match=r"httpx\.AsyncClient"):
        http.get(live.base("clickview") + "/api/v1/example", auth=client.auth())
    await client.aclose()


# The transport against servers that misbehave (tests/client/test_core.py's raw-socket FakeServer).


@pytest.fixture
def fake() -> Iterator[Callable[[Script], FakeServer]]:
    servers: list[FakeServer] = []

    def start(script: Script) -> FakeServer:
        servers.append(FakeServer(script))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def _drip() -> Iterator[bytes]:
    yield b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    for _ in range(1000):
        time.sleep(0.2)
        yield b" "


@pytest.mark.parametrize(
    ("script", "failure", "message"),
    [
        (lambda n: HANG, TransportError, "no answer within"),
        (lambda n: _drip(), TransportError, "no answer within"),
        (lambda n: http_reply(200, b"[" * (2 << 20)), ContractViolation, "larger than"),
    ],
    ids=["silent", "dripping", "oversize"],
)
async def test_the_transport_bounds_time_and_size(
    fake: Callable[[Script], FakeServer], script: Script, failure: type[Exception], message: str
) -> None:
    server = fake(script)
    client = AsyncClickViewClient(
        "id", "secret", base_url=server.url, timeout=0.5, retry=RetryPolicy(attempts=1)
    )
    with pytest.raises(failure, match=message):
        await client.token()
    await client.aclose()


async def test_an_unreachable_host_is_named_without_its_path(fake: Callable[[Script], FakeServer]) -> None:
    server = fake(lambda n: HANG)
    server.stop()
    client = AsyncClickViewClient("id", "secret", base_url=server.url + "/x?secret=1", retry=RetryPolicy(attempts=1))
    with pytest.raises(TransportError, match="cannot reach") as failed:
        await client.token()
    assert "secret=1" not in str(failed.value)
    await client.aclose()


async def test_aclose_leaves_a_given_http_client_open(live: Live) -> None:
    async with httpx.AsyncClient() as http:
        client = AsyncClickViewClient("demo-client", "demo-secret", http=http, **_options(live, "clickview"))
        await client.token()
        await client.aclose()
        assert not http.is_closed
        assert (await http.get(live.base("clickview") + "/api/v1/example", auth=client.auth())).status_code == 200
    own = AsyncClickViewClient("demo-client", "demo-secret", **_options(live, "clickview"))
    await own.aclose()
    assert own.transport.http.is_closed


def test_without_httpx_the_import_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """`import tokenmock.client.aio` where httpx is not installed says what to install."""
    import importlib
    import sys

    monkeypatch.setitem(sys.modules, "httpx", None)  # what a missing package looks like to import
    monkeypatch.delitem(sys.modules, "tokenmock.client.aio")
    with pytest.raises(ImportError, match=r"needs httpx: pip install 'tokenmock\[async\]'") as missing:
        importlib.import_module("tokenmock.client.aio")
    assert missing.value.__cause__ is None and missing.value.__suppress_context__
