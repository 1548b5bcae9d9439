"""Hypothesis strategies for the responses of each vendor operation: valid, documented errors, hostile.

    from tokenmock.contracts import strategies

    strategies.success_payloads("clickview", "requestToken")   # any spec-valid 200 body a server would send
    strategies.error_replies("clickview", "requestToken")      # any documented error (status, body, code)
    strategies.hostile_replies("clickview", "requestToken")    # what a broken server or network sends

`*_replies` draw `Reply`s: status, headers and body bytes as they go on the wire, and how they are
delivered (complete, truncated, stalled, dripped, never, reset). Replay them to a client with a server
such as the pytest plugin's `tokenmock_replay` fixture. Payloads are generated from the contract itself
(every `$ref` inlined), so they follow it as it changes.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as seeded
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException

from tokenmock.contracts.errors import Violation
from tokenmock.contracts.loader import operation
from tokenmock.contracts.payload_defects import UNUSABLE_TOKENS, broken_payloads, edited, path_of, required_paths
from tokenmock.contracts.reproducible import own_constants_only
from tokenmock.contracts.schema_values import (
    LIFETIME_FIELDS,
    RELATIVE_FIELDS,
    from_schema,
    media,
    resolve_pointer,
    token_pointers,
)
from tokenmock.contracts.validation import validate_response

__all__ = [
    "ERROR_CODE_POINTERS",
    "HOSTILE_KINDS",
    "SLOW_KINDS",
    "Reply",
    "error_replies",
    "from_schema",
    "hostile_kinds",
    "hostile_replies",
    "resolve_pointer",
    "sample",
    "success_payloads",
    "success_replies",
    "token_pointers",
]

# Hypothesis runs one engine at a time per process: `sample()` callers on server threads take turns.
_SAMPLING = threading.Lock()


def sample(strategy: st.SearchStrategy[Any], seed: int, count: int) -> list[Any]:
    """Up to `count` values of a strategy, the same for the same seed in every process (outside a test).

    Hypothesis has no seeded draw outside a test: `.example()` is for the REPL and not reproducible.
    This runs a throwaway `@given` under `@seed` with the generate phase only and no example database,
    which is how Hypothesis itself replays a run. Fewer than `count` come back when the strategy has
    fewer distinct values; none when it cannot be satisfied.
    """
    found: list[Any] = []

    @seeded(seed)
    @settings(
        max_examples=count,
        database=None,
        phases=[Phase.generate],
        derandomize=False,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        print_blob=False,
    )
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    with _SAMPLING, own_constants_only():  # the same draws whatever the process imported
        try:
            collect()
        except HypothesisException:  # e.g. Unsatisfiable: what was found so far, never a crash of the caller
            return found
    return found


# Where each vendor's error payload carries its error code (JSON pointers into the documented shapes).
ERROR_CODE_POINTERS = {
    "junctiontv": "/message",  # {result, message, reason}: message is "UNAUTHORIZED", "NOT_FOUND"...
    "clickview": "/error",  # RFC 6749 §5.2
    "vision10": "/0/errorCode",  # a top-level array of problem objects
    "divetv": "/error",  # RFC 6749 §5.2 (Spring Security OAuth2)
    "aminotv": "/errors/0/code",  # JSON:API errors
}

_HEADER_TEXT = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


@dataclass(frozen=True)
class Reply:
    """An HTTP response as a server sends it, and how it is delivered.

    `kind` is "success", "documented_error" or one of HOSTILE_KINDS. `delivery`: "complete";
    "truncated" (Content-Length promises more than is sent, then the connection closes); "stall"
    (headers and half the body, then nothing until the client gives up); "drip" (a byte at a time, for
    ever); "silent" (no answer at all); "reset" (the connection closes without an answer); "garbage"
    (bytes that are not HTTP).
    `payload` and `code` are set for success and documented-error replies: the decoded body and the
    vendor's error code in it.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    kind: str
    delivery: str = "complete"
    payload: Any = None
    code: str | None = None

    def header(self, name: str) -> str | None:
        """A header's value (case-insensitive), or None."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def __repr__(self) -> str:
        body = self.body if len(self.body) <= 120 else self.body[:120] + b"..."
        return f"Reply({self.kind}, {self.status}, delivery={self.delivery}, headers={self.headers!r}, body={body!r})"


# The replies.


def _headers(documented: Mapping[str, Any], media_type: str) -> st.SearchStrategy[tuple[tuple[str, str], ...]]:
    """A Content-Type (with or without a charset) and the documented headers: required ones always,
    optional ones sometimes, each value drawn from its schema."""

    @st.composite
    def draw_headers(draw: st.DrawFn) -> tuple[tuple[str, str], ...]:
        content_type = draw(st.sampled_from([media_type, f"{media_type}; charset=utf-8"]))
        found = [("Content-Type", content_type)]
        for name, header in documented.items():
            if header.get("required") or draw(st.booleans()):
                schema = header.get("schema") or {"type": "string"}
                pattern = schema.get("pattern")
                values = st.from_regex(pattern, alphabet=_HEADER_TEXT) if pattern else st.text(_HEADER_TEXT)
                # What survives the wire: printable ASCII, no surrounding whitespace (HTTP strips it).
                found.append((name, draw(values.filter(_header_safe))))
        return tuple(found)

    return draw_headers()


def _header_safe(value: str) -> bool:
    return value == value.strip() and all(" " <= c <= "~" for c in value)


def _documented(vendor: str, operation_id: str, status: int, payload: Any, headers: Any) -> bool:
    try:
        validate_response(vendor, operation_id, status, payload, dict(headers))
    except Violation:
        return False
    return True


@functools.cache
def success_payloads(vendor: str, operation_id: str) -> st.SearchStrategy[Any]:
    """Any 200 body the contract allows, with plausible lifetimes and timestamps, sometimes with extra
    members (RFC 6749 §5.1 lets a server add parameters)."""
    _, schema, _ = media(vendor, operation_id, 200)
    return from_schema(schema, extras=True)


@functools.cache
def success_replies(vendor: str, operation_id: str) -> st.SearchStrategy[Reply]:
    """200 replies the contract allows, headers included, as JSON (compact or indented)."""
    media_type, _, documented = media(vendor, operation_id, 200)

    @st.composite
    def draw_reply(draw: st.DrawFn) -> Reply:
        payload = draw(success_payloads(vendor, operation_id))
        headers = draw(_headers(documented, media_type))
        body = json.dumps(payload, indent=draw(st.sampled_from([None, 2]))).encode()
        return Reply(200, headers, body, "success", payload=payload)

    return draw_reply().filter(lambda r: _documented(vendor, operation_id, 200, r.payload, r.headers))


def error_statuses(vendor: str, operation_id: str) -> tuple[int, ...]:
    """The documented error statuses of an operation."""
    return tuple(s for s in operation(vendor, operation_id).statuses if s >= 400)


@functools.cache
def error_replies(vendor: str, operation_id: str) -> st.SearchStrategy[Reply]:
    """Documented error replies: a documented status, its documented shape and headers; `code` is the
    vendor's error code in the body."""
    pointer = ERROR_CODE_POINTERS[vendor]

    def for_status(status: int) -> st.SearchStrategy[Reply]:
        media_type, schema, documented = media(vendor, operation_id, status)

        @st.composite
        def draw_reply(draw: st.DrawFn) -> Reply:
            payload = draw(from_schema(schema, extras=True))
            headers = draw(_headers(documented, media_type))
            code = resolve_pointer(payload, pointer)
            return Reply(
                status, headers, json.dumps(payload).encode(), "documented_error", payload=payload, code=str(code)
            )

        return draw_reply().filter(lambda r: _documented(vendor, operation_id, status, r.payload, r.headers))

    return st.one_of([for_status(s) for s in error_statuses(vendor, operation_id)])


