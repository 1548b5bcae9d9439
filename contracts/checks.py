"""Holding a server to a vendor's contract with schemathesis: every built-in check, every phase.

`run(vendor, app=... | base_url=..., credentials=...)` generates positive and negative requests from the
contract (documented examples, coverage scenarios, fuzzing, stateful chains through the contract's
links), sends them in-process (WSGI) or over HTTP, and returns a `Report` of every failed check.

The pieces: `run_config` (the checks and schemathesis.toml, per vendor), `credentials` (valid credentials
for generated requests, the tokens links carry), `findings` (the `Report` the engine's events fill).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import schemathesis
from schemathesis.config import SchemathesisConfig

from tokenmock.contracts.credentials import (
    MARKER,
    PLANS,
    RUN_IDS,
    TOKEN_RECIPES,
    Plan,
    TokenRecipe,
    provider_for,
    sending_through,
)
from tokenmock.contracts.findings import Finding, Progress, Report, execute
from tokenmock.contracts.loader import inline_refs, operations, read_yaml, resolved_spec
from tokenmock.contracts.run_config import (
    BUILTIN_CHECKS,
    EXCLUDED_CHECKS,
    MAX_RESPONSE_TIME,
    POSITIVE_STATUSES,
    SETTINGS_FILE,
    SKIPPED_OPERATION,
    STRICT_ONLY_CHECKS,
    admin_config,
    config_for,
    form_values_are_strings,
    project_settings,
    without_operations,
)

__all__ = [
    "BUILTIN_CHECKS",
    "EXCLUDED_CHECKS",
    "MAX_RESPONSE_TIME",
    "POSITIVE_STATUSES",
    "SETTINGS_FILE",
    "SKIPPED_OPERATION",
    "STRICT_ONLY_CHECKS",
    "TOKEN_RECIPES",
    "Finding",
    "Progress",
    "Report",
    "TokenRecipe",
    "config_for",
    "form_values_are_strings",
    "project_settings",
    "run",
    "run_admin",
    "token_operations",
    "without_operations",
]


def token_operations(vendor: str) -> tuple[str, ...]:
    """Operations that issue tokens: those whose 200 response links to where the token is used."""
    return tuple(op.operation_id for op in operations(vendor) if (op.responses.get("200") or {}).get("links"))


def run(
    vendor: str,
    *,
    app: Any = None,
    base_url: str | None = None,
    credentials: Mapping[str, str] | None = None,
    max_examples: int = 40,
    seed: int | None = None,
    strict: bool = True,
    workers: int = 1,
    progress: Progress | None = None,
    narrower: bool = False,
    skip: Mapping[str, str] | None = None,
    adapter: Any = None,
    stop: Callable[[], str | None] | None = None,
) -> Report:
    """Run every check in every phase against a server: an in-process WSGI `app`, or `base_url` over HTTP.

    `skip` maps operationIds left out of the run to the reason (reported as skipped); `adapter` (a
    requests transport adapter) sends every request over HTTP (verify's time and size budgets); `stop`,
    asked between events, names a reason to end the run early (verify's run deadline).

    `credentials` are named as the contract names them (`client_id`, `client_secret`, `scope`,
    `client_key`, `username`, `password`, `session`, `profile_id`...). `strict` adds the checks a
    lenient server fails (STRICT_ONLY_CHECKS); `narrower` (see `config_for`) accepts documented refusals
    of valid data from a server that follows a stricter reading than the contract.
    """
    if (app is None) == (base_url is None):
        raise ValueError("give exactly one of app= and base_url=")
    run_id = f"{vendor}-{next(RUN_IDS)}"
    document = {**without_operations(form_values_are_strings(resolved_spec(vendor)), set(skip or {})), MARKER: run_id}
    settings = config_for(
        vendor,
        base_url=base_url,
        max_examples=max_examples,
        seed=seed,
        strict=strict,
        workers=workers,
        narrower=narrower,
    )
    schema = schemathesis.openapi.from_dict(document, config=SchemathesisConfig.from_dict(settings))
    if app is not None:
        schema.app = app
    plan = Plan(vendor, credentials or {}, TOKEN_RECIPES.get(vendor))
    schema.auth(refresh_interval=None)(provider_for(plan))

    @schema.hook
    def after_call(context: schemathesis.HookContext, case: schemathesis.Case, response: Any) -> None:
        plan.remember_link_tokens(case, response)

    PLANS[run_id] = plan
    try:
        with sending_through(adapter):
            report = execute(schema, vendor, progress, stop)
    finally:
        del PLANS[run_id]
    for operation_id, reason in (skip or {}).items():
        op = next(op for op in operations(vendor) if op.operation_id == operation_id)
        report.skipped.append((f"{op.method} {op.path}", SKIPPED_OPERATION, reason))
        report.checks_by_operation[(f"{op.method} {op.path}", SKIPPED_OPERATION)] += 0  # a JUnit case, skipped
    report.link_tokens_used = plan.link_tokens_used
    if plan.token_problem:
        report.errors.append(plan.token_problem)
    return report


def run_admin(
    *,
    app: Any = None,
    base_url: str | None = None,
    admin_token: str | None = None,
    max_examples: int = 40,
    seed: int | None = None,
) -> Report:
    """Every check in every phase of openapi/admin.yaml against a mock's admin API (`base_url` is the
    server root, not `/__mock`; `admin_token` when the mock is configured with one). The run moves the
    mock's clock, arms faults and starts chaos: point it at a mock no one else is using, then reset it."""
    if (app is None) == (base_url is None):
        raise ValueError("give exactly one of app= and base_url=")
    # A schema-valid fault or client can still name a vendor the mock does not serve, or pair a vendor
    # with another vendor's operation, or give a kind parameters out of range: 400, as admin.yaml says.
    # Claims for a vendor not served, or a mint for a client the vendor does not have: 400 too.
    root = f"{base_url.rstrip('/')}/__mock" if base_url is not None else None
    settings = admin_config(["armFault", "addClient", "armClaims", "mintToken"], set(), root, max_examples, seed)
    if admin_token is not None:
        settings["auth"] = {"openapi": {"adminToken": {"bearer": admin_token}}}
    document = inline_refs(read_yaml("admin.yaml"))
    schema = schemathesis.openapi.from_dict(document, config=SchemathesisConfig.from_dict(settings))
    if app is not None:
        schema.app = app
    return execute(schema, "admin")
