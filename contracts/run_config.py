"""A contract run's schemathesis configuration: the checks, `schemathesis.toml` (the file `st run` reads
too) per vendor, the statuses a token operation may answer valid data with, and the copies of a contract
a run sends (form fields as strings, operations left out)."""

from __future__ import annotations

import functools
import json
import tomllib
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from tokenmock.contracts.loader import operations, resolved_spec, vendors

# Every check schemathesis 4 ships; a run enables all of them unless a vendor excludes one below.
BUILTIN_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
    "object_level_authorization",
    "max_response_time",
)

# The project's schemathesis settings, shared with `st run` from the repository root (one source).
SETTINGS_FILE = "schemathesis.toml"


@functools.cache
def project_settings() -> dict[str, Any]:
    """schemathesis.toml as a mapping: the checkout's own file when running from a checkout (so an edit
    takes effect at once), else the copy the wheel ships in tokenmock.contracts."""
    here = Path(__file__).resolve().parent
    checkout = here.parent / SETTINGS_FILE
    if checkout.is_file() and (here.parent / "pyproject.toml").is_file():
        text = checkout.read_text(encoding="utf-8")
    else:
        text = resources.files("tokenmock.contracts").joinpath(SETTINGS_FILE).read_text(encoding="utf-8")
    return tomllib.loads(text)


def _project(vendor: str) -> dict[str, Any]:
    title = (resolved_spec(vendor).get("info") or {}).get("title")
    return next((p for p in project_settings().get("project", []) if p.get("title") == title), {})


def _disabled(checks: Mapping[str, Any]) -> set[str]:
    return {name for name, value in checks.items() if isinstance(value, dict) and value.get("enabled") is False}


# Checks that contradict a documented vendor behaviour, per vendor (schemathesis.toml names the entry).
EXCLUDED_CHECKS: dict[str, dict[str, str]] = {
    vendor: {
        name: f"disabled for {vendor} in {SETTINGS_FILE}" for name in _disabled(_project(vendor).get("checks", {}))
    }
    for vendor in vendors()
    if _disabled(_project(vendor).get("checks", {}))
}

# Checks that need the server to refuse everything the contract does not allow. A lenient server (the
# mock's default readings, many real servers) accepts more than the contract's strict reading.
STRICT_ONLY_CHECKS = frozenset(_disabled(project_settings().get("checks", {})))
MAX_RESPONSE_TIME = float(project_settings()["checks"]["max_response_time"])

# The check name under which an operation left out of a run (`skip`) is reported.
SKIPPED_OPERATION = "all phases"

# schemathesis' default acceptance statuses for schema-valid requests.
POSITIVE_STATUSES = ("2xx", "3xx", "401", "403", "404", "409", "429", "5xx")
FORM = "application/x-www-form-urlencoded"


def without_operations(document: dict[str, Any], operation_ids: set[str]) -> dict[str, Any]:
    """A copy of a (`$ref`-inlined) contract without the named operations (and paths left empty)."""
    if not operation_ids:
        return document
    copy: dict[str, Any] = json.loads(json.dumps(document))
    for path, item in list((copy.get("paths") or {}).items()):
        for method, op in list(item.items()):
            if isinstance(op, dict) and op.get("operationId") in operation_ids:
                del item[method]
        if not any(isinstance(op, dict) and "operationId" in op for op in item.values()):
            del copy["paths"][path]
    for item in (copy.get("paths") or {}).values():  # and the links that lead to them
        for op in item.values():
            for response in ((op.get("responses") or {}) if isinstance(op, dict) else {}).values():
                links = response.get("links") if isinstance(response, dict) else None
                if isinstance(links, dict):
                    for name in [n for n, link in links.items() if link.get("operationId") in operation_ids]:
                        del links[name]
                    if not links:
                        del response["links"]
    return copy


