"""Request validation against the contract, compiled once per operation at start-up.

Runs before any handler: content type, body parsing (form or JSON), required security credentials,
parameters and the body schema (types, enums, required fields, maximum lengths). Failures are
`MockError`s, which the vendor renders in its own shape, so a bad request never reaches a handler.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from tokenmock.contracts.validation import FastSchema, compile_fast, describe, first_error, media_type_of, pointer
from tokenmock.mockserver.errors import InvalidClient, InvalidRequest, InvalidToken, MockError, UnsupportedMediaType
from tokenmock.mockserver.pipeline.exchange import Call

if TYPE_CHECKING:
    from tokenmock.contracts import Operation
    from tokenmock.mockserver.vendors.base import Vendor

MAX_FORM_FIELDS = 100


@dataclass
class RawRequest:
    """The parts of an HTTP request validation needs, independent of the web framework."""

    method: str
    path: str
    path_params: Mapping[str, str] = field(default_factory=dict)
    query: Sequence[tuple[str, str]] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_type: str | None = None
    scheme: str = "http"  # as the client reached the server (https behind `serve --tls`)


@dataclass(frozen=True)
class _Param:
    location: str
    name: str
    required: bool
    validator: FastSchema
    kind: str


def _coerce(value: str, kind: str) -> Any:
    """Parameters arrive as text; give the schema the type it declares when the text allows it."""
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def parse_form(body: bytes) -> dict[str, str]:
    """`application/x-www-form-urlencoded` to a dict; a repeated parameter is an error (RFC 6749 §3.2)."""
    try:
        text = body.decode("utf-8")
        if "%" in text or "+" in text:
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=MAX_FORM_FIELDS)
        else:
            pairs = _split_form(text)
    except UnicodeDecodeError:
        raise InvalidRequest("the form body is not valid UTF-8", rule="form") from None
    except ValueError:
        raise InvalidRequest(f"the form body has more than {MAX_FORM_FIELDS} fields", rule="form") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise InvalidRequest(f"parameter {name} is repeated", field=name, rule="form")
        form[name] = value
    return form


def _split_form(text: str) -> list[tuple[str, str]]:
    """`parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)` for text with nothing to
    unquote (no `%`, no `+`): the same pairs without its per-field decoding."""
    if text.count("&") + 1 > MAX_FORM_FIELDS:
        raise ValueError("Max number of fields exceeded")
    pairs = []
    for field_text in text.split("&"):
        if field_text:
            name, _, value = field_text.partition("=")
            pairs.append((name, value))
    return pairs


def parse_json(body: bytes) -> Any:
    """A JSON body; bad encoding, bad syntax and absurd nesting are all the client's error."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidRequest("the body is not valid JSON", rule="json") from None


def journal_body(body: bytes, content_type: str | None) -> Any:
    """What the journal shows of a body no validator parsed (a fault, chaos, `Prefer` or a refusal
    answered first): a form or JSON body as its fields, read leniently (a repeated form field becomes a
    list, a JSON body that does not parse stays unparsed), anything else as `{"unparsed_bytes": N}`.

    Never raises: the request was answered already, and the journal must keep what the client sent on
    exactly the attempt that failed. Text that cannot be stored (a lone surrogate, a NUL) stays unparsed.
    """
    unparsed = {"unparsed_bytes": len(body)}
    if not body:
        return None
    media_type = media_type_of(content_type) or _sniffed(body)
    try:
        if "json" in media_type:
            value = json.loads(body)
        elif media_type == "application/x-www-form-urlencoded":
            fields: dict[str, Any] = {}
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
            for name, text in pairs:
                seen = fields.get(name)
                fields[name] = text if seen is None else [*(seen if isinstance(seen, list) else [seen]), text]
            value = fields
        else:
            return unparsed
        if _may_hold_unencodable(body):
            refuse_unencodable(value, "body")
    except (ValueError, RecursionError, InvalidRequest):  # UnicodeDecodeError is a ValueError
        return unparsed
    return value


def _sniffed(body: bytes) -> str:
    """The media type a body with no Content-Type evidently has (validators fall back on the operation's
    default; the journal, answering for every operation, looks at the bytes)."""
    start = body.lstrip()[:1]
    if start in (b"{", b"["):
        return "application/json"
    return "application/x-www-form-urlencoded" if b"=" in body else ""


def refuse_unencodable(value: Any, where: str, *, nul: bool = True) -> None:
    """Refuse text no server can carry on: lone surrogates (a JSON `\\ud800` escape decodes to one, and
    it cannot be encoded, compared as bytes, stored or logged) and, with `nul`, NUL. The one place every
    decoded request value passes, so no handler, store or log line meets such text."""
    if isinstance(value, str):
        if (nul and "\x00" in value) or (not value.isascii() and not _encodable(value)):
            raise InvalidRequest(f"{where} is not valid text (a lone surrogate or NUL)", field=where, rule="encoding")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            refuse_unencodable(key, where, nul=nul)
            named = isinstance(key, str) and key and "\x00" not in key and _encodable(key)
            refuse_unencodable(item, str(key) if named else where, nul=nul)
    elif isinstance(value, list):
        for item in value:
            refuse_unencodable(item, where, nul=nul)


