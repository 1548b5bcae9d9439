"""Validating payloads against the contracts, with validators compiled once per schema.

`compile_fast` adds a second compilation for hot paths: the schema's keywords turned into plain Python
checks (closures over sets, compiled regexes and `len`), which answer "valid?" many times faster than
jsonschema's generic walk. It covers the keywords the contracts use; a schema with any other
validation keyword is checked by jsonschema alone. Errors are always found and described by
jsonschema, so messages do not depend on which path said "invalid".
"""

from __future__ import annotations

import functools
import json
import numbers
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

try:  # jsonschema's own equality for enum/const (1 != True, nested values compared by value)
    from jsonschema._utils import equal as _json_equal
except ImportError:  # pragma: no cover - a jsonschema without it: enum and const go to jsonschema
    _json_equal = None

from tokenmock.contracts.errors import Violation
from tokenmock.contracts.loader import operation


def compile_schema(schema: Mapping[str, Any]) -> Draft202012Validator:
    """A validator for an (already `$ref`-inlined) OpenAPI 3.1 schema; `format` is asserted (uuid,
    date-time, ...) because the contracts use it to say what a string must hold."""
    return Draft202012Validator(dict(schema), format_checker=Draft202012Validator.FORMAT_CHECKER)


Check = Callable[[Any], bool]

# Keywords that only annotate: jsonschema ignores them when validating, and so does the fast check.
_VALIDATION_KEYWORDS = frozenset(Draft202012Validator.VALIDATORS)
_SIMPLE_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "object": dict,
    "array": list,
    "boolean": bool,
    "null": type(None),
}