# Hostile replies: each breaks the contract, the protocol or the connection in one known way.

HOSTILE_KINDS = (
    # a 200 whose JSON breaks the contract
    "wrong_type",  # a documented member of another JSON type
    "missing_field",  # a required member left out
    "absurd_number",  # a lifetime that is negative, zero or centuries long
    "wrong_shape",  # an array, a string, a number, null or true instead of the documented object
    "unusable_token",  # an access token no header can carry (RFC 6749 Appendix A.12: 1*VSCHAR)
    # a body that is not the documented JSON
    "wrong_content_type",
    "missing_content_type",
    "invalid_json",  # cut short, single quotes, a form, bad UTF-8, nesting beyond any parser, NaN
    "empty_body",
    "html_error_page",
    "oversize_body",  # 2 MiB
    # a status the contract does not document
    "redirect",
    "undocumented_status",
    # the transfer itself fails
    "truncated_body",  # Content-Length promises more than arrives
    "stalled_body",  # half the body, then nothing
    "dripping_body",  # a byte every 50 ms, for ever
    "no_answer",  # the request is read, nothing is sent
    "connection_reset",
    "not_http",
)
# Kinds that take the client's whole timeout to show (drawing many of them only costs time).
SLOW_KINDS = frozenset({"stalled_body", "dripping_body", "no_answer"})
_DELIVERIES = {
    "truncated_body": "truncated",
    "stalled_body": "stall",
    "dripping_body": "drip",
    "no_answer": "silent",
    "connection_reset": "reset",
    "not_http": "garbage",
}
_PAYLOAD_DEFECTS = ("wrong_type", "missing_field", "absurd_number", "wrong_shape")
_REDIRECTS = (301, 302, 303, 307, 308)
_UNDOCUMENTED = (201, 202, 204, 402, 409, 418, 422, 429, 500, 503)
_HTML = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
_NOT_JSON_TYPES = ("text/html; charset=utf-8", "text/plain", "application/xml", "application/octet-stream")
_NOT_JSON = (b"{", b"{'access_token': 'x'}", b"access_token=abc&expires_in=3600", b"\xff\xfe{}", b"[" * 100_000, b"NaN")


