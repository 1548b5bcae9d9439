"""AminoTV's readings on the wire (AMINO-*)."""

from __future__ import annotations

from typing import Any

import jwt

from tokenmock.mockserver.proxy.exchange import Exchange
from tokenmock.mockserver.proxy.readings.base import LENIENT, STRICT, Memory, Observers, Verdict, ok

OBSERVERS = Observers("aminotv")
LOGIN, REFRESH, STREAMS = "loginUser", "createAccessToken", "getChannelStreams"
TOKEN_OPERATIONS = ("loginUser", "exchangeCookieForToken", "getProfileAuthToken", "createAccessToken")


def _attributes(exchange: Exchange) -> dict[str, Any]:
    data = exchange.response_data
    items = data.get("data") if isinstance(data, dict) else None
    first = items[0] if isinstance(items, list) and items else items
    attributes = first.get("attributes") if isinstance(first, dict) else None
    return attributes if isinstance(attributes, dict) else {}


def _claims(token: Any) -> dict[str, Any]:
    """A JWT's claims, unverified (only read to tell readings apart); {} when it is not one."""
    try:
        claims = jwt.decode(str(token), options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


def _error_code(exchange: Exchange) -> str | None:
    data = exchange.response_data
    errors = data.get("errors") if isinstance(data, dict) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    return first.get("code")


@OBSERVERS.on("AMINO-03", "a 200 token answer: expires_at_timestamp equal to the JWT's exp, or to login_timestamp")
def expiry_timestamp(exchange: Exchange, memory: Memory) -> Verdict:
    attributes = _attributes(exchange)
    if exchange.operation_id not in TOKEN_OPERATIONS or exchange.status != 200 or not attributes:
        return None
    expires_at, login = attributes.get("expires_at_timestamp"), attributes.get("login_timestamp")
    exp = _claims(attributes.get("access_token")).get("exp")
    if expires_at is not None and expires_at == exp and expires_at != login:
        return STRICT
    return LENIENT if expires_at is not None and expires_at == login else None


@OBSERVERS.on("AMINO-07", "a login or refresh sent as application/json: 200 or 415")
def plain_json(exchange: Exchange, memory: Memory) -> Verdict:
    if exchange.operation_id not in (LOGIN, REFRESH) or exchange.request_media_type != "application/json":
        return None
    return LENIENT if ok(exchange) or exchange.status in (400, 401) else STRICT if exchange.status == 415 else None


@OBSERVERS.on("AMINO-09", "a streams request with a token that has no `type` claim: 200 or 401")
def untyped_token(exchange: Exchange, memory: Memory) -> Verdict:
    auth = exchange.authorization
    if exchange.operation_id != STREAMS or auth is None or auth[0] != "bearer":
        return None
    claims = _claims(auth[1])
    if not claims or "type" in claims:
        return None
    return LENIENT if ok(exchange) else STRICT if exchange.status == 401 else None


@OBSERVERS.on("AMINO-10", "a refresh with a refresh token used before: 401 invalid_refresh_token or 200")
def refresh_reuse(exchange: Exchange, memory: Memory) -> Verdict:
    sent = exchange.field("refresh_token")
    if exchange.operation_id != REFRESH or not isinstance(sent, str):
        return None
    reused = memory.seen("amino_refresh_used", sent)
    if ok(exchange):
        memory.remember("amino_refresh_used", sent)
    if not reused:
        return None
    if ok(exchange):
        return LENIENT
    return STRICT if exchange.status == 401 and _error_code(exchange) == "invalid_refresh_token" else None


@OBSERVERS.lifetime_from
def lifetime(exchange: Exchange) -> int | None:
    """exp - iat of the access token in a 200 token answer."""
    if exchange.operation_id not in TOKEN_OPERATIONS or exchange.status != 200:
        return None
    claims = _claims(_attributes(exchange).get("access_token"))
    exp, iat = claims.get("exp"), claims.get("iat")
    return exp - iat if isinstance(exp, int) and isinstance(iat, int) else None
