"""Async reference clients on httpx: the same vendor flows as the sync clients, driven with `await`.

    from tokenmock.client.aio import AsyncClickViewClient
    async with httpx.AsyncClient() as http:
        cv = AsyncClickViewClient("demo-client", "demo-secret", base_url=..., http=http)
        answer = await http.get(f"{cv.base_url}/api/v1/example", auth=cv.auth())

Each async class names its sync twin (`protocol`) and keeps one of it as its state: the vendor's login
and refresh flows (`tokenmock.client.flow`), the cache, the store, contract checks, error typing and the
scrubbing of secrets all come from there, so a vendor's behaviour is written once. What this module adds
is the I/O: an httpx transport with the same retry policy (`transport.retry_loop`), a deadline on each
attempt as a whole and a cap on the body, an `asyncio.Lock` for single-flight renewal, and an
`httpx.Auth` with the one renew-and-retry on 401. Needs httpx (`pip install 'tokenmock[async]'`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, ClassVar

try:
    import httpx
except ModuleNotFoundError as missing:  # an optional extra: say which, as in-process mode does for its own
    if missing.name != "httpx":
        raise
    raise ImportError("tokenmock.client.aio needs httpx: pip install 'tokenmock[async]'", name="httpx") from None
from requests.structures import CaseInsensitiveDict

from tokenmock.client.aminotv import AminoTVClient, AminoTVProfileClient
from tokenmock.client.auth import origin
from tokenmock.client.base import TokenClient
from tokenmock.client.clickview import ClickViewClient
from tokenmock.client.divetv import DiveTVClient
from tokenmock.client.errors import ContractViolation, TokenError, TransportError
from tokenmock.client.flow import Done, Flow, PeerToken, resume
from tokenmock.client.junctiontv import JunctionTVClient
from tokenmock.client.token import Token
from tokenmock.client.transport import Reply, RetryPolicy, _origin, _why, retry_loop
from tokenmock.client.vision10 import Vision10Client

__all__ = [
    "AsyncAminoTVClient",
    "AsyncAminoTVProfileClient",
    "AsyncBearerAuth",
    "AsyncClickViewClient",
    "AsyncDiveTVClient",
    "AsyncJunctionTVClient",
    "AsyncTokenClient",
    "AsyncTransport",
    "AsyncVision10Client",
]


def _httpx_options(options: dict[str, Any]) -> dict[str, Any]:
    """requests' keyword arguments (what flows are written with) as httpx takes them: raw bytes or text
    go in `content=`, a mapping in `data=`."""
    converted = dict(options)
    data = converted.pop("data", None)
    if isinstance(data, bytes | str):
        converted["content"] = data
    elif data is not None:
        converted["data"] = data
    return converted


class AsyncTransport:
    """Sends requests on an `httpx.AsyncClient` with the sync transport's retry policy; returns a fully
    read `Reply` or raises `TransportError`. `timeout` bounds each attempt as a whole (connect, headers,
    body), which asyncio can do directly; bodies over `max_body_bytes` are a `ContractViolation`."""

    def __init__(
        self,
        vendor: str,
        *,
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        max_body_bytes: int = 1 << 20,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.vendor = vendor
        self._owns_http = http is None  # aclose() closes only a client made here
        self.http = http or httpx.AsyncClient()
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.max_body_bytes = max_body_bytes
        self.sleep = sleep

    async def send(self, method: str, url: str, **options: Any) -> Reply:
        """One logical request: up to `retry.attempts` tries; the last failure becomes TransportError."""
        attempts = retry_loop(self.retry, self.vendor)
        outcome: Reply | TransportError | None = None
        while not isinstance(wait := resume(attempts, outcome), Done):
            outcome = None
            if wait is None:
                try:
                    outcome = await self._once(method, url, **options)
                except TransportError as exc:
                    outcome = exc
            else:
                await self.sleep(wait)
        return wait.value

    async def _once(self, method: str, url: str, **options: Any) -> Reply:
        late = f"no answer within {self.timeout:g} s"
        started = False
        try:
            async with asyncio.timeout(self.timeout):
                request = self.http.build_request(method, url, timeout=self.timeout, **_httpx_options(options))
                response = await self.http.send(request, stream=True, follow_redirects=False)
                started = True
                try:
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > self.max_body_bytes:
                            raise ContractViolation(
                                f"the response body is larger than {self.max_body_bytes} bytes",
                                vendor=self.vendor,
                                status=response.status_code,
                            )
                        chunks.append(chunk)
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            raise TransportError(late, vendor=self.vendor) from None
        except httpx.HTTPError as exc:
            if started:
                raise TransportError(f"the response was cut off: {type(exc).__name__}", vendor=self.vendor) from None
            raise TransportError(f"cannot reach {_origin(url)}: {_why(exc)}", vendor=self.vendor) from None
        headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(response.headers.items())
        return Reply(response.status_code, headers, b"".join(chunks), str(response.url))


class AsyncTokenClient:
    """Base of the async clients: `await token()`, `auth()` for httpx, `invalidate()`."""

    protocol: ClassVar[type[TokenClient]]

    def __init__(
        self,
        *args: Any,
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        **options: Any,
    ) -> None:
        """`args` and `options` are the sync twin's (credentials, base_url, leeway, store, clock); `http`
        is the httpx.AsyncClient to send token requests on (one of its own by default)."""
        sync = self.protocol(*args, timeout=timeout, retry=retry, **options)
        self._bind(sync, AsyncTransport(sync.vendor, http=http, timeout=timeout, retry=retry, sleep=sleep), {})

    def _bind(self, sync: TokenClient, transport: AsyncTransport, peers: dict[int, AsyncTokenClient]) -> None:
        """Wrap `sync` (the state and the flows) with `transport`; `peers` are the async clients whose
        tokens the flows ask for, by the id of their sync twin (AminoTV's user, for a profile client)."""
        self.sync = sync
        self.transport = transport
        self._lock = asyncio.Lock()
        self._peers = peers

    @property
    def vendor(self) -> str:
        return self.sync.vendor

    @property
    def base_url(self) -> str:
        return self.sync.base_url

    async def token(self) -> Token:
        """A valid token: the cached one, else renewed (refresh first where the vendor has it); concurrent
        callers on an expired token cause one renewal."""
        async with self._lock:
            token, usable = self.sync._lookup()
            if usable:
                assert token is not None
                return token
            self.sync._renewing = token
            try:
                fresh = await self._drive(self.sync._renew(token))
            finally:
                self.sync._renewing = None
            return self.sync._keep(fresh)

    def invalidate(self, token: Token | None = None) -> None:
        """Drop the cached access token (only if it is still `token`, when given); the refresh token stays."""
        self.sync.invalidate(token)

    def auth(self) -> AsyncBearerAuth:
        """An httpx auth that sets `Authorization: Bearer`, renews before expiry, and on a 401 from the same
        origin renews once and retries once."""
        return AsyncBearerAuth(self)

    async def aclose(self) -> None:
        """Close the httpx client this client made (not one it was given)."""
        if self.transport._owns_http:
            await self.transport.http.aclose()

    async def _drive(self, flow: Flow) -> Token:
        value: Any = None
        error: TokenError | None = None
        while not isinstance(step := resume(flow, value, error=error), Done):
            value, error = None, None
            try:
                if isinstance(step, PeerToken):
                    value = await self._peers[id(step.source)].token()
                else:
                    value = await self._call(step.operation_id, step.method, step.url, **step.options)
            except TokenError as refused:
                error = refused
        return step.value

    async def _call(self, operation_id: str, method: str, url: str, **options: Any) -> Any:
        try:
            reply = await self.transport.send(method, url, **options)
            return self.sync.parse(operation_id, reply)
        except TokenError as error:
            raise error.scrubbed(self.sync._secret_values()) from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.sync!r})"


