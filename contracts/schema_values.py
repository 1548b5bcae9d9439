"""Values and places in the contracts' schemas: JSON-schema values a real server would send (plausible
lifetimes and timestamps, token strings a header can carry), where a vendor's answer keeps its tokens,
and each operation's documented media type and schema for a status."""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from tokenmock.contracts.loader import operation
from tokenmock.contracts.validation import compile_schema

# Seconds a real token lives, at most: a plausible `expires_in`. Beyond it a value is hostile.
MAX_LIFETIME = 366 * 86400
# Integer fields whose values a real server keeps in a plausible range (the contracts leave them open).
LIFETIME_FIELDS = {"expires_in"}
TIMESTAMP_FIELDS = {"login_timestamp", "exp", "iat"}
# field -> the field it counts from: expires_at_timestamp lies after login_timestamp, or equals it (AMINO-03).
RELATIVE_FIELDS = {"expires_at_timestamp": "login_timestamp"}

# Token strings a real server issues: RFC 6749 Appendix A.12/A.17 (1*VSCHAR), without the space that
# a Bearer header could not carry (RFC 6750 §2.1).
TOKEN_FIELDS = frozenset({"access_token", "refresh_token"})
_TOKEN_TEXT = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
# RFC 6749 §5.1 members: extra members never take these names (a client reads them wherever they are).
RFC6749_MEMBERS = frozenset({"access_token", "token_type", "expires_in", "refresh_token", "scope"})


_JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
ANY_JSON = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def resolve_pointer(document: Any, pointer: str) -> Any:
    """The value at a JSON pointer; KeyError/IndexError/TypeError when there is none."""
    node = document
    for part in filter(None, pointer.split("/")):
        node = node[int(part)] if isinstance(node, list) else node[part.replace("~1", "/").replace("~0", "~")]
    return node


_LINKED_BODY = re.compile(r"\$response\.body#(/[^}\s]*)")


def token_pointers(vendor: str, operation_id: str) -> tuple[str | None, str | None]:
    """(access token, refresh token) locations in an operation's 200 body, read from its links."""
    access = refresh = None
    for link in ((operation(vendor, operation_id).responses.get("200") or {}).get("links") or {}).values():
        for value in (link.get("parameters") or {}).values():
            if (match := _LINKED_BODY.search(str(value))) and str(value).lower().startswith("bearer"):
                access = access or match.group(1)
        body = link.get("requestBody")
        if isinstance(body, Mapping):
            for name, value in body.items():
                if name == "refresh_token" and (match := _LINKED_BODY.search(str(value))):
                    refresh = refresh or match.group(1)
    return access, refresh


# Generating values from the contracts' schemas (the subset of JSON Schema they use).


def _merge(a: Any, b: Any) -> Any:
    """`allOf` of two schemas, for the shapes the contracts use (objects refined member by member)."""
    if isinstance(a, dict) and isinstance(b, dict):
        merged = dict(a)
        for key, value in b.items():
            if key == "required":
                merged[key] = sorted(set(a.get(key, [])) | set(value))
            elif key in merged:
                merged[key] = _merge(merged[key], value)
            else:
                merged[key] = value
        return merged
    return b


