"""Checking the contracts themselves: standard validity, traceability, examples, fixed operationIds."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tokenmock.contracts.loader import HTTP_METHODS, operations, spec
from tokenmock.contracts.register import register
from tokenmock.contracts.validation import compile_schema, describe, first_error

# operationIds the mock, the client and the tests key on (issue 2).
REQUIRED_OPERATIONS = {
    "junctiontv": {"getAccessToken", "getProtectedResource"},
    "clickview": {"requestToken", "getExample", "getOpenIdConfiguration", "getJwks"},
    "vision10": {"getAccessToken", "getProtectedResource", "getJwks"},
    "divetv": {"issueToken", "getProtectedResource"},
    "aminotv": {"loginUser", "exchangeCookieForToken", "getProfileAuthToken", "createAccessToken", "getChannelStreams"},
}


@dataclass(frozen=True)
class Element:
    """A contract element that must say where it comes from."""

    where: str
    node: dict[str, Any]

    @property
    def sourced(self) -> bool:
        return "x-source" in self.node

    @property
    def assumed(self) -> bool:
        return "x-assumption" in self.node


def _schema_elements(schema: Any, where: str) -> Iterator[Element]:
    if not isinstance(schema, dict) or "$ref" in schema:
        return
    for name, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict) and "$ref" not in prop:
            yield Element(f"{where}.{name}", prop)
            yield from _schema_elements(prop, f"{where}.{name}")
    items = schema.get("items")
    if isinstance(items, dict):
        yield from _schema_elements(items, f"{where}[]")
    for key in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(schema.get(key) or []):
            yield from _schema_elements(sub, f"{where}.{key}[{i}]")


def elements(vendor: str) -> Iterator[Element]:
    """Every element that must carry `x-source` or `x-assumption`: info, servers, path items that say
    something, operations, parameters, request bodies, media types, responses, headers, examples, links,
    named schemas and their properties, security schemes."""
    document = spec(vendor)
    if isinstance(document.get("info"), dict):
        yield Element("info", document["info"])
    for i, server in enumerate(document.get("servers") or []):
        yield Element(f"servers[{i}]", server)
    for path, item in (document.get("paths") or {}).items():
        if _has_text(item):  # a path item's own summary or description is a claim like any other
            yield Element(f"path {path}", item)
        for method in HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            at = f"{method.upper()} {path}"
            yield Element(at, op)
            for p in op.get("parameters") or []:
                if "$ref" not in p:
                    yield Element(f"{at} parameter {p.get('name')}", p)
            body = op.get("requestBody")
            if isinstance(body, dict) and "$ref" not in body:
                yield Element(f"{at} requestBody", body)
                for media_type, media in (body.get("content") or {}).items():
                    yield Element(f"{at} request {media_type}", media)
                    for name, ex in (media.get("examples") or {}).items():
                        yield Element(f"{at} request example {name}", ex)
            for status, response in (op.get("responses") or {}).items():
                if "$ref" in response:
                    continue
                yield Element(f"{at} {status}", response)
                for name, header in (response.get("headers") or {}).items():
                    if "$ref" not in header:
                        yield Element(f"{at} {status} header {name}", header)
                for media_type, media in (response.get("content") or {}).items():
                    yield Element(f"{at} {status} {media_type}", media)
                    for name, ex in (media.get("examples") or {}).items():
                        yield Element(f"{at} {status} example {name}", ex)
                for name, link in (response.get("links") or {}).items():
                    if "$ref" not in link:
                        yield Element(f"{at} {status} link {name}", link)
    components = document.get("components") or {}
    for name, schema in (components.get("schemas") or {}).items():
        yield Element(f"schema {name}", schema)
        yield from _schema_elements(schema, f"schema {name}")
    for name, scheme in (components.get("securitySchemes") or {}).items():
        yield Element(f"securityScheme {name}", scheme)
    for kind in ("responses", "headers", "parameters", "requestBodies", "examples"):
        for name, node in (components.get(kind) or {}).items():
            yield Element(f"components.{kind}.{name}", node)


def _has_text(node: Any) -> bool:
    return isinstance(node, dict) and any(isinstance(node.get(key), str) for key in ("summary", "description"))


def trace_counts(vendor: str) -> tuple[int, int]:
    """(sourced, assumed) element counts."""
    found = list(elements(vendor))
    return sum(e.sourced for e in found), sum(e.assumed for e in found)


def example_problems(vendor: str) -> Iterator[str]:
    """Examples (request and response) that do not validate against their own schema."""
    for op in operations(vendor):
        body = op.definition.get("requestBody") or {}
        for media_type, media in (body.get("content") or {}).items():
            validator = compile_schema(media.get("schema") or {})
            for name, ex in (media.get("examples") or {}).items():
                if (error := first_error(validator, ex.get("value"))) is not None:
                    yield f"{op.operation_id} request example {name} ({media_type}): {describe(error)}"
        for name, status, media_type, value in op.examples():
            schema = op.responses[str(status)]["content"][media_type].get("schema") or {}
            if (error := first_error(compile_schema(schema), value)) is not None:
                yield f"{op.operation_id} {status} example {name}: {describe(error)}"


def problems(vendor: str) -> list[str]:
    """Everything wrong with a vendor's contract; empty when it is sound."""
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    found: list[str] = []
    try:
        validate(spec(vendor))
    except OpenAPIValidationError as exc:
        found.append(f"not a valid OpenAPI document: {exc.message}")
        return found
    ops = operations(vendor)
    missing = REQUIRED_OPERATIONS.get(vendor, set()) - {op.operation_id for op in ops}
    if missing:
        found.append(f"missing operationIds: {', '.join(sorted(missing))}")
    for op in ops:
        for status, response in op.responses.items():
            for media_type, media in (response.get("content") or {}).items():
                if not media.get("schema"):
                    found.append(f"{op.operation_id} {status} {media_type} has no schema")
    for element in elements(vendor):
        if element.sourced == element.assumed:
            state = "both x-source and x-assumption" if element.sourced else "neither x-source nor x-assumption"
            found.append(f"{element.where} has {state}")
    found.extend(example_problems(vendor))
    ids = [e.id for e in register(vendor)]
    if len(ids) != len(set(ids)):
        found.append("discrepancy ids are not unique")
    return found