class FastSchema:
    """A schema compiled twice: a fast predicate for `is_valid`, jsonschema for `iter_errors`."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.validator = compile_schema(schema)
        self.schema = self.validator.schema
        check = _compile(self.schema, self.validator)
        self.compiled = check is not None
        self.is_valid: Check = check if check is not None else self.validator.is_valid

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]:
        """Every error, from jsonschema (the reference)."""
        return self.validator.iter_errors(instance)


def compile_fast(schema: Mapping[str, Any]) -> FastSchema:
    """A `FastSchema` for an (already `$ref`-inlined) OpenAPI 3.1 schema; same verdicts as `compile_schema`."""
    return FastSchema(schema)


def _compile(schema: Any, validator: Draft202012Validator) -> Check | None:
    """Plain checks for one schema (and its subschemas), or None if it uses a keyword not covered here."""
    if schema is True:
        return _always
    if schema is False:
        return _never
    if not isinstance(schema, Mapping):
        return None
    checks: list[Check] = []
    for keyword, value in schema.items():
        if keyword not in _VALIDATION_KEYWORDS:
            continue  # description, x-source, examples...: annotations
        build = _KEYWORDS.get(keyword)
        check = build(value, schema, validator) if build is not None else None
        if check is None:
            return None
        checks.append(check)
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    return lambda instance: all(check(instance) for check in checks)


def _always(instance: Any) -> bool:
    return True


def _never(instance: Any) -> bool:
    return False


def _type(value: Any, schema: Mapping[str, Any], validator: Draft202012Validator) -> Check | None:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return None
    if all(n in _SIMPLE_TYPES for n in names):
        # No simple type is a superclass of bool except bool itself, so isinstance is exact here;
        # "integer" and "number" (where bool must not count) go through jsonschema's type checker.
        classes = tuple(_SIMPLE_TYPES[n] for n in names)
        return lambda instance: isinstance(instance, classes)
    is_type = validator.is_type
    return lambda instance: any(is_type(instance, n) for n in names)


def _properties(value: Any, schema: Mapping[str, Any], validator: Draft202012Validator) -> Check | None:
    if not isinstance(value, Mapping):
        return None
    compiled = []
    for name, subschema in value.items():
        check = _compile(subschema, validator)
        if check is None:
            return None
        if check is not _always:
            compiled.append((name, check))
    pairs = tuple(compiled)

    def properties(instance: Any) -> bool:
        if not isinstance(instance, dict):
            return True
        return all(name not in instance or check(instance[name]) for name, check in pairs)

    return properties


def _required(value: Any, schema: Mapping[str, Any], validator: Draft202012Validator) -> Check | None:
    if not isinstance(value, list):
        return None
    names = tuple(value)
    return lambda instance: not isinstance(instance, dict) or all(n in instance for n in names)


def _additional(value: Any, schema: Mapping[str, Any], validator: Draft202012Validator) -> Check | None:
    if "patternProperties" in schema:
        return None
    known = frozenset(schema.get("properties") or {})
    if value is False:
        return lambda instance: not isinstance(instance, dict) or all(k in known for k in instance)
    check = _compile(value, validator)
    if check is None:
        return None
    return lambda instance: not isinstance(instance, dict) or all(
        check(v) for k, v in instance.items() if k not in known
    )


def _length(limit: Any, longest: bool) -> Check | None:
    if isinstance(limit, bool) or not isinstance(limit, int):
        return None
    if longest:
        return lambda instance: not isinstance(instance, str) or len(instance) <= limit
    return lambda instance: not isinstance(instance, str) or len(instance) >= limit


def _pattern(value: Any, schema: Mapping[str, Any], validator: Draft202012Validator) -> Check | None:
    if not isinstance(value, str):
        return None
    search = re.compile(value).search
    return lambda instance: not isinstance(instance, str) or search(instance) is not None


def _format(value: Any, schema: Mapping[str, Any], validator: Draft202012Validator) -> Check | None:
    checker = validator.format_checker
    if checker is None:
        return _always
    conforms = checker.conforms
    return lambda instance: conforms(instance, value)


def _enum(value: Any, schema: Mapping[str, Any], validator: Draft202012Validator) -> Check | None:
    if not isinstance(value, list) or _json_equal is None:
        return None
    equal = _json_equal
    if all(isinstance(v, str) for v in value):
        strings = frozenset(value)
        return lambda instance: isinstance(instance, str) and instance in strings
    options = tuple(value)
    return lambda instance: any(equal(option, instance) for option in options)


def _const(value: Any, schema: Mapping[str, Any], validator: Draft202012Validator) -> Check | None:
    if _json_equal is None:
        return None
    equal = _json_equal
    return lambda instance: equal(instance, value)


def _combined(value: Any, validator: Draft202012Validator) -> tuple[Check, ...] | None:
    if not isinstance(value, list) or not value:
        return None
    checks = [_compile(subschema, validator) for subschema in value]
    return None if any(c is None for c in checks) else tuple(c for c in checks if c is not None)


def _any_of(value: Any, schema: Mapping[str, Any], validator: Draft202012Validator) -> Check | None:
    checks = _combined(value, validator)
    return None if checks is None else lambda instance: any(check(instance) for check in checks)


def _all_of(value: Any, schema: Mapping[str, Any], validator: Draft202012Validator) -> Check | None:
    checks = _combined(value, validator)
    return None if checks is None else lambda instance: all(check(instance) for check in checks)


def _items(value: Any, schema: Mapping[str, Any], validator: Draft202012Validator) -> Check | None:
    if "prefixItems" in schema:
        return None
    check = _compile(value, validator)
    if check is None:
        return None
    return lambda instance: not isinstance(instance, list) or all(check(item) for item in instance)


def _count(limit: Any, most: bool) -> Check | None:
    if isinstance(limit, bool) or not isinstance(limit, int):
        return None
    if most:
        return lambda instance: not isinstance(instance, list) or len(instance) <= limit
    return lambda instance: not isinstance(instance, list) or len(instance) >= limit


def _bound(limit: Any, compare: Callable[[Any, Any], bool]) -> Check | None:
    if isinstance(limit, bool) or not isinstance(limit, int | float):
        return None

    def bound(instance: Any) -> bool:
        if isinstance(instance, bool) or not isinstance(instance, numbers.Number):
            return True
        return compare(instance, limit)

    return bound


_Builder = Callable[[Any, Mapping[str, Any], Draft202012Validator], Check | None]
_KEYWORDS: dict[str, _Builder] = {
    "type": _type,
    "properties": _properties,
    "required": _required,
    "additionalProperties": _additional,
    "minLength": lambda value, schema, validator: _length(value, longest=False),
    "maxLength": lambda value, schema, validator: _length(value, longest=True),
    "pattern": _pattern,
    "format": _format,
    "enum": _enum,
    "const": _const,
    "anyOf": _any_of,
    "allOf": _all_of,
    "items": _items,
    "minItems": lambda value, schema, validator: _count(value, most=False),
    "maxItems": lambda value, schema, validator: _count(value, most=True),
    "minimum": lambda value, schema, validator: _bound(value, lambda a, b: a >= b),
    "maximum": lambda value, schema, validator: _bound(value, lambda a, b: a <= b),
    "exclusiveMinimum": lambda value, schema, validator: _bound(value, lambda a, b: a > b),
    "exclusiveMaximum": lambda value, schema, validator: _bound(value, lambda a, b: a < b),
}


def pointer(error: ValidationError) -> str:
    """The JSON pointer of the instance location an error is about ("" for the root)."""
    return "".join(f"/{part}" for part in error.absolute_path)


def first_error(validator: Draft202012Validator | FastSchema, instance: Any) -> ValidationError | None:
    """The most relevant error for an instance, or None when it is valid (the fast path)."""
    if validator.is_valid(instance):
        return None
    return best_match(validator.iter_errors(instance))


def describe(error: ValidationError) -> str:
    """A message for a schema error that never repeats the offending value (it may be a secret)."""
    rule, expected = error.validator, error.validator_value
    if rule == "required":
        missing = [name for name in expected if isinstance(error.instance, dict) and name not in error.instance]
        return f"{', '.join(missing) or 'a field'} is required"
    messages = {
        "type": f"must be of type {expected}",
        "maxLength": f"must be at most {expected} characters long",
        "minLength": f"must be at least {expected} characters long",
        "enum": f"must be one of {expected}",
        "const": f"must be {expected!r}",
        "pattern": "does not have the expected format",
        "format": f"must be a valid {expected}",
        "minimum": f"must be at least {expected}",
        "maximum": f"must be at most {expected}",
        "exclusiveMinimum": f"must be more than {expected}",
        "exclusiveMaximum": f"must be less than {expected}",
        "minItems": f"must have at least {expected} items",
        "maxItems": f"must have at most {expected} items",
        "additionalProperties": "has properties the contract does not allow",
        "anyOf": "matches none of the allowed shapes",
        "oneOf": "must match exactly one of the allowed shapes",
    }
    return messages.get(str(rule), f"breaks the {rule} rule")


def media_type_of(content_type: str | None) -> str:
    """`application/json; charset=utf-8` -> `application/json`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