def flatten(schema: Mapping[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema.get("allOf") or []:
        flat = _merge(flat, flatten(part))
    return flat


def from_schema(schema: Mapping[str, Any], *, plausible: bool = True, extras: bool = False) -> st.SearchStrategy[Any]:
    """Values valid against a (`$ref`-inlined) schema.

    `plausible` keeps lifetimes and timestamps in the range a real server uses; `extras` sometimes adds
    members the schema does not name (allowed unless `additionalProperties: false`).
    """
    validator = compile_schema(dict(schema))
    return _build(dict(schema), plausible, extras).filter(validator.is_valid)


def _build(schema: dict[str, Any], plausible: bool, extras: bool, name: str = "") -> st.SearchStrategy[Any]:
    schema = flatten(schema)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            base = {k: v for k, v in schema.items() if k != key}
            return st.one_of([_build(_merge(base, branch), plausible, extras, name) for branch in schema[key]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([_build({**schema, "type": k}, plausible, extras, name) for k in kind])
    if kind == "object" or (kind is None and "properties" in schema):
        return _object(schema, plausible, extras)
    if kind == "array":
        items = schema.get("items") or {}
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", low + 3))
        return st.lists(_build(dict(items), plausible, extras, name), min_size=low, max_size=max(low, high))
    if kind == "string":
        return _string(schema, plausible and name in TOKEN_FIELDS)
    if kind in ("integer", "number"):
        return _number(schema, kind, plausible, name)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return ANY_JSON


def _object(schema: dict[str, Any], plausible: bool, extras: bool) -> st.SearchStrategy[Any]:
    properties = schema.get("properties") or {}
    required = [n for n in schema.get("required", []) if n in properties]
    optional = [n for n in properties if n not in required]
    fields = {n: _build(dict(properties[n]), plausible, extras, n) for n in properties}
    additional = schema.get("additionalProperties", True)
    allow_extra = extras and additional is not False

    @st.composite
    def draw_object(draw: st.DrawFn) -> dict[str, Any]:
        chosen = required + [n for n in optional if draw(st.booleans())]
        value = {n: draw(fields[n]) for n in chosen}
        for relative, base in RELATIVE_FIELDS.items():
            if plausible and isinstance(value.get(relative), int) and isinstance(value.get(base), int):
                value[relative] = value[base] + draw(st.just(0) | st.integers(1, MAX_LIFETIME))
        if allow_extra:
            extra_value = ANY_JSON if additional is True else _build(dict(additional), plausible, False)
            names = st.text(string.ascii_letters + "_", min_size=1, max_size=12).filter(
                lambda n: n not in properties and n not in RFC6749_MEMBERS
            )
            value.update(draw(st.dictionaries(names, extra_value, max_size=2)))
        return value

    return draw_object()


def _string(schema: dict[str, Any], token: bool = False) -> st.SearchStrategy[str]:
    low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
    fmt = schema.get("format")
    if fmt == "uuid":
        return st.uuids().map(str)
    if fmt == "uri":
        return st.from_regex(r"\Ahttps://[a-z]{1,12}\.example/[a-z0-9/]{0,20}\Z")
    if "pattern" in schema:
        strategy = st.from_regex(schema["pattern"])
        return strategy.filter(lambda s: len(s) >= low and (high is None or len(s) <= high))
    longest = high if high is not None else max(low, 40)
    if token:
        return st.text(_TOKEN_TEXT, min_size=max(low, 1), max_size=longest)
    return st.text(min_size=low, max_size=longest)


def _number(schema: dict[str, Any], kind: str, plausible: bool, name: str) -> st.SearchStrategy[Any]:
    low, high = schema.get("minimum"), schema.get("maximum")
    if "exclusiveMinimum" in schema:
        low = schema["exclusiveMinimum"] + 1
    if "exclusiveMaximum" in schema:
        high = schema["exclusiveMaximum"] - 1
    if plausible and name in LIFETIME_FIELDS:
        low, high = max(low or 1, 1), min(high if high is not None else MAX_LIFETIME, MAX_LIFETIME)
    elif plausible and name in TIMESTAMP_FIELDS | set(RELATIVE_FIELDS):
        low, high = max(low or 1_500_000_000, 1_500_000_000), min(high or 2_500_000_000, 2_500_000_000)
    if kind == "integer":
        return st.integers(
            min_value=None if low is None else math.ceil(low), max_value=None if high is None else math.floor(high)
        )
    return st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)


def media(vendor: str, operation_id: str, status: int) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(media type, body schema, headers object) of a documented response."""
    response = operation(vendor, operation_id).response(status) or {}
    content = response.get("content") or {}
    media_type = next(iter(content), "application/json")
    return media_type, dict((content.get(media_type) or {}).get("schema") or {}), dict(response.get("headers") or {})
