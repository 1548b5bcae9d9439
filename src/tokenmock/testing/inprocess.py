"""`InProcessMock`: every vendor's mock inside the test process, at the vendors' real hosts, no socket.

One store and one clock shared by a mock per vendor, each mounted at the root as `tokenmock serve
--vendor X` mounts it (so the paths, and what the mock derives from the URL, such as ClickView's
issuer, are the real ones), plus one mock of every vendor whose admin API the controls drive. Faults,
sequences, chaos, the clock, runtime clients, revocations and the journal all live in the shared store,
so a control armed once applies whichever vendor answers.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from tokenmock.mockserver import MockController, create_app
from tokenmock.mockserver.controls.clock import Clock
from tokenmock.mockserver.stores import open_store
from tokenmock.testing import routing
from tokenmock.testing.dispatch import Answer, call_app
from tokenmock.testing.requests_transport import MockAdapter

if TYPE_CHECKING:
    import httpx
    from flask import Flask

# The admin API's address inside the process (RFC 6761: a name under localhost, never resolved).
CONTROL_URL = "http://tokenmock.localhost"
DEFAULT_SETTINGS: dict[str, Any] = {"validate_responses": True, "access_log": False}


def controller_of(app: Flask) -> MockController:
    """A `MockController` driving one app's admin API in-process (no socket)."""

    def call(
        method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes, read_timeout: float | None = None
    ) -> Answer:
        return call_app(app, method, url, headers, body, read_timeout)

    session = requests.Session()
    session.mount(CONTROL_URL, MockAdapter(call))
    return MockController(CONTROL_URL, session=session)


class Unrouted(LookupError):
    """A request to a host no vendor answers in-process (add it with `hosts={host: vendor}`)."""