def form_values_are_strings(document: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a (`$ref`-inlined) contract whose form bodies take extra fields as strings only.

    The contracts leave extra fields unconstrained (RFC 6749 §3.2: servers ignore unknown parameters),
    so schemathesis draws arrays for them, which a form can only carry as a repeated parameter, and
    RFC 6749 §3.2 forbids repeating one (the mock answers 400). A form field is a single string anyway.
    """
    copy: dict[str, Any] = json.loads(json.dumps(document))
    for item in (copy.get("paths") or {}).values():
        for op in item.values():
            content = ((op.get("requestBody") or {}) if isinstance(op, dict) else {}).get("content") or {}
            schema = (content.get(FORM) or {}).get("schema")
            if isinstance(schema, dict) and "additionalProperties" not in schema:
                schema["additionalProperties"] = {"type": "string"}
    return copy


def config_for(
    vendor: str,
    *,
    base_url: str | None = None,
    max_examples: int = 40,
    seed: int | None = None,
    strict: bool = True,
    workers: int = 1,
    narrower: bool = False,
) -> dict[str, Any]:
    """A run's schemathesis configuration: schemathesis.toml (the vendor's `[[project]]` included, its
    demo `auth` and `parameters` left out: a run brings its own credentials) plus the run's own values.

    `narrower`: the server follows a stricter reading of some register entry than the contract encodes
    (DIVE-01 strict takes JSON only where the contract also allows a form), so it may refuse a request
    the contract allows; with any 4xx, which status_code_conformance still holds to the documented ones."""
    config: dict[str, Any] = json.loads(json.dumps(project_settings()))
    config["project"] = [
        {key: value for key, value in project.items() if key != "auth"}
        for project in config.get("project", [])
        if project.get("title") == (resolved_spec(vendor).get("info") or {}).get("title")
    ]
    for project in config["project"]:  # nor its demo values for parameters: a run brings its credentials
        for entry in project.get("operations", []):
            entry.pop("parameters", None)
        if "operations" in project:  # an entry left with its filters only is an error to schemathesis
            project["operations"] = [e for e in project["operations"] if set(e) - {"include-operation-id"}]
    config["workers"] = workers
    config.setdefault("generation", {})["max-examples"] = max_examples
    if seed is not None:
        config["seed"] = seed
        config["generation"]["deterministic"] = True
    if base_url is not None:
        config["base-url"] = base_url
    if strict:
        for name in STRICT_ONLY_CHECKS:
            config["checks"][name] = {"enabled": True}
    if narrower:
        for project in config["project"]:
            listed = {op for entry in project.get("operations", []) for op in entry.get("include-operation-id", [])}
            rest = [op.operation_id for op in operations(vendor) if op.operation_id not in listed]
            project.setdefault("operations", [])
            if rest:
                acceptance = {"positive_data_acceptance": {"expected-statuses": list(POSITIVE_STATUSES)}}
                project["operations"].append({"include-operation-id": rest, "checks": acceptance})
            for entry in project["operations"]:
                check = entry.setdefault("checks", {}).setdefault("positive_data_acceptance", {})
                check["expected-statuses"] = [*check.get("expected-statuses", POSITIVE_STATUSES), "4xx"]
    return config


def admin_config(
    refusing: Iterable[str],
    excluded: set[str],
    base_url: str | None,
    max_examples: int,
    seed: int | None,
    workers: int = 1,
) -> dict[str, Any]:
    """Every phase, every check but `excluded`; the `refusing` operations may answer valid data 400."""
    checks: dict[str, Any] = {name: {"enabled": name not in excluded} for name in BUILTIN_CHECKS}
    checks["max_response_time"] = MAX_RESPONSE_TIME
    config: dict[str, Any] = {
        "workers": workers,
        "generation": {"mode": "all", "max-examples": max_examples},
        "phases": {name: {"enabled": True} for name in ("examples", "coverage", "fuzzing", "stateful")},
        "checks": checks,
    }
    if seed is not None:
        config["seed"] = seed
        config["generation"]["deterministic"] = True
    if base_url is not None:
        config["base-url"] = base_url
    if refusing := list(refusing):
        config["operations"] = [
            {
                "include-operation-id": refusing,
                "checks": {"positive_data_acceptance": {"expected-statuses": [*POSITIVE_STATUSES, "400"]}},
            }
        ]
    return config
