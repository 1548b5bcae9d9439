"""Dive's readings on the wire (DIVE-*)."""

from __future__ import annotations

import re

import jwt

from tokenmock.mockserver.proxy.exchange import Exchange, basic_parts
from tokenmock.mockserver.proxy.readings.base import LENIENT, STRICT, Memory, Observers, Verdict, answer_member, ok

OBSERVERS = Observers("divetv")
TOKEN = "issueToken"
_MD5 = re.compile(r"[0-9a-fA-F]{32}")
# The document's "validity of 9000 seconds" and its example's expires_in (DIVE-05).
VALIDITY, EXAMPLE_EXPIRES_IN = 9000, 8999


def _grant(exchange: Exchange) -> str | None:
    query = dict(exchange.query)
    grant = query.get("grant_type") or exchange.field("grant_type")
    return grant if isinstance(grant, str) else None


@OBSERVERS.on("DIVE-01", "a token request sent as a form: 200 or 415")
def form_body(exchange: Exchange, memory: Memory) -> Verdict:
    if exchange.operation_id != TOKEN or exchange.request_media_type != "application/x-www-form-urlencoded":
        return None
    return LENIENT if ok(exchange) else STRICT if exchange.status == 415 else None


@OBSERVERS.on("DIVE-02", "a token request with RFC 7617 `Basic base64(key:)`: 200 or 401")
def base64_key(exchange: Exchange, memory: Memory) -> Verdict:
    auth = exchange.authorization
    parts = basic_parts(auth[1]) if exchange.operation_id == TOKEN and auth and auth[0] == "basic" else None
    if parts is None or parts[1]:
        return None
    return LENIENT if ok(exchange) else STRICT if exchange.status == 401 else None


@OBSERVERS.on("DIVE-03", "a token request with grant_type in the body only: 200 or 400")
def grant_in_body(exchange: Exchange, memory: Memory) -> Verdict:
    if exchange.operation_id != TOKEN or "grant_type" in dict(exchange.query) or not exchange.field("grant_type"):
        return None
    return LENIENT if ok(exchange) else STRICT if exchange.status == 400 else None


@OBSERVERS.on("DIVE-04", "an upper-case MD5 password whose lower-case form was accepted before: 200 or 401")
def md5_case(exchange: Exchange, memory: Memory) -> Verdict:
    password = exchange.field("password")
    if exchange.operation_id != TOKEN or not isinstance(password, str) or not _MD5.fullmatch(password):
        return None
    if ok(exchange):
        memory.remember("dive_password_ok", password.lower())
    if password == password.lower():
        return None
    if ok(exchange):
        return LENIENT
    return STRICT if exchange.status == 401 and memory.seen("dive_password_ok", password.lower()) else None


def _validity(exchange: Exchange) -> int | None:
    """exp - iat of the access token (unverified: only read to tell readings apart), or None."""
    try:
        claims = jwt.decode(str(answer_member(exchange, "access_token")), options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    exp, iat = claims.get("exp"), claims.get("iat")
    return exp - iat if isinstance(exp, int) and isinstance(iat, int) else None


@OBSERVERS.on("DIVE-05", "a 200 token answer: expires_in equal to the token's validity (9000), or one less")
def expires_in(exchange: Exchange, memory: Memory) -> Verdict:
    if exchange.operation_id != TOKEN or exchange.status != 200:
        return None
    validity = _validity(exchange) or VALIDITY  # without exp and iat, the document's own numbers
    return {validity: STRICT, validity - 1: LENIENT}.get(answer_member(exchange, "expires_in"))


@OBSERVERS.on("DIVE-06", "a token request with device_id: the answer's device_id is it or the configured one")
def device_id(exchange: Exchange, memory: Memory) -> Verdict:
    sent = exchange.field("device_id")
    if exchange.operation_id != TOKEN or exchange.status != 200 or not isinstance(sent, str):
        return None
    return LENIENT if answer_member(exchange, "device_id") == sent else STRICT


@OBSERVERS.on("DIVE-11", "a refresh answered with the same refresh token, or a used one sent again: 400 or 200")
def refresh_rotation(exchange: Exchange, memory: Memory) -> Verdict:
    sent = exchange.field("refresh_token")
    if exchange.operation_id != TOKEN or _grant(exchange) != "refresh_token" or not isinstance(sent, str):
        return None
    reused = memory.seen("dive_refresh_used", sent)
    memory.remember("dive_refresh_used", sent)
    if reused:  # only a replay tells: a rotating server may still accept the old token (or not)
        return LENIENT if ok(exchange) else STRICT if exchange.status == 400 else None
    return LENIENT if ok(exchange) and answer_member(exchange, "refresh_token") == sent else None


@OBSERVERS.lifetime_from
def lifetime(exchange: Exchange) -> int | None:
    """The validity of the access token of a 200 token answer (exp - iat, else from expires_in)."""
    if exchange.operation_id != TOKEN or exchange.status != 200:
        return None
    validity = _validity(exchange)
    if validity is not None:
        return validity
    value = answer_member(exchange, "expires_in")
    return None if not isinstance(value, int) else VALIDITY if value == EXAMPLE_EXPIRES_IN else value