@functools.cache
def _response_validator(vendor: str, operation_id: str, status: int, media_type: str) -> FastSchema:
    response = operation(vendor, operation_id).response(status) or {}
    schema = ((response.get("content") or {}).get(media_type) or {}).get("schema", {})
    return compile_fast(schema)


@functools.cache
def _header_validator(vendor: str, operation_id: str, status: int, name: str) -> FastSchema:
    response = operation(vendor, operation_id).response(status) or {}
    return compile_fast(((response.get("headers") or {}).get(name) or {}).get("schema") or {})


def validate_response(
    vendor: str,
    operation_id: str,
    status: int,
    payload: Any,
    headers: Mapping[str, str] | None = None,
    content_type: str | None = None,
) -> None:
    """Check a response against the contract; raise `Violation` naming the field and the rule broken.

    `payload` is the decoded body (or raw `str`/`bytes`, which is decoded as JSON when the contract
    documents a JSON body). `content_type` defaults to the `Content-Type` in `headers`, if any.
    Headers are checked only when `headers` is given.
    """
    op = operation(vendor, operation_id)

    def violation(rule: str, message: str, field: str = "") -> Violation:
        return Violation(message, vendor=vendor, operation_id=operation_id, rule=rule, field=field, status=status)

    response = op.response(status)
    if response is None:
        documented = ", ".join(map(str, op.statuses))
        raise violation("status_code", f"status {status} is not documented (documented: {documented})")

    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    for name, header in (response.get("headers") or {}).items() if headers is not None else ():
        value = lowered.get(name.lower())
        if value is None:
            if header.get("required"):
                raise violation("required_header", f"header {name} is required", f"header:{name}")
            continue
        validator = _header_validator(vendor, operation_id, status, name) if header.get("schema") else None
        if validator is not None and (error := first_error(validator, value)) is not None:
            raise violation(f"header_{error.validator}", describe(error), f"header:{name}")

    content = response.get("content") or {}
    if not content:
        return
    media_type = media_type_of(content_type or lowered.get("content-type"))
    if not media_type:
        media_type = next(iter(content))
    elif media_type not in content:
        raise violation("content_type", f"content type {media_type!r} is not one of {', '.join(content)}")
    if isinstance(payload, bytes | str) and "json" in media_type:
        try:
            payload = json.loads(payload)
        except ValueError as exc:
            raise violation("json", f"body is not valid JSON: {exc}") from None
    error = first_error(_response_validator(vendor, operation_id, status, media_type), payload)
    if error is not None:
        raise violation(str(error.validator), describe(error), pointer(error))