def hostile_kinds(vendor: str, operation_id: str) -> tuple[str, ...]:
    """The HOSTILE_KINDS that apply to an operation (where no token is issued, none is unusable...)."""
    _, schema, _ = media(vendor, operation_id, 200)
    required = required_paths(schema)
    lifetimes = any(p[-1] in LIFETIME_FIELDS | set(RELATIVE_FIELDS) for p in required)
    access, _ = token_pointers(vendor, operation_id)
    missing = {
        "wrong_type": not required,
        "missing_field": not required,
        "absurd_number": not lifetimes,
        "unusable_token": access is None,
    }
    return tuple(k for k in HOSTILE_KINDS if not missing.get(k, False))


def hostile_replies(vendor: str, operation_id: str, kinds: Iterable[str] | None = None) -> st.SearchStrategy[Reply]:
    """Replies no client should take for a token, of the given HOSTILE_KINDS (default: all that apply).

    Each reply's `kind` says which; with `delivery` other than "complete" the transfer itself fails.
    """
    return _hostile(vendor, operation_id, tuple(kinds) if kinds is not None else hostile_kinds(vendor, operation_id))


@functools.cache
def _hostile(vendor: str, operation_id: str, chosen: tuple[str, ...]) -> st.SearchStrategy[Reply]:
    applicable = hostile_kinds(vendor, operation_id)
    if unknown := set(chosen) - set(applicable):
        raise ValueError(f"{vendor}.{operation_id}: no hostile kinds {sorted(unknown)}; choose from {applicable}")
    media_type, _, documented = media(vendor, operation_id, 200)
    valid = success_replies(vendor, operation_id)
    json_headers = (("Content-Type", media_type),)
    access_pointer, _ = token_pointers(vendor, operation_id)

    def reply(kind: str, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> Reply:
        return Reply(status, tuple(headers), body, kind)

    def from_valid(
        kind: str, edit: Callable[[Reply, Any], Reply], values: st.SearchStrategy[Any]
    ) -> st.SearchStrategy[Reply]:
        return st.builds(lambda r, v: replace(edit(r, v), kind=kind, payload=None), valid, values)

    def content_type(r: Reply, value: str | None) -> Reply:
        headers = tuple((k, v) for k, v in r.headers if k.lower() != "content-type")
        return replace(r, headers=((("Content-Type", value),) if value else ()) + headers)

    def token(r: Reply, value: str) -> Reply:
        return replace(
            r, body=json.dumps(edited(r.payload, path_of(access_pointer or "/access_token"), value)).encode()
        )

    def broken(defect: str) -> st.SearchStrategy[Reply]:
        replies = st.builds(
            lambda payload, headers: reply(defect, 200, headers, json.dumps(payload).encode()),
            broken_payloads(vendor, operation_id, defect, success_payloads(vendor, operation_id)),
            _headers(documented, media_type),
        )
        if defect == "absurd_number":  # the contract may allow it (no minimum); the client must not
            return replies
        return replies.filter(lambda r: not _documented(vendor, operation_id, 200, json.loads(r.body), r.headers))

    def make(kind: str) -> st.SearchStrategy[Reply]:
        if kind in _PAYLOAD_DEFECTS:
            return broken(kind)
        if kind in _DELIVERIES:
            return from_valid(kind, lambda r, d: replace(r, delivery=d), st.just(_DELIVERIES[kind]))
        if kind == "unusable_token":
            return from_valid(kind, token, st.sampled_from(UNUSABLE_TOKENS))
        if kind == "wrong_content_type":
            return from_valid(kind, content_type, st.sampled_from(_NOT_JSON_TYPES))
        if kind == "missing_content_type":
            return from_valid(kind, content_type, st.none())
        if kind == "invalid_json":
            cut = from_valid(kind, lambda r, f: replace(r, body=r.body[: int(len(r.body) * f)]), st.floats(0.05, 0.95))
            return cut | st.sampled_from(_NOT_JSON).map(lambda body: reply(kind, 200, json_headers, body))
        if kind == "empty_body":
            return st.sampled_from([json_headers, ()]).map(lambda headers: reply(kind, 200, headers, b""))
        if kind == "html_error_page":
            pages = st.sampled_from([200, 400, 401, 403, 404, 500, 502, 503, 504])
            types = st.sampled_from(["text/html; charset=utf-8", media_type])
            return st.builds(lambda s, t: reply(kind, s, [("Content-Type", t)], _HTML), pages, types)
        if kind == "redirect":
            locations = st.sampled_from(["/login", "https://sso.example/authorize", "http://127.0.0.1:9/token"])
            return st.builds(
                lambda s, loc: reply(kind, s, [("Location", loc)], b""), st.sampled_from(_REDIRECTS), locations
            )
        if kind == "undocumented_status":
            statuses = [s for s in _UNDOCUMENTED if s not in operation(vendor, operation_id).statuses]
            return from_valid(kind, lambda r, s: replace(r, status=s), st.sampled_from(statuses))
        if kind == "oversize_body":
            return st.just(reply(kind, 200, json_headers, b'{"access_token": "' + b"x" * (2 << 20) + b'"}'))
        raise AssertionError(kind)

    return st.one_of([make(kind) for kind in chosen])


def replies(vendor: str, operation_id: str) -> st.SearchStrategy[Reply]:
    """Any reply: valid, documented error or hostile (for a client that must never crash)."""
    return st.one_of(
        success_replies(vendor, operation_id),
        error_replies(vendor, operation_id),
        hostile_replies(vendor, operation_id),
    )
