"""Validating payloads against the contracts, with validators compiled once per schema."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from contracts.errors import Violation
from contracts.loader import operation


def compile_schema(schema: Mapping[str, Any]) -> Draft202012Validator:
    """A validator for an (already `$ref`-inlined) OpenAPI 3.1 schema; `format` is asserted (uuid,
    date-time, ...) because the contracts use it to say what a string must hold."""
    return Draft202012Validator(dict(schema), format_checker=Draft202012Validator.FORMAT_CHECKER)


def pointer(error: ValidationError) -> str:
    """The JSON pointer of the instance location an error is about ("" for the root)."""
    return "".join(f"/{part}" for part in error.absolute_path)


def first_error(validator: Draft202012Validator, instance: Any) -> ValidationError | None:
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
def _response_validator(vendor: str, operation_id: str, status: int, media_type: str) -> Draft202012Validator:
    response = operation(vendor, operation_id).response(status) or {}
    schema = ((response.get("content") or {}).get(media_type) or {}).get("schema", {})
    return compile_schema(schema)


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
        schema = header.get("schema")
        if schema and (error := first_error(compile_schema(schema), value)) is not None:
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
