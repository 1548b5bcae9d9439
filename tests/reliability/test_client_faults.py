"""Each reference client against servers that reset, stall, drip, fail forever or answer garbage.

The client raises its documented error (TransportError, or ContractViolation for an answer that is not
the contract's), after exactly its retry budget of attempts, sleeping (an injected, recording `sleep`)
between attempts and never in a hot loop, and its message holds none of its secrets.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.reliability.faulty import BEHAVIOURS, FaultyServer
from tokenmock.client import CLIENTS, ContractViolation, RetryPolicy, TokenClient, TokenError, TransportError

SECRET = "Reliability-S3cret-42"
TIMEOUT = 0.25
ATTEMPTS = 3
POLICY = {"base": 0.25, "cap": 2.0, "retry_after_cap": 1.5}

# What each fault must become: the error type, and whether it is worth retrying.
EXPECTED: dict[str, tuple[type[TokenError], bool]] = {
    "reset": (TransportError, True),
    "hang up": (TransportError, True),
    "stall": (TransportError, True),
    "stall after the status line": (TransportError, True),
    "drip": (TransportError, True),
    "500 forever": (TransportError, True),
    "503 forever": (TransportError, True),
    "429 forever": (TransportError, True),
    "not HTTP": (TransportError, True),
    "truncated body": (TransportError, True),
    "HTML page": (ContractViolation, False),
    "JSON of the wrong shape": (ContractViolation, False),
    "endless body": (ContractViolation, False),
}
CREDENTIALS: dict[str, dict[str, str]] = {
    "junctiontv": {"client_id": "id", "client_secret": SECRET},
    "clickview": {"client_id": "id", "client_secret": SECRET},
    "vision10": {"client_id": "id", "client_secret": SECRET},
    "divetv": {"client_key": SECRET, "username": "user", "password": SECRET},
    "aminotv": {"username": "user@example.com", "password": SECRET},
}


@pytest.fixture
def faulty(request: pytest.FixtureRequest) -> Iterator[FaultyServer]:
    server = FaultyServer(BEHAVIOURS[request.param])
    yield server
    server.stop()


def client_for(vendor: str, url: str, sleeps: list[float]) -> TokenClient:
    cls: Any = CLIENTS[vendor]  # each takes its own credential names
    return cls(
        **CREDENTIALS[vendor],
        base_url=url,
        timeout=TIMEOUT,
        retry=RetryPolicy(attempts=ATTEMPTS, rng=random.Random(8), **POLICY),
        sleep=sleeps.append,
    )


def _text(error: BaseException) -> str:
    seen: BaseException | None = error
    parts = []
    while seen is not None:
        parts += [str(seen), repr(seen)]
        seen = seen.__cause__ or seen.__context__
    return " ".join(parts)


@pytest.mark.parametrize("faulty", sorted(EXPECTED), indirect=True)
@pytest.mark.parametrize("vendor", sorted(CREDENTIALS))
def test_each_client_fails_as_documented_within_its_budget(vendor: str, faulty: FaultyServer) -> None:
    behaviour = next(name for name, b in BEHAVIOURS.items() if b is faulty.behaviour)
    kind, retried = EXPECTED[behaviour]
    sleeps: list[float] = []
    client = client_for(vendor, faulty.url, sleeps)

    with pytest.raises(TokenError) as failed:
        client.token()

    assert type(failed.value) is kind, f"{behaviour}: {failed.value!r}"
    assert failed.value.vendor == vendor
    attempts = ATTEMPTS if retried else 1
    assert faulty.hits == attempts, f"{behaviour}: {faulty.hits} requests"
    assert len(sleeps) == attempts - 1  # a pause between attempts, none after the last
    assert all(0 <= s <= max(POLICY["cap"], POLICY["retry_after_cap"]) for s in sleeps)
    if behaviour == "429 forever":
        assert sleeps == [1.0] * (ATTEMPTS - 1)  # Retry-After honoured
    if behaviour == "503 forever":
        assert sleeps == [POLICY["retry_after_cap"]] * (ATTEMPTS - 1)  # Retry-After: 2, capped
    if behaviour in ("stall", "stall after the status line", "drip"):
        assert f"within {TIMEOUT:g} s" in str(failed.value)
    assert SECRET not in _text(failed.value)


@pytest.mark.parametrize("faulty", ["500 forever", "reset"], indirect=True)
def test_repeated_calls_do_not_multiply_attempts(faulty: FaultyServer) -> None:
    """Each call spends one budget; nothing keeps retrying behind the caller's back."""
    sleeps: list[float] = []
    client = client_for("clickview", faulty.url, sleeps)
    for _ in range(4):
        with pytest.raises(TransportError):
            client.token()
    assert faulty.hits == 4 * ATTEMPTS
    assert len(sleeps) == 4 * (ATTEMPTS - 1)


@pytest.mark.parametrize("faulty", ["stall", "503 forever"], indirect=True)
def test_a_protected_call_surfaces_the_token_error(faulty: FaultyServer) -> None:
    """`requests.get(..., auth=client.auth())` raises the client's error; it does not send the request."""
    sleeps: list[float] = []
    client = client_for("vision10", faulty.url, sleeps)
    with pytest.raises(TransportError) as failed:
        requests.get(faulty.url + "/v1/api/resource", auth=client.auth(), timeout=TIMEOUT)
    assert faulty.hits == ATTEMPTS  # token requests only
    assert SECRET not in _text(failed.value)


def test_no_retry_budget_means_one_attempt() -> None:
    server = FaultyServer(BEHAVIOURS["500 forever"])
    try:
        sleeps: list[float] = []
        cls: Any = CLIENTS["divetv"]
        client = cls(
            **CREDENTIALS["divetv"],
            base_url=server.url,
            timeout=TIMEOUT,
            retry=RetryPolicy(attempts=1),
            sleep=sleeps.append,
        )
        with pytest.raises(TransportError):
            client.token()
        assert (server.hits, sleeps) == (1, [])
    finally:
        server.stop()
