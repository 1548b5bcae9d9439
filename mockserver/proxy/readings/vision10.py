"""Vision10's readings on the wire (V10-*)."""

from __future__ import annotations

import functools
from typing import Any

from tokenmock import contracts
from tokenmock.mockserver.proxy.exchange import Exchange
from tokenmock.mockserver.proxy.readings.base import LENIENT, STRICT, Memory, Observers, Verdict, answer_member, ok

OBSERVERS = Observers("vision10")
TOKEN = "getAccessToken"


@functools.cache
def _fields() -> dict[str, Any]:
    """The documented body fields and their schemas, from the contract."""
    schema = contracts.operation("vision10", TOKEN).body_schema("application/json") or {}
    return dict(schema.get("properties") or {})


def _token(exchange: Exchange) -> bool:
    return exchange.operation_id == TOKEN


@OBSERVERS.on("V10-01", "a token request with documented fields in the query, not the body: 200 or 400")
def query_fields(exchange: Exchange, memory: Memory) -> Verdict:
    body = exchange.request_data if isinstance(exchange.request_data, dict) else {}
    moved = [name for name, _ in exchange.query if name in _fields() and name not in body]
    if not _token(exchange) or not moved:
        return None
    return LENIENT if ok(exchange) else STRICT if exchange.status == 400 else None


@OBSERVERS.on("V10-02", "a token request sent as a form: 200 or 415")
def form_body(exchange: Exchange, memory: Memory) -> Verdict:
    if not _token(exchange) or exchange.request_media_type != "application/x-www-form-urlencoded":
        return None
    return LENIENT if ok(exchange) else STRICT if exchange.status == 415 else None


@OBSERVERS.on("V10-04", "a token request with a field past its documented length: 400, or checked on")
def lengths(exchange: Exchange, memory: Memory) -> Verdict:
    data = exchange.request_data
    if not _token(exchange) or not isinstance(data, dict):
        return None
    longer = [
        name
        for name, schema in _fields().items()
        if isinstance(data.get(name), str) and len(data[name]) > int(schema.get("maxLength", 1 << 30))
    ]
    if not longer:
        return None
    return STRICT if exchange.status == 400 else LENIENT if exchange.status in (200, 401) else None


@OBSERVERS.on("V10-05", "a token request with an undocumented field: 400 or 200")
def unknown_fields(exchange: Exchange, memory: Memory) -> Verdict:
    data = exchange.request_data
    if not _token(exchange) or not isinstance(data, dict) or not set(data) - set(_fields()):
        return None
    return LENIENT if ok(exchange) else STRICT if exchange.status == 400 else None


@OBSERVERS.on("V10-12", "a token request with grant_type other than client_credentials: 400 or 200")
def grant_type(exchange: Exchange, memory: Memory) -> Verdict:
    grant = exchange.field("grant_type")
    if not _token(exchange) or not isinstance(grant, str) or grant == "client_credentials":
        return None
    return LENIENT if ok(exchange) else STRICT if exchange.status == 400 else None


@OBSERVERS.lifetime_from
def lifetime(exchange: Exchange) -> int | None:
    """expires_in of a 200 token answer."""
    value = answer_member(exchange, "expires_in") if _token(exchange) and exchange.status == 200 else None
    return value if isinstance(value, int) else None
