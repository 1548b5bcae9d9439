"""Payloads broken in one known way, for the hostile replies: a member of the wrong type, a required
member missing, an absurd number, a wrong shape, an unusable token."""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from tokenmock.contracts.schema_values import (
    ANY_JSON,
    LIFETIME_FIELDS,
    RELATIVE_FIELDS,
    flatten,
    media,
    resolve_pointer,
)

_ABSURD_NUMBERS = (-1, 0, -(2**31), 10**12, 2**64, 10**30)
UNUSABLE_TOKENS = ("tok\u0100en", "tok\nen", "tok en", "\u00e9t\u00e9", "")


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every member path of a JSON value (not the root)."""
    found: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


def _pointer(path: tuple[Any, ...]) -> str:
    return "".join(f"/{str(p).replace('~', '~0').replace('/', '~1')}" for p in path)


def path_of(pointer: str) -> tuple[Any, ...]:
    parts = filter(None, pointer.split("/"))
    return tuple(int(p) if p.isdigit() else p.replace("~1", "/").replace("~0", "~") for p in parts)


def edited(value: Any, path: tuple[Any, ...], new: Any = None, *, delete: bool = False) -> Any:
    """A copy of a JSON value with the member at `path` replaced (or deleted)."""
    copy = json.loads(json.dumps(value))
    node = copy
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = new
    return copy


def required_paths(schema: Mapping[str, Any], prefix: tuple[Any, ...] = ()) -> set[tuple[Any, ...]]:
    """Paths of required members, through required objects and the first item of non-empty arrays."""
    schema = flatten(schema)
    found: set[tuple[Any, ...]] = set()
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict) and schema.get("minItems", 0) > 0:
        found |= required_paths(schema["items"], (*prefix, 0))
    for name in schema.get("required", []):
        child = (schema.get("properties") or {}).get(name)
        found.add((*prefix, name))
        if isinstance(child, dict):
            found |= required_paths(child, (*prefix, name))
    return found


def _named(schema: Mapping[str, Any], path: tuple[Any, ...]) -> bool:
    """Whether the schema names the member at `path` (extra members it does not name take any type)."""
    node: Any = flatten(schema)
    for key in path:
        node = node.get("items") if isinstance(key, int) else (node.get("properties") or {}).get(key)
        if not isinstance(node, dict):
            return False
        node = flatten(node)
    return True


def _other_type(current: Any) -> st.SearchStrategy[Any]:
    """A value of another JSON type than `current` (never a whole float standing in for an integer)."""
    options: list[st.SearchStrategy[Any]] = [st.none(), st.lists(st.integers(), max_size=2), st.just({"value": 1})]
    if not isinstance(current, str):
        options.append(st.text(max_size=8))
    if isinstance(current, str) or current is None or isinstance(current, list | dict):
        options.append(st.integers())
    if not isinstance(current, bool):
        options.append(st.booleans())
    if isinstance(current, int) and not isinstance(current, bool):
        options.append(st.just(3600.5))  # a fraction where an integer belongs (a whole float would pass)
    return st.one_of(options).filter(lambda v: type(v) is not type(current))


def broken_payloads(
    vendor: str, operation_id: str, defect: str, valid: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """A valid 200 payload with one defect (sometimes with extra members on top, which are allowed)."""
    _, schema, _ = media(vendor, operation_id, 200)
    required = required_paths(schema)
    # The lifetime a client reads (the first resource of an envelope, not a second one).
    lifetimes = [p for p in required if p[-1] in LIFETIME_FIELDS | set(RELATIVE_FIELDS)]

    @st.composite
    def draw_payload(draw: st.DrawFn) -> Any:
        payload = draw(valid)
        present = _paths(payload)
        if defect == "wrong_type":
            path = draw(st.sampled_from([p for p in present if _named(schema, p)]))
            payload = edited(payload, path, draw(_other_type(resolve_pointer(payload, _pointer(path)))))
        elif defect == "missing_field":
            payload = edited(payload, draw(st.sampled_from([p for p in present if p in required])), delete=True)
        elif defect == "absurd_number":
            path = draw(st.sampled_from(lifetimes))
            base_name = RELATIVE_FIELDS.get(path[-1])
            base = resolve_pointer(payload, _pointer((*path[:-1], base_name))) if base_name else 0
            # A relative timestamp at or before its base means "no stated lifetime" (AMINO-03), not absurd.
            numbers = [n for n in _ABSURD_NUMBERS if n > 0 or base_name is None]
            payload = edited(payload, path, base + draw(st.sampled_from(numbers)))
        else:
            payload = draw(st.sampled_from([[], [payload], "token", 42, None, True]))
        if isinstance(payload, dict) and draw(st.booleans()):
            extra = st.dictionaries(st.text(string.ascii_lowercase, min_size=1, max_size=6), ANY_JSON, max_size=2)
            payload = {**draw(extra), **payload}
        return payload

    return draw_payload()
