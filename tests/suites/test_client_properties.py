"""The reference client against any response a server could send, over a real socket.

A replay server answers the client's request with a drawn `tokenmock.contracts.strategies.Reply`:
(a) a spec-valid success: the client returns a Token equal to the payload;
(b) a documented error: it raises the right TokenError subclass, with the vendor's error code;
(c) a hostile response: it raises ContractViolation or TransportError, nothing else, and never hangs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenmock import client
from tokenmock.client import (
    AminoTVClient,
    AuthenticationError,
    ClickViewClient,
    ContractViolation,
    DiveTVClient,
    JunctionTVClient,
    RequestRejected,
    RetryPolicy,
    Token,
    TokenClient,
    TokenError,
    TransportError,
    Vision10Client,
)
from tokenmock.contracts import strategies
from tokenmock.contracts.strategies import Reply
from tokenmock.pytest_plugin import ReplayServer

NOW = 1_767_225_600.0
# The client's timeout where the server goes quiet: small, so those cases end soon. Servers that answer get
# ANSWERING_TIMEOUT, so a loaded machine that schedules the replay server late never fails a valid reply.
TIMEOUT = 0.25
ANSWERING_TIMEOUT = 30.0
ATTEMPTS = 2
# A client still busy after this long has hung (a watchdog, far above any timeout the client is given).
HANG = 120.0
PROFILE_ID = "84eb61a9-75d4-42c7-8c15-84c3d7776227"


def options(base_url: str, timeout: float) -> dict[str, Any]:
    """The given timeout, two attempts and no real waiting between them; a fixed clock."""
    return {
        "base_url": base_url,
        "timeout": timeout,
        "retry": RetryPolicy(attempts=ATTEMPTS, base=0.0, cap=0.0),
        "sleep": lambda _seconds: None,
        "clock": lambda: NOW,
    }


def with_expired_refresh_token(made: TokenClient) -> TokenClient:
    """A client whose stored token has expired but carries a refresh token, so `token()` refreshes."""
    made.store.save(made.store_key, Token("expired", expires_at=NOW - 1, refresh_token="stored-refresh"))
    return made


@dataclass(frozen=True)
class Target:
    """One operation of one vendor, as the reference client calls it."""

    vendor: str
    operation_id: str
    fetch: Callable[[str, float], Token]  # (base URL, the client's timeout) -> the token it got
    # Replies the call needs first, by path (the user's login before a profile token).
    prerequisites: Callable[[], st.SearchStrategy[dict[str, Reply]]] = lambda: st.just({})
    name: str = ""

    def __str__(self) -> str:
        return self.name or f"{self.vendor}.{self.operation_id}"


TARGETS = [
    Target("junctiontv", "getAccessToken", lambda u, t: JunctionTVClient("id", "secret", **options(u, t)).token()),
    Target("clickview", "requestToken", lambda u, t: ClickViewClient("id", "secret", **options(u, t)).token()),
    Target("vision10", "getAccessToken", lambda u, t: Vision10Client("id", "secret", **options(u, t)).token()),
    Target("divetv", "issueToken", lambda u, t: DiveTVClient("key", "user", "pw", **options(u, t)).token()),
    Target(
        "divetv",
        "issueToken",
        lambda u, t: with_expired_refresh_token(DiveTVClient("key", "user", "pw", **options(u, t))).token(),
        name="divetv.issueToken(refresh)",
    ),
    Target("aminotv", "loginUser", lambda u, t: AminoTVClient("user", "pw", **options(u, t)).token()),
    Target(
        "aminotv",
        "createAccessToken",
        lambda u, t: with_expired_refresh_token(AminoTVClient("user", "pw", **options(u, t))).token(),
    ),
    Target(
        "aminotv",
        "getProfileAuthToken",
        lambda u, t: AminoTVClient("user", "pw", **options(u, t)).profile_client(PROFILE_ID).token(),
        lambda: strategies.success_replies("aminotv", "loginUser").map(lambda login: {"/auth/login": login}),
    ),
]
IDS = [str(t) for t in TARGETS]


def outcome(
    target: Target, server: ReplayServer, reply: Reply, routes: Mapping[str, Reply], timeout: float = ANSWERING_TIMEOUT
) -> tuple[Any, float]:
    """What the client returned or raised, and how long it took (a watchdog thread catches hangs)."""
    server.play(reply, routes)
    result: dict[str, Any] = {}

    def call() -> None:
        try:
            result["value"] = target.fetch(server.url, timeout)
        except BaseException as exc:  # anything at all: the property says which are allowed
            result["value"] = exc

    worker = threading.Thread(target=call, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(HANG)
    elapsed = time.monotonic() - started
    assert not worker.is_alive(), f"{target} hung on {reply!r}"
    return result["value"], elapsed


def expected_token(target: Target, payload: Any) -> Token:
    """The Token a 200 payload stands for, by the contract: the access and refresh tokens where the
    contract's links find them; RFC 6749 §5.1 members; the lifetime from expires_in or, for AminoTV,
    the login and expiry timestamps (AMINO-03: no lifetime when they are equal)."""
    access, refresh = strategies.token_pointers(target.vendor, target.operation_id)
    assert access is not None
    refresh_token = strategies.resolve_pointer(payload, refresh) if refresh else payload.get("refresh_token")
    if access == "/access_token":  # an RFC 6749 §5.1 body
        lifetime = payload.get("expires_in")
        token_type, scope = payload.get("token_type") or "Bearer", payload.get("scope")
    else:  # AminoTV's JSON:API envelope
        attributes = payload["data"][0]["attributes"]
        gap = attributes["expires_at_timestamp"] - attributes["login_timestamp"]
        lifetime, token_type, scope = (gap if gap > 0 else None), "Bearer", None
    return Token(
        access_token=strategies.resolve_pointer(payload, access),
        token_type=token_type,
        expires_at=NOW + lifetime if lifetime is not None else None,
        refresh_token=refresh_token,
        scope=scope,
    )


def client_class(vendor: str) -> type[TokenClient]:
    return {
        cls.vendor: cls for cls in (JunctionTVClient, ClickViewClient, Vision10Client, DiveTVClient, AminoTVClient)
    }[vendor]


PROPERTY = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much], deadline=None)


@pytest.mark.parametrize("target", TARGETS, ids=IDS)
@PROPERTY
@given(data=st.data())
def test_a_valid_token_response_gives_that_token(target: Target, tokenmock_replay: ReplayServer, data: Any) -> None:
    reply = data.draw(strategies.success_replies(target.vendor, target.operation_id), label="reply")
    routes = data.draw(target.prerequisites(), label="routes")
    value, _ = outcome(target, tokenmock_replay, reply, routes)
    assert isinstance(value, Token), f"{target} raised {value!r} for a valid reply {reply!r}"
    assert value == expected_token(target, reply.payload)
    assert value.raw == reply.payload


@pytest.mark.parametrize("target", TARGETS, ids=IDS)
@PROPERTY
@given(data=st.data())
def test_a_documented_error_raises_its_kind_and_code(target: Target, tokenmock_replay: ReplayServer, data: Any) -> None:
    reply = data.draw(strategies.error_replies(target.vendor, target.operation_id), label="reply")
    routes = data.draw(target.prerequisites(), label="routes")
    value, _ = outcome(target, tokenmock_replay, reply, routes)
    assert isinstance(value, TokenError), f"{target} gave {value!r} for {reply!r}"
    # Refused credentials: a 401, or a code the vendor documents for bad credentials at another status.
    refused = reply.status == 401 or reply.code in client_class(target.vendor).credential_codes
    assert type(value) is (AuthenticationError if refused else RequestRejected)
    assert (value.vendor, value.status, value.code) == (target.vendor, reply.status, reply.code or None)


# Hostile replies the reference client accepted once (missing Content-Type, unusable token characters)
# are now refused like every other kind; the dict stays as the place to record a new known defect.
KNOWN_CLIENT_DEFECTS: dict[str, str] = {}


def hostile_cases(*, slow: bool) -> list[Any]:
    """(target, kind) for every hostile kind that applies to each target's operation."""
    return [
        pytest.param(target, kind, id=f"{target}-{kind}")
        for target in TARGETS
        for kind in strategies.hostile_kinds(target.vendor, target.operation_id)
        if kind not in KNOWN_CLIENT_DEFECTS and (kind in strategies.SLOW_KINDS) == slow
    ]


