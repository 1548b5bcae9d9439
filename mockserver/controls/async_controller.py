"""`AsyncMockController`: the admin API (`/__mock/`) from asyncio code, on httpx.

    async with AsyncMockController("http://127.0.0.1:8080") as mock:
        await mock.fault("clickview", "requestToken", "connection_reset", times=2)
        await mock.clock.advance(3600)
        await mock.assert_received("clickview", "requestToken", times=1)

Every control of `MockController` is here under the same name and with the same arguments, awaited: both
are `Controls`, whose methods build the request once (`AdminCall`); this class only sends it with httpx.
Needs httpx (`pip install 'tokenmock[async]'`).
"""

from __future__ import annotations

from collections.abc import Awaitable
from types import TracebackType
from typing import Any

try:
    import httpx
except ModuleNotFoundError:  # pragma: no cover - depends on what the user installed
    raise ImportError("AsyncMockController needs httpx: pip install 'tokenmock[async]'") from None

from tokenmock.mockserver.controls.controller import AdminCall, Controls


class AsyncMockController(Controls):
    """Drives a running mock's controls over httpx; each control returns an awaitable of what
    `MockController`'s returns. `base_url` is the server root (not a vendor's base URL)."""

    def __init__(
        self,
        base_url: str,
        *,
        admin_token: str | None = None,
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(base_url, admin_token=admin_token, timeout=timeout)
        self._owns_http = http is None  # aclose() closes only a client made here
        self.http = http or httpx.AsyncClient()

    def _run(self, call: AdminCall) -> Awaitable[Any]:
        return self._send_async(call)

    async def _send_async(self, call: AdminCall) -> Any:
        response = await self.http.request(call.method, self._url(call), **self._options(call))
        return self._answer(call, response.status_code, response.text)

    async def aclose(self) -> None:
        """Close the httpx client this controller made (not one it was given)."""
        if self._owns_http:
            await self.http.aclose()

    async def __aenter__(self) -> AsyncMockController:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()