class AsyncBearerAuth(httpx.Auth):
    """httpx auth: `Authorization: Bearer <token>`; on a 401 from the origin the token was sent to, renew
    once and retry once (a redirect to another origin is not answered with a fresh token)."""

    def __init__(self, client: AsyncTokenClient) -> None:
        self.client = client

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.client.token()
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        response = yield request
        if response.status_code != 401 or origin(str(response.url)) != origin(str(request.url)):
            return
        self.client.invalidate(token)
        fresh = await self.client.token()
        request.headers["Authorization"] = f"Bearer {fresh.access_token}"
        yield request

    def sync_auth_flow(self, request: httpx.Request) -> Any:
        raise RuntimeError("AsyncBearerAuth works with httpx.AsyncClient; use the sync client's auth() for requests")

    def __repr__(self) -> str:
        return f"AsyncBearerAuth({self.client!r})"


class AsyncJunctionTVClient(AsyncTokenClient):
    """`JunctionTVClient` on httpx: `AsyncJunctionTVClient(client_id, client_secret, base_url=...)`."""

    protocol = JunctionTVClient


class AsyncClickViewClient(AsyncTokenClient):
    """`ClickViewClient` on httpx: `AsyncClickViewClient(client_id, client_secret, scope=..., base_url=...)`."""

    protocol = ClickViewClient


class AsyncVision10Client(AsyncTokenClient):
    """`Vision10Client` on httpx: `AsyncVision10Client(client_id, client_secret, scope=..., base_url=...)`."""

    protocol = Vision10Client


class AsyncDiveTVClient(AsyncTokenClient):
    """`DiveTVClient` on httpx: `AsyncDiveTVClient(client_key, username, password, base_url=...)`."""

    protocol = DiveTVClient


class AsyncAminoTVClient(AsyncTokenClient):
    """`AminoTVClient` on httpx: `AsyncAminoTVClient(username, password, base_url=...)`, and its profiles."""

    protocol = AminoTVClient
    sync: AminoTVClient

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        self._profiles: dict[str, AsyncAminoTVProfileClient] = {}

    def profile_client(self, profile_id: str) -> AsyncAminoTVProfileClient:
        """The client for one of this user's profiles (one per profile id, sharing transport and store)."""
        found = self._profiles.get(profile_id)
        if found is None:
            found = self._profiles[profile_id] = AsyncAminoTVProfileClient(self, profile_id)
        return found


class AsyncAminoTVProfileClient(AsyncTokenClient):
    """Tokens bound to one profile of a user (see `AminoTVProfileClient`), renewed with `await`."""

    protocol = AminoTVProfileClient

    def __init__(self, user: AsyncAminoTVClient, profile_id: str) -> None:
        # The user's sync twin makes (and keeps) the profile's; the transport is the user's.
        self._bind(user.sync.profile_client(profile_id), user.transport, {id(user.sync): user})
        self.user = user
