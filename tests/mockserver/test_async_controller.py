"""`AsyncMockController` drives a live mock as `MockController` does, awaited, on httpx: every control
the sync controller has exists with the same signature, and the same calls have the same effects."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import httpx
import pytest
import requests
from flask import Flask

from tests.conftest import LiveServer
from tokenmock.mockserver import AsyncMockController, ControlError, MockController
from tokenmock.mockserver.controls.controller import Controls

pytestmark = pytest.mark.anyio
FORM = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def live(make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer]) -> LiveServer:
    return serve(make_app())


def test_every_control_is_written_once_for_both() -> None:
    """Neither controller defines a control of its own: both inherit every one from `Controls`."""
    controls = {name for name, _ in inspect.getmembers(Controls, inspect.isfunction) if not name.startswith("_")}
    assert {"fault", "documented", "sequence", "chaos", "requests", "assert_received", "claims", "mint"} <= controls
    for cls in (MockController, AsyncMockController):
        own = {name for name in vars(cls) if not name.startswith("_")}
        assert own <= {"aclose"}, (cls, own)


async def test_faults_clock_journal_and_assertions_over_httpx(live: LiveServer) -> None:
    async with AsyncMockController(live.url) as mock:
        armed = await mock.documented("clickview", "requestToken", status=401)
        assert armed["kind"] == "documented"
        before = await mock.clock.now()
        assert await mock.clock.advance(3600) == pytest.approx(before + 3600, abs=5)
        async with httpx.AsyncClient() as http:
            first = await http.post(live.url + "/clickview/connect/token", data=FORM)
            second = await http.post(live.url + "/clickview/connect/token", data=FORM)
        assert (first.status_code, second.status_code) == (401, 200)
        grant = {"grant_type": "client_credentials"}
        entries = await mock.assert_received("clickview", "requestToken", times=2, form=grant)
        assert [e["status"] for e in entries] == [401, 200]
        assert [e["status"] for e in await mock.received("clickview", status=200)] == [200]
        with pytest.raises(AssertionError, match="expected exactly 3 requests"):
            await mock.assert_received("clickview", "requestToken", times=3)
        await mock.assert_not_received("vision10")
        await mock.reset()
        assert await mock.requests() == []


async def test_the_same_calls_have_the_same_effects(live: LiveServer) -> None:
    sync = MockController(live.url)
    async with AsyncMockController(live.url) as mock:
        await mock.add_client("clickview", client_id="ci", client_secret="ci-secret", scopes=["smartembed.viewkey"])
        ci = {**FORM, "client_id": "ci", "client_secret": "ci-secret"}
        token = requests.post(live.url + "/clickview/connect/token", data=ci, timeout=10).json()["access_token"]
        await mock.revoke(token)
        bearer = {"Authorization": f"Bearer {token}"}
        refused = requests.get(live.url + "/clickview/api/v1/example", headers=bearer, timeout=10)
        assert refused.status_code == 401
        await mock.claims("clickview", {"team": "video"}, times=1)
        assert [armed["claims"] for armed in sync.armed_claims()] == [{"team": "video"}]
        await mock.clear_claims()
        assert sync.armed_claims() == []
        await mock.chaos(7)
        assert sync.chaos_state()["seed"] == 7
        await mock.stop_chaos()
        assert (await mock.chaos_state())["seed"] is None


async def test_a_refusal_is_a_control_error(live: LiveServer) -> None:
    async with AsyncMockController(live.url) as mock:
        with pytest.raises(ControlError, match="POST /__mock/faults: 400"):
            await mock.fault("clickview", "requestToken", "no_such_kind")


async def test_aclose_leaves_a_given_http_client_open(live: LiveServer) -> None:
    async with httpx.AsyncClient() as http:
        mock = AsyncMockController(live.url, http=http)
        await mock.reset()
        await mock.aclose()
        assert not http.is_closed