class InProcessMock:
    """The mock of every vendor, answering the vendors' documented hosts inside this process.

        with InProcessMock(hosts={"api.vision10.example": "vision10"}) as mock:
            ...                             # requests.post(...) and httpx.post(...) reach the mock
        mock.assert_received("clickview", "requestToken", times=1)

    `hosts` adds host -> vendor routes to the documented ones (`routing.documented_hosts()`). The
    controls are those of `MockController` (`fault`, `documented`, `sequence`, `clock`, `chaos`,
    `requests`, `assert_received`, `add_client`, `revoke`, `reset`...), driven through the admin API
    with no socket.
    """

    def __init__(
        self,
        settings: Mapping[str, Any] | None = None,
        *,
        hosts: Mapping[str, str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        merged = {**DEFAULT_SETTINGS, **(settings or {})}  # `vendor: X` serves that vendor alone
        journal_size = int(merged.get("journal_size", 1000))
        self.settings = merged
        self.store = open_store(merged.get("store"), journal_size=journal_size)
        self.clock = clock or Clock()
        shared = {**merged, "store": self.store, "clock": self.clock}
        self.app: Flask = create_app(shared)
        self.mock = self.app.extensions["tokenmock"]
        self.apps: dict[str, Flask] = {name: create_app({**shared, "vendor": name}) for name in self.mock.mounted}
        self.hosts = {h: v for h, v in routing.host_table(hosts).items() if v in self.apps}
        self._base_urls = routing.base_urls()
        for host, vendor in (hosts or {}).items():  # a host given for a vendor is its base URL from now on
            self._base_urls[vendor] = host if "://" in host else f"https://{host}"
        self.control = controller_of(self.app)
        self._active = 0
        self._entered: list[contextlib.ExitStack] = []  # one per `with mock:` still open

    def __getattr__(self, name: str) -> Any:
        """The controls (`fault`, `clock`, `requests`, `assert_received`...) are the MockController's."""
        if name.startswith("_") or name == "control":
            raise AttributeError(name)
        return getattr(self.control, name)

    # Routing.

    def url_for(self, vendor: str) -> str:
        """The vendor's base URL as a client takes it: its documented host (or the one given in `hosts`)."""
        if vendor not in self.apps:
            raise ValueError(f"{vendor!r} is not served here; served: {', '.join(self.apps)}")
        return self._base_urls[vendor]

    @property
    def vendors(self) -> tuple[str, ...]:
        """The vendors served."""
        return tuple(self.apps)

    def demo(self, vendor: str) -> dict[str, Any]:
        """The vendor's demo credentials."""
        return dict(self.mock.vendors[vendor].settings.get("demo", {}))

    def vendor_of(self, url: str) -> str | None:
        """The vendor that answers `url`'s host, or None."""
        return self.hosts.get((urlsplit(url).hostname or "").lower())

    def call(
        self, method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes, read_timeout: float | None = None
    ) -> Answer:
        """Answer one request to a vendor's host (raises `Unrouted` for any other host)."""
        vendor = self.vendor_of(url)
        if vendor is None:
            raise Unrouted(self.refusal(url))
        return call_app(self.apps[vendor], method, url, headers, body, read_timeout)

    def refusal(self, url: str) -> str:
        """Why a request to `url` gets no answer in-process: its host is not routed (and which are)."""
        routed = ", ".join(sorted(self.hosts))
        return (
            f"tokenmock in-process: no vendor answers {urlsplit(url).hostname!r}, so {url} was refused; routed "
            f"hosts: {routed} (add one with hosts={{host: vendor}}, or the tokenmock_hosts fixture)"
        )

    # Transports.

    def requests_adapter(self) -> MockAdapter:
        """A `requests` transport adapter answering from this mock: `session.mount("https://", adapter)`."""
        return MockAdapter(self.call)

    def httpx_transport(self) -> httpx.MockTransport:
        """An `httpx` transport (sync and async) answering from this mock: `httpx.Client(transport=...)`."""
        from tokenmock.testing.httpx_transport import transport

        return transport(self.call)

    def route(self, router: Any) -> None:
        """Answer the vendors' hosts from this mock on a router you run already: a `responses.RequestsMock`
        (`responses.activate`, the `responses` fixture) or a respx router (`respx.mock`, `respx_mock`),
        instead of `activate()`, whose own patching would hide yours. The router must not require every
        route to be called (`assert_all_requests_are_fired=False`, `assert_all_called=False`): the
        vendors' routes a test leaves unused would fail it."""
        module = type(router).__module__.split(".", 1)[0]
        if getattr(router, "assert_all_requests_are_fired", False) or getattr(router, "_assert_all_called", False):
            raise ValueError(
                "route() needs a router that does not require every route to be called: "
                "responses.RequestsMock(assert_all_requests_are_fired=False) or respx.mock(assert_all_called=False)"
            )
        if module == "responses":
            from tokenmock.testing.requests_transport import add_requests_routes

            add_requests_routes(router, self)
        elif module == "respx":
            from tokenmock.testing.httpx_transport import add_httpx_routes

            add_httpx_routes(router, self)
        else:
            raise TypeError(f"route() takes a responses.RequestsMock or a respx router, not {type(router).__name__}")

    def __enter__(self) -> InProcessMock:
        """`with InProcessMock() as mock:` is `with mock.activate():` (no host passed through)."""
        stack = contextlib.ExitStack()
        stack.enter_context(self.activate())
        self._entered.append(stack)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._entered.pop().close()

    @contextlib.contextmanager
    def activate(self, *, passthrough: Iterable[str] = ()) -> Iterator[InProcessMock]:
        """Route the vendors' hosts to this mock for every `requests` and `httpx` call in the block, made
        anywhere (`requests.post(...)`, `httpx.Client()`, `httpx.AsyncClient()`), through `responses` and
        `respx`. Any other host is refused with the library's connection error unless its URL starts with
        one of `passthrough` (e.g. "http://127.0.0.1")."""
        allowed = tuple(passthrough)
        with contextlib.ExitStack() as stack:
            from tokenmock.testing.requests_transport import routed_requests

            stack.enter_context(routed_requests(self, allowed))
            if importlib.util.find_spec("httpx") is not None:  # code that could call httpx is routed too
                from tokenmock.testing.httpx_transport import routed_httpx

                stack.enter_context(routed_httpx(self, allowed))
            self._active += 1
            try:
                yield self
            finally:
                self._active -= 1
