"""ClickView's readings on the wire (CV-*)."""

from __future__ import annotations

from tokenmock.mockserver.proxy.exchange import Exchange
from tokenmock.mockserver.proxy.readings.base import LENIENT, STRICT, Memory, Observers, Verdict, answer_member, ok

OBSERVERS = Observers("clickview")
TOKEN, RESOURCE = "requestToken", "getExample"


def _basic(exchange: Exchange) -> bool:
    auth = exchange.authorization
    return auth is not None and auth[0] == "basic"


@OBSERVERS.on("CV-02", "a token request with Basic credentials and none in the body: 200 or 400 invalid_request")
def basic_only(exchange: Exchange, memory: Memory) -> Verdict:
    if exchange.operation_id != TOKEN or not _basic(exchange) or exchange.field("client_id"):
        return None
    if ok(exchange):
        return LENIENT
    # invalid_client means the Basic credentials were read (and wrong): the lenient reading's refusal.
    error = answer_member(exchange, "error")
    return (
        STRICT
        if exchange.status == 400 and error == "invalid_request"
        else LENIENT
        if error == "invalid_client"
        else None
    )


@OBSERVERS.on("CV-03", "a token request without scope: 200 or 400 invalid_request")
def missing_scope(exchange: Exchange, memory: Memory) -> Verdict:
    if exchange.operation_id != TOKEN or exchange.field("scope"):
        return None
    if ok(exchange):
        return LENIENT
    refused = exchange.status == 400 and answer_member(exchange, "error") in ("invalid_request", "invalid_scope")
    return STRICT if refused else None


@OBSERVERS.on("CV-07", "a resource request with the scheme spelt other than `Bearer`: 200 or 401")
def scheme_case(exchange: Exchange, memory: Memory) -> Verdict:
    value = exchange.request_header("authorization") or ""
    scheme = value.strip().partition(" ")[0]
    if exchange.operation_id != RESOURCE or scheme.lower() != "bearer" or scheme == "Bearer":
        return None
    if ok(exchange):
        return LENIENT
    return STRICT if exchange.status == 401 else None


@OBSERVERS.on("CV-11", "invalid_client after Basic authentication: 401 or 400")
def invalid_client_status(exchange: Exchange, memory: Memory) -> Verdict:
    if exchange.operation_id != TOKEN or not _basic(exchange) or answer_member(exchange, "error") != "invalid_client":
        return None
    return {401: STRICT, 400: LENIENT}.get(exchange.status)


@OBSERVERS.lifetime_from
def lifetime(exchange: Exchange) -> int | None:
    """expires_in of a 200 token answer."""
    value = answer_member(exchange, "expires_in") if exchange.operation_id == TOKEN and exchange.status == 200 else None
    return value if isinstance(value, int) else None
