"""Token flows without I/O: what a vendor's login or refresh sends, as a generator of steps.

A vendor module writes its flow once, as httpx's `Auth.auth_flow` does: it yields a `Send` (an HTTP
request to make) or a `PeerToken` (a valid token of another client, e.g. AminoTV's user token for a
profile exchange) and receives the contract-checked payload or the token; a refusal is thrown into the
generator as the `TokenError` it is. The sync client (`TokenClient`, on requests) and the async one
(`AsyncTokenClient`, on httpx) drive the same generators, so the vendors' logic exists once.

    def _login(self) -> Flow:
        payload = yield self.send("requestToken", "POST", "/connect/token", data={...})
        return self._token_from(payload, "requestToken")
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, Union

from tokenmock.client.token import Token

if TYPE_CHECKING:
    from tokenmock.client.base import TokenClient


@dataclass(frozen=True)
class Send:
    """One token request: the contract operation it is, and what requests' `Session.request` would take."""

    operation_id: str
    method: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PeerToken:
    """A valid token of another client (cached, else renewed by that client's own flow)."""

    source: TokenClient


Step = Union[Send, PeerToken]  # noqa: UP007 - a runtime alias, read by isinstance-free code and mypy alike
# What a flow is: yields steps, receives payloads (for Send) or Tokens (for PeerToken), returns a Token.
Flow = Generator[Step, Any, Token]
# A refresh flow may also decide that the refreshed token is unusable (None): then the client logs in.
RefreshFlow = Generator[Step, Any, "Token | None"]

_Step = TypeVar("_Step")
_Result = TypeVar("_Result")


@dataclass(frozen=True)
class Done(Generic[_Result]):
    """What a generator returned when it finished."""

    value: _Result


def resume(
    generator: Generator[_Step, Any, _Result], value: Any = None, *, error: BaseException | None = None
) -> _Step | Done[_Result]:
    """Hand a generator the outcome of its last step (`value` sent, or `error` raised where it yielded):
    its next step, or `Done` with what it returned. One stepping rule for every driver, sync and async, of
    token flows and of retry loops (`transport.retry_loop`)."""
    try:
        return generator.throw(error) if error is not None else generator.send(value)
    except StopIteration as stop:
        return Done(stop.value)