def _may_hold_unencodable(body: bytes) -> bool:
    """Whether a parsed body can hold a lone surrogate or NUL at all: JSON makes them only from `\\u`
    escapes (raw control characters in strings are a syntax error), a form only from `%00` or a NUL byte
    (its decoding replaces invalid UTF-8). Most bodies have none of these, and skip the walk."""
    return b"\\u" in body or b"\x00" in body or b"%00" in body


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class RequestValidator:
    """Everything the contract says about one operation's request, compiled."""

    def __init__(self, op: Operation, vendor: Vendor) -> None:
        self.op = op
        self.vendor = vendor
        documented = op.request_media_types
        self.media_types = vendor.media_types(op)
        self.default_media_type = vendor.default_media_type(op)
        self.body_required = vendor.body_required(op)
        self.body_validators: dict[str, FastSchema] = {}
        for media_type in self.media_types:
            schema = op.body_schema(media_type)
            if schema is None and documented:
                schema = op.body_schema(documented[0])
            self.body_validators[media_type] = compile_fast(vendor.adjust_body_schema(op, dict(schema or {})))
        self.params = [
            _Param(
                p["in"],
                p["name"],
                bool(p.get("required")),
                compile_fast(p.get("schema", {})),
                str((p.get("schema") or {}).get("type", "string")),
            )
            for p in (vendor.adjust_parameter(op, dict(raw)) for raw in op.parameters)
        ]
        alternatives = op.security
        self.auth_optional = not alternatives or any(not alt for alt in alternatives)
        self.auth_alternatives = [list(alt.values()) for alt in alternatives if alt]

    def validate(self, raw: RawRequest) -> Call:
        """Parse and check a request; return the `Call` for the handler or raise a `MockError`."""
        call = Call(
            vendor=self.vendor.name,
            operation_id=self.op.operation_id,
            method=raw.method,
            path=raw.path,
            path_params=raw.path_params,
            query=dict(raw.query),
            headers=raw.headers,
            cookies=raw.cookies,
            scheme=raw.scheme,
            basic_decoder=self.vendor.decode_basic,
        )
        self._parse_body(call, raw)
        if _may_hold_unencodable(raw.body):
            refuse_unencodable(call.body, "body")
        # Parameters the operation may not even read: only what cannot be encoded at all (werkzeug's
        # decoding already replaces it; this keeps any other adapter honest). NUL in a query is just text.
        refuse_unencodable(call.query, "query", nul=False)
        refuse_unencodable(call.path_params, "path", nul=False)
        refuse_unencodable(call.cookies, "cookie", nul=False)
        self._check_security(call)
        self._check_params(call, raw)
        if call.media_type:
            error = first_error(self.body_validators[call.media_type], call.body)
            if error is not None:
                where = pointer(error)
                field_name = where.lstrip("/") or None
                if error.validator == "required" and not field_name:
                    field_name = describe(error).split(",")[0].split(" ")[0]
                subject = f"body field {where.lstrip('/')}" if where else "body"
                raise InvalidRequest(f"{subject} {describe(error)}", field=field_name, rule=str(error.validator))
        return call

    def _parse_body(self, call: Call, raw: RawRequest) -> None:
        if not self.media_types:
            return  # the operation takes no body; anything sent is ignored, as servers do
        media_type = media_type_of(raw.content_type) or (self.default_media_type if raw.body else "") or ""
        if not raw.body and not media_type:
            if self.body_required:
                raise InvalidRequest("a request body is required", rule="required")
            return
        if media_type not in self.media_types:
            accepted = ", ".join(self.media_types)
            raise UnsupportedMediaType(f"content type {media_type or '(none)'!r} is not accepted; use {accepted}")
        call.media_type = media_type
        if "json" in media_type:
            if not raw.body:
                raise InvalidRequest("the JSON body is empty", rule="json")
            call.body = parse_json(raw.body)
        else:
            call.body = parse_form(raw.body)

    def _check_security(self, call: Call) -> None:
        if self.auth_optional:
            return
        failure: MockError | None = None
        for alternative in self.auth_alternatives:
            try:
                for scheme in alternative:
                    self._present(call, scheme, self.vendor)
                return
            except MockError as exc:
                failure = failure or exc
        assert failure is not None
        raise failure

    @staticmethod
    def _present(call: Call, scheme: Mapping[str, Any], vendor: Vendor) -> None:
        kind = scheme.get("type")
        if kind == "http" and str(scheme.get("scheme", "")).lower() == "basic":
            if call.basic is None:  # raises InvalidClient itself when present but undecodable
                raise InvalidClient("client authentication is required (Authorization: Basic)", via_basic=True)
        elif kind == "oauth2" or (kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer"):
            # An oauth2 scheme's access token is presented as a bearer token (RFC 6750).
            if vendor.bearer_token(call) is None:
                if call.authorization is None:
                    raise InvalidToken("no access token was sent", missing=True)
                raise InvalidToken("the Authorization header does not carry a Bearer token")
        elif kind == "apiKey":
            where = {"header": call.headers, "cookie": call.cookies, "query": call.query}.get(scheme.get("in", ""))
            if where is None or not where.get(scheme.get("name", "")):
                raise InvalidClient(f"the {scheme.get('in')} {scheme.get('name')!r} is required")

    def _check_params(self, call: Call, raw: RawRequest) -> None:
        sources: dict[str, Mapping[str, str]] = {
            "query": call.query,
            "path": call.path_params,
            "header": raw.headers,
            "cookie": raw.cookies,
        }
        for param in self.params:
            value = sources.get(param.location, {}).get(param.name)
            if value is None:
                if param.required:
                    raise InvalidRequest(
                        f"{param.location} parameter {param.name} is required", field=param.name, rule="required"
                    )
                continue
            error = first_error(param.validator, _coerce(value, param.kind))
            if error is not None:
                raise InvalidRequest(
                    f"{param.location} parameter {param.name} {describe(error)}",
                    field=param.name,
                    rule=str(error.validator),
                )
