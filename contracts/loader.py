"""Loading the contracts: each vendor's OpenAPI document read once, `$ref`s inlined, operations indexed."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from tokenmock.contracts.errors import SpecProblem

try:  # the C loader is several times faster; fall back where libyaml is absent
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def read_yaml(name: str) -> Any:
    """Read a YAML file shipped in the `openapi` package (e.g. `clickview.yaml`)."""
    path = resources.files("tokenmock.openapi").joinpath(name)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - a safe loader
    except FileNotFoundError as exc:
        raise SpecProblem(f"no contract file openapi/{name}") from exc
    except yaml.YAMLError as exc:
        raise SpecProblem(f"openapi/{name} is not valid YAML: {exc}") from exc


@functools.cache
def _documents() -> dict[str, Any]:
    """Every YAML document of the `openapi` package by file name, parsed once (finding the vendors
    needs them all parsed; `spec()` then reuses them instead of parsing each again at start-up)."""
    entries = sorted(resources.files("tokenmock.openapi").iterdir(), key=lambda e: e.name)
    return {entry.name: read_yaml(entry.name) for entry in entries if entry.name.endswith(".yaml")}


@functools.cache
def _spec_files() -> dict[str, str]:
    """Map vendor id -> file name, for every document whose `info.x-vendor` names a vendor."""
    found: dict[str, str] = {}
    for name, document in _documents().items():
        vendor = (document.get("info") or {}).get("x-vendor") if isinstance(document, dict) else None
        if vendor:
            found[vendor] = name
    return found


def vendors() -> tuple[str, ...]:
    """The vendor ids that have a contract, in a stable order."""
    order = ("junctiontv", "clickview", "vision10", "divetv", "aminotv")
    known = _spec_files()
    return tuple(v for v in order if v in known) + tuple(sorted(set(known) - set(order)))


def spec_text(vendor: str) -> str:
    """The vendor's contract file as written (for serving it)."""
    return resources.files("tokenmock.openapi").joinpath(_file_of(vendor)).read_text(encoding="utf-8")


def _file_of(vendor: str) -> str:
    try:
        return _spec_files()[vendor]
    except KeyError:
        raise SpecProblem(f"unknown vendor {vendor!r}; known: {', '.join(vendors())}") from None


@functools.cache
def spec(vendor: str) -> dict[str, Any]:
    """The vendor's OpenAPI document as written (with `$ref`s). Cached: treat it as read-only."""
    return _documents()[_file_of(vendor)]


def inline_refs(document: Any) -> Any:
    """Return a copy of `document` with every local `$ref` replaced by its target (no cycles allowed)."""

    def target(ref: str) -> Any:
        if not ref.startswith("#/"):
            raise SpecProblem(f"only local $refs are supported, got {ref!r}")
        node = document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            try:
                node = node[part]
            except (KeyError, TypeError):
                raise SpecProblem(f"$ref {ref!r} points nowhere") from None
        return node

    def walk(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                if ref in seen:
                    raise SpecProblem(f"recursive $ref {ref!r}")
                siblings = {k: walk(v, seen) for k, v in node.items() if k != "$ref"}
                resolved = walk(target(ref), (*seen, ref))
                return {**resolved, **siblings} if isinstance(resolved, dict) else resolved
            return {k: walk(v, seen) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, seen) for v in node]
        return node

    return walk(document, ())


@functools.cache
def resolved_spec(vendor: str) -> dict[str, Any]:
    """The vendor's document with every `$ref` inlined, for validators and generators."""
    return inline_refs(spec(vendor))


@dataclass(frozen=True)
class Operation:
    """One operation of a contract, with `$ref`s inlined, and the questions asked of it."""

    vendor: str
    operation_id: str
    method: str
    path: str
    definition: Mapping[str, Any] = field(repr=False)
    security_schemes: Mapping[str, Any] = field(repr=False)

    @property
    def mock_only(self) -> bool:
        """True for endpoints the vendor does not document and only the mock serves."""
        return bool(self.definition.get("x-mock-only"))

    @property
    def parameters(self) -> list[dict[str, Any]]:
        """The operation's parameters (path-level ones merged in)."""
        return list(self.definition.get("parameters", []))

    @property
    def responses(self) -> Mapping[str, Any]:
        """Response objects keyed by status as written in the contract ("200", "4XX", "default")."""
        return self.definition.get("responses", {})

    @property
    def statuses(self) -> tuple[int, ...]:
        """The documented numeric statuses."""
        return tuple(sorted(int(s) for s in self.responses if s.isdigit()))

    def response(self, status: int) -> Mapping[str, Any] | None:
        """The response object for a status: exact, then `4XX`-style range, then `default`."""
        table = self.responses
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            if key in table:
                return table[key]
        return None

    @property
    def request_media_types(self) -> tuple[str, ...]:
        """Content types the request body may use (empty when there is no body)."""
        body = self.definition.get("requestBody") or {}
        return tuple(body.get("content", {}))

    @property
    def body_required(self) -> bool:
        """Whether a request body is required."""
        return bool((self.definition.get("requestBody") or {}).get("required"))

    def body_schema(self, media_type: str) -> Mapping[str, Any] | None:
        """The request body schema for a content type."""
        content = (self.definition.get("requestBody") or {}).get("content", {})
        media = content.get(media_type)
        return None if media is None else media.get("schema", {})

    @property
    def security(self) -> list[dict[str, Any]]:
        """The security requirement alternatives, each mapping scheme name -> scheme object."""
        requirements = self.definition.get("security", [])
        return [{name: self.security_schemes.get(name, {}) for name in alt} for alt in requirements]

    def examples(self) -> Iterator[tuple[str, int, str, Any]]:
        """Every named response example: (name, status, media type, value)."""
        for status, response in self.responses.items():
            if not status.isdigit():
                continue
            for media_type, media in (response.get("content") or {}).items():
                for name, example in (media.get("examples") or {}).items():
                    if isinstance(example, dict) and "value" in example:
                        yield name, int(status), media_type, example["value"]


@functools.cache
def _operations(vendor: str) -> dict[str, Operation]:
    document = resolved_spec(vendor)
    schemes = (document.get("components") or {}).get("securitySchemes", {})
    global_security = document.get("security", [])
    found: dict[str, Operation] = {}
    for path, item in (document.get("paths") or {}).items():
        shared_params = item.get("parameters", [])
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is None:
                continue
            op_id = op.get("operationId")
            if not op_id:
                raise SpecProblem(f"{vendor}: {method.upper()} {path} has no operationId")
            if op_id in found:
                raise SpecProblem(f"{vendor}: operationId {op_id!r} is used twice")
            merged = dict(op)
            own = {(p.get("in"), p.get("name")) for p in op.get("parameters", [])}
            merged["parameters"] = [
                *op.get("parameters", []),
                *(p for p in shared_params if (p.get("in"), p.get("name")) not in own),
            ]
            merged.setdefault("security", global_security)
            found[op_id] = Operation(vendor, op_id, method.upper(), path, merged, schemes)
    return found


def operations(vendor: str) -> tuple[Operation, ...]:
    """Every operation of a vendor's contract."""
    return tuple(_operations(vendor).values())


def operation(vendor: str, operation_id: str) -> Operation:
    """One operation by vendor and operationId."""
    try:
        return _operations(vendor)[operation_id]
    except KeyError:
        known = ", ".join(_operations(vendor))
        raise SpecProblem(f"{vendor} has no operation {operation_id!r}; known: {known}") from None
