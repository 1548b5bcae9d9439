"""JunctionTV's readings on the wire (JTV-*)."""

from __future__ import annotations

from tokenmock.mockserver.proxy.exchange import Exchange
from tokenmock.mockserver.proxy.readings.base import LENIENT, STRICT, Memory, Observers, Verdict, answer_member, ok

OBSERVERS = Observers("junctiontv")
TOKEN, RESOURCE = "getAccessToken", "getProtectedResource"


def _accepted_or_refused(exchange: Exchange, refused: int) -> Verdict:
    if ok(exchange):
        return LENIENT
    return STRICT if exchange.status == refused else None


@OBSERVERS.on("JTV-01", "a token request with raw `Basic id:secret` (not Base64): 200 or 401")
def raw_basic(exchange: Exchange, memory: Memory) -> Verdict:
    auth = exchange.authorization
    if exchange.operation_id != TOKEN or auth is None or auth[0] != "basic" or ":" not in auth[1]:
        return None
    return _accepted_or_refused(exchange, 401)


@OBSERVERS.on("JTV-03", "a token request without Content-Type and without a body: 200 or 404")
def no_content_type(exchange: Exchange, memory: Memory) -> Verdict:
    if exchange.operation_id != TOKEN or exchange.request_header("content-type") is not None or exchange.request_body:
        return None
    return _accepted_or_refused(exchange, 404)


@OBSERVERS.on("JTV-04", "a token request with form parameters: 200 or 404")
def form_parameters(exchange: Exchange, memory: Memory) -> Verdict:
    if exchange.operation_id != TOKEN or not isinstance(exchange.request_data, dict) or not exchange.request_data:
        return None
    return _accepted_or_refused(exchange, 404)


@OBSERVERS.on("JTV-05", "POST /ums/2.0/oauth (no trailing slash): 200 or 404")
def no_trailing_slash(exchange: Exchange, memory: Memory) -> Verdict:
    if exchange.method != "POST" or exchange.path != "/ums/2.0/oauth":
        return None
    return _accepted_or_refused(exchange, 404)


@OBSERVERS.on("JTV-08", "a 200 token answer: with or without token_type")
def token_type(exchange: Exchange, memory: Memory) -> Verdict:
    if exchange.operation_id != TOKEN or exchange.status != 200 or not isinstance(exchange.response_data, dict):
        return None
    return LENIENT if "token_type" in exchange.response_data else STRICT


@OBSERVERS.on("JTV-12", "a resource request with a bare token or ?access_token=: 200 or 401")
def token_presentation(exchange: Exchange, memory: Memory) -> Verdict:
    if exchange.operation_id != RESOURCE:
        return None
    auth = exchange.authorization
    bare = auth is not None and auth[0] not in ("bearer", "basic") and not auth[1]
    if not bare and "access_token" not in dict(exchange.query):
        return None
    return _accepted_or_refused(exchange, 401)


@OBSERVERS.lifetime_from
def lifetime(exchange: Exchange) -> int | None:
    """expires_in of a 200 token answer."""
    value = answer_member(exchange, "expires_in") if exchange.operation_id == TOKEN and exchange.status == 200 else None
    return value if isinstance(value, int) else None