def check_refused(target: Target, server: ReplayServer, reply: Reply, routes: Mapping[str, Reply]) -> None:
    # The small timeout: a server that goes quiet costs the client TIMEOUT per attempt. That the client
    # returns at all is the property (the watchdog in `outcome` fails a hang); how long it took depends on
    # the machine's load, so it is not asserted: what bounds it is the number of requests the client made,
    # at most ATTEMPTS for each of the (up to three) requests the profile target makes in a row.
    value, _ = outcome(target, server, reply, routes, timeout=TIMEOUT)
    assert isinstance(value, ContractViolation | TransportError), f"{target} gave {value!r} for {reply!r}"
    assert value.vendor == target.vendor
    assert 1 <= len(server.received) <= 3 * ATTEMPTS, f"{target} sent {len(server.received)} requests"


# One test per (target, kind), so every kind is exercised; a quarter of the profile's examples each.
@pytest.mark.parametrize(("target", "kind"), hostile_cases(slow=False))
@settings(parent=PROPERTY, max_examples=max(10, settings().max_examples // 4))
@given(data=st.data())
def test_a_hostile_response_is_a_contract_violation_or_a_transport_error(
    target: Target, kind: str, tokenmock_replay: ReplayServer, data: Any
) -> None:
    reply = data.draw(strategies.hostile_replies(target.vendor, target.operation_id, [kind]), label="reply")
    check_refused(target, tokenmock_replay, reply, data.draw(target.prerequisites(), label="routes"))


@pytest.mark.parametrize(("target", "kind"), hostile_cases(slow=True))
@settings(parent=PROPERTY, max_examples=3)  # each example waits out the client's whole timeout
@given(data=st.data())
def test_a_server_that_stops_talking_costs_one_timeout(
    target: Target, kind: str, tokenmock_replay: ReplayServer, data: Any
) -> None:
    reply = data.draw(strategies.hostile_replies(target.vendor, target.operation_id, [kind]), label="reply")
    check_refused(target, tokenmock_replay, reply, data.draw(target.prerequisites(), label="routes"))


def test_every_client_operation_is_a_target() -> None:
    """Every token operation a reference client calls is held to the properties above."""
    exported = {name for name in dir(client) if name.endswith("Client") and name != "TokenClient"}
    assert {cls.__name__ for cls in map(client_class, {t.vendor for t in TARGETS})} <= exported
    assert {t.vendor for t in TARGETS} == set(strategies.ERROR_CODE_POINTERS)
