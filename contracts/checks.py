"""Holding a server to a vendor's contract with schemathesis: every built-in check, every phase.

`run(vendor, app=... | base_url=..., credentials=...)` generates positive and negative requests from the
contract (documented examples, coverage scenarios, fuzzing, stateful chains through the contract's
links), sends them in-process (WSGI) or over HTTP, and returns a `Report` of every failed check.

Generated credentials are random, so every request would stop at 401 and the handlers behind
authentication would never run. A run therefore supplies valid ones: HTTP Basic, bearer tokens and
session cookies through an auth provider (a token a link carried is kept, so chains stay chains; other
requests get one token fetched with the vendor's `TokenRecipe`); body fields and parameters named like a
credential (`client_id`, `password`, `profile_id`...) through a `before_call` hook, only where the
generated value is itself valid, so negative cases stay negative, and not for one valid value in five,
so refused credentials are exercised too.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import json
import re
import string
import threading
import time
import tomllib
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

from tokenmock.contracts.loader import Operation, inline_refs, operations, read_yaml, resolved_spec, vendors
from tokenmock.contracts.reproducible import own_constants_only
from tokenmock.contracts.validation import compile_schema

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

# schemathesis' default acceptance statuses for schema-valid requests.
POSITIVE_STATUSES = ("2xx", "3xx", "401", "403", "404", "409", "429", "5xx")
FORM = "application/x-www-form-urlencoded"
_MD5_HEX = re.compile(r"[0-9a-fA-F]{32}")


def _md5_unless_digest(password: str) -> str:
    return password if _MD5_HEX.fullmatch(password) else hashlib.md5(password.encode()).hexdigest()  # noqa: S324 - Dive's documented password digest


@dataclass(frozen=True)
class TokenRecipe:
    """How to get an access token with a vendor's credentials, for its bearer-protected operations.

    Values are templates over the credentials (`"{client_id}"`); `pointer` locates the access token in
    the 200 body, as the contract's links do; `wire` transforms credentials before they are sent.
    """

    operation_id: str
    pointer: str
    body: Mapping[str, str] = field(default_factory=dict)
    media_type: str | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    # (user, password) templates for RFC 7617 Basic, or one template sent after "Basic " as written
    basic: tuple[str, str] | str | None = None
    wire: Mapping[str, Callable[[str], str]] = field(default_factory=dict)

    def names(self) -> set[str]:
        """The credential names the recipe needs."""
        basic = (self.basic,) if isinstance(self.basic, str) else (self.basic or ())
        templates = [*self.body.values(), *self.query.values(), *basic]
        return {name for t in templates for _, name, _, _ in string.Formatter().parse(t) if name}


TOKEN_RECIPES: dict[str, TokenRecipe] = {
    "junctiontv": TokenRecipe(
        "getAccessToken", "/access_token", media_type=FORM, basic=("{client_id}", "{client_secret}")
    ),
    "clickview": TokenRecipe(
        "requestToken",
        "/access_token",
        body={
            "grant_type": "client_credentials",
            "client_id": "{client_id}",
            "client_secret": "{client_secret}",
            "scope": "{scope}",
        },
        media_type=FORM,
    ),
    "vision10": TokenRecipe(
        "getAccessToken",
        "/access_token",
        body={
            "grant_type": "client_credentials",
            "scope": "{scope}",
            "client_id": "{client_id}",
            "client_secret": "{client_secret}",
        },
        media_type="application/json",
    ),
    "divetv": TokenRecipe(
        "issueToken",
        "/access_token",
        body={"username": "{username}", "password": "{password}"},
        media_type="application/json",
        query={"grant_type": "device_credentials"},
        # `Basic {client_key}` as the document writes it: accepted under both readings of DIVE-02.
        basic="{client_key}",
        wire={"password": _md5_unless_digest},
    ),
    "aminotv": TokenRecipe(
        "loginUser",
        "/data/0/attributes/access_token",
        body={"username": "{username}", "password": "{password}"},
        # JSON:API's own media type: accepted under both readings of AMINO-07.
        media_type="application/vnd.api+json",
    ),
}


@dataclass(frozen=True)
class Finding:
    """One failed check: where, which rule, what was wrong, and the curl line(s) that reproduce it."""

    vendor: str
    operation: str
    check: str
    title: str
    message: str
    status: int | None
    curl: str
    phase: str

    @property
    def rule(self) -> str:
        """`check: title`, the name a reader looks up."""
        return f"{self.check}: {self.title}"


@dataclass
class Report:
    """What a run found, and what it covered (so a test can show the handlers were reached)."""

    vendor: str
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # (operationId, phase, status) -> responses
    responses: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    # operationIds of a stateful chain whose every step answered 2xx -> times seen
    chains: Counter[tuple[str, ...]] = field(default_factory=Counter)
    checks_run: Counter[str] = field(default_factory=Counter)
    # (operation label, check) -> times the check ran
    checks_by_operation: Counter[tuple[str, str]] = field(default_factory=Counter)
    # requests that carried a token a link extracted (rather than the run's own token)
    link_tokens_used: int = 0
    elapsed: float = 0.0
    # checks that could not run against this server: (operation, check, reason)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    # phase -> checks run in it (the summary table)
    checks_by_phase: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        """No failed check and no error."""
        return not self.findings and not self.errors

    def statuses(self, operation_id: str) -> set[int]:
        """Every status an operation answered during the run."""
        return {status for (op, _, status) in self.responses if op == operation_id}

    def summary(self) -> str:
        """Readable text: one block per finding (operation, rule, message, curl), then the errors."""
        lines: list[str] = []
        for f in self.findings:
            status = f" (HTTP {f.status})" if f.status is not None else ""
            lines += [f"[{f.vendor}] {f.operation}: {f.rule}{status}", *_indent(f.message), *_indent(f.curl), ""]
        lines += [f"[{self.vendor}] error: {e}" for e in self.errors]
        return "\n".join(lines).rstrip()


def _indent(text: str) -> list[str]:
    return [f"    {line}" for line in text.strip().splitlines() if line.strip()]


class _Plan:
    """A run's credentials and how they reach its requests."""

    def __init__(self, vendor: str, credentials: Mapping[str, str], recipe: TokenRecipe | None) -> None:
        self.vendor = vendor
        self.recipe = recipe
        self.credentials = dict(credentials)
        for name, transform in (recipe.wire if recipe else {}).items():
            if name in self.credentials:
                self.credentials[name] = transform(self.credentials[name])
        self.by_route = {(op.method, op.path): op for op in operations(vendor)}
        self.token: str | None = None
        self.token_problem: str | None = None
        self.link_tokens: set[str] = set()
        self.link_tokens_used = 0
        # Re-entrant: fetching the run's token sends a request, whose after_call hook takes it again.
        self._lock = threading.RLock()

    def operation(self, case: Any) -> Operation | None:
        return self.by_route.get((str(case.method).upper(), case.path))

    def fill(self, template: str) -> str:
        return template.format_map(self.credentials)

    def basic_header(self) -> str | None:
        if self.recipe is None or self.recipe.basic is None or not self.recipe.names() <= set(self.credentials):
            return None
        if isinstance(self.recipe.basic, str):
            return "Basic " + self.fill(self.recipe.basic)
        user, password = (self.fill(t) for t in self.recipe.basic)
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    # Credentials in bodies and parameters (the before_call hook).

    def inject(self, case: Any) -> None:
        op = self.operation(case)
        if op is None:
            return
        if isinstance(case.body, dict) and case.media_type:
            properties = (op.body_schema(case.media_type) or {}).get("properties") or {}
            updates = {
                name: self.credentials[name]
                for name, value in case.body.items()
                if name in self.credentials and name in properties and _replaceable(properties[name], value)
            }
            if updates:
                case.body = {**case.body, **updates}
        stateful = case.meta is not None and case.meta.phase.name.value == "stateful"
        containers = {"path": "path_parameters", "query": "query"}
        for param in op.parameters:
            where = containers.get(param.get("in", ""))
            # In stateful chains links supply parameters; leave them as the previous response gave them.
            if where is None or stateful:
                continue
            container, name = getattr(case, where), param["name"]
            if (
                isinstance(container, dict)
                and name in self.credentials
                and name in container
                and _replaceable(param.get("schema") or {}, container[name])
            ):
                setattr(case, where, {**container, name: self.credentials[name]})

    # Tokens the contract's links carry (the after_call hook).

    def remember_link_tokens(self, case: Any, response: Any) -> None:
        op = self.operation(case)
        if op is None or response.status_code != 200:
            return
        try:
            body = response.json()
        except ValueError:
            return
        for pointer in _link_token_pointers(op):
            try:
                token = _resolve_pointer(body, pointer)
            except (KeyError, IndexError, TypeError, ValueError):
                continue
            if isinstance(token, str):
                with self._lock:
                    self.link_tokens.add(token)

    # Credentials the contract declares as security schemes (the auth provider).

    def auth_for(self, case: Any) -> dict[str, str] | None:
        op = self.operation(case)
        if op is None or not op.security:
            return None
        found: dict[str, str] = {}
        for scheme in op.security[0].values():
            kind, name = scheme.get("type"), str(scheme.get("scheme", "")).lower()
            if kind == "http" and name == "basic" and (basic := self.basic_header()):
                found["header:Authorization"] = basic
            elif (kind == "oauth2" or (kind == "http" and name == "bearer")) and (token := self.bearer_for(case)):
                found["header:Authorization"] = f"Bearer {token}"
            elif kind == "apiKey" and scheme.get("name") in self.credentials:
                found[f"{scheme['in']}:{scheme['name']}"] = self.credentials[scheme["name"]]
        return found or None

    def bearer_for(self, case: Any) -> str | None:
        """The token a link put in the request, else the run's own token (fetched once)."""
        sent = str(case.headers.get("Authorization", ""))
        scheme, _, token = sent.partition(" ")
        with self._lock:
            if scheme.lower() == "bearer" and token in self.link_tokens:
                self.link_tokens_used += 1
                return token
            if self.token is None and self.token_problem is None:
                self.token, self.token_problem = self._fetch_token(case.operation.schema)
            return self.token

    def _fetch_token(self, schema: Any) -> tuple[str | None, str | None]:
        recipe = self.recipe
        if recipe is None:
            return None, f"{self.vendor}: no token recipe, so bearer-protected operations get no token"
        missing = recipe.names() - set(self.credentials)
        if missing:
            return None, f"cannot get a bearer token: credentials missing: {', '.join(sorted(missing))}"
        operation = schema.find_operation_by_id(recipe.operation_id)
        basic = self.basic_header()
        case = operation.Case(
            body={k: self.fill(v) for k, v in recipe.body.items()},
            media_type=recipe.media_type,
            query={k: self.fill(v) for k, v in recipe.query.items()},
            headers={"Authorization": basic} if basic else {},
        )
        try:
            response = case.call()
            token = _resolve_pointer(response.json(), recipe.pointer) if response.status_code == 200 else None
        except (KeyError, IndexError, TypeError, ValueError):
            token, response = None, response
        except Exception as exc:  # the server cannot be reached; the run reports it
            return None, f"cannot get a bearer token: {type(exc).__name__}: {exc}"
        if not isinstance(token, str):
            status = response.status_code
            return None, f"cannot get a bearer token: {operation.label} answered {status} (check the credentials)"
        return token, None


def _replaceable(schema: Mapping[str, Any], value: Any) -> bool:
    """Whether a generated value may become a credential: it is valid (a negative value stays negative)
    and it is not one of the one in five left alone so that refused credentials are exercised too."""
    if not compile_schema(dict(schema)).is_valid(value):
        return False
    return zlib.crc32(json.dumps(value, sort_keys=True, default=str).encode()) % 5 != 0


_LINK_TOKEN = re.compile(r"\{\$response\.body#(/[^}]*)\}")


def _link_token_pointers(op: Operation) -> list[str]:
    """Where the 200 body holds the tokens the operation's links pass on as bearer credentials."""
    found = []
    for link in ((op.responses.get("200") or {}).get("links") or {}).values():
        for value in (link.get("parameters") or {}).values():
            match = _LINK_TOKEN.search(str(value))
            if match and str(value).lower().startswith("bearer"):
                found.append(match.group(1))
    return found


def _resolve_pointer(document: Any, pointer: str) -> Any:
    node = document
    for part in pointer.lstrip("/").split("/"):
        node = node[int(part)] if isinstance(node, list) else node[part.replace("~1", "/").replace("~0", "~")]
    return node


# The plans of the runs in progress, by the marker placed in each run's copy of the contract. The
# before_call hook is process-wide in schemathesis; it acts only on requests of a tokenmock run.
_PLANS: dict[str, _Plan] = {}
_RUN_IDS = itertools.count(1)
_MARKER = "x-tokenmock-run"


def _plan_of(case: Any) -> _Plan | None:
    raw = getattr(case.operation.schema, "raw_schema", None)
    return _PLANS.get(str(raw.get(_MARKER, ""))) if isinstance(raw, Mapping) else None


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    """Put a run's credentials into bodies and parameters before each request is sent."""
    plan = _plan_of(case)
    if plan is not None:
        plan.inject(case)


def _drop_socket_options_in_process() -> None:
    """Work around schemathesis 4.32: `ignored_auth` probes reach the WSGI transport with requests-only
    options (`max_redirects`...), which werkzeug's test client refuses with a TypeError. The transport
    drops them itself when it is given a requests session; do the same for probes."""
    from schemathesis.transport.wsgi import WSGITransport

    original = WSGITransport.send
    if getattr(original, "_tokenmock_shim", False):
        return

    def send(self: Any, case: Any, *, session: Any = None, **kwargs: Any) -> Any:
        for name in ("max_redirects", "verify", "cert", "proxies"):
            kwargs.pop(name, None)
        return original(self, case, session=session, **kwargs)

    send._tokenmock_shim = True  # type: ignore[attr-defined]
    WSGITransport.send = send  # type: ignore[method-assign]


_drop_socket_options_in_process()


def _provider_for(plan: _Plan) -> type:
    class ContractAuth:
        """Basic, bearer and cookie credentials for the operations whose contract asks for them."""

        def get(self, case: Any, ctx: Any) -> dict[str, str] | None:
            return plan.auth_for(case)

        def set(self, case: Any, data: dict[str, str], ctx: Any) -> None:
            for key, value in data.items():
                where, _, name = key.partition(":")
                if where == "cookie":
                    case.cookies = {**(case.cookies or {}), name: value}
                elif where == "query":
                    case.query = {**(case.query or {}), name: value}
                else:
                    case.headers[name] = value

    return ContractAuth


def token_operations(vendor: str) -> tuple[str, ...]:
    """Operations that issue tokens: those whose 200 response links to where the token is used."""
    return tuple(op.operation_id for op in operations(vendor) if (op.responses.get("200") or {}).get("links"))


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
    demo `auth` left out: a run brings its own credentials) plus the run's own values.

    `narrower`: the server follows a stricter reading of some register entry than the contract encodes
    (DIVE-01 strict takes JSON only where the contract also allows a form), so it may refuse a request
    the contract allows; with any 4xx, which status_code_conformance still holds to the documented ones."""
    config: dict[str, Any] = json.loads(json.dumps(project_settings()))
    config["project"] = [
        {key: value for key, value in project.items() if key != "auth"}
        for project in config.get("project", [])
        if project.get("title") == (resolved_spec(vendor).get("info") or {}).get("title")
    ]
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


def _config(
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
) -> Report:
    """Run every check in every phase against a server: an in-process WSGI `app`, or `base_url` over HTTP.

    `credentials` are named as the contract names them (`client_id`, `client_secret`, `scope`,
    `client_key`, `username`, `password`, `session`, `profile_id`...). `strict` adds the checks a
    lenient server fails (STRICT_ONLY_CHECKS); `narrower` (see `config_for`) accepts documented refusals
    of valid data from a server that follows a stricter reading than the contract.
    """
    if (app is None) == (base_url is None):
        raise ValueError("give exactly one of app= and base_url=")
    run_id = f"{vendor}-{next(_RUN_IDS)}"
    document = {**form_values_are_strings(resolved_spec(vendor)), _MARKER: run_id}
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
    plan = _Plan(vendor, credentials or {}, TOKEN_RECIPES.get(vendor))
    schema.auth(refresh_interval=None)(_provider_for(plan))

    @schema.hook
    def after_call(context: schemathesis.HookContext, case: schemathesis.Case, response: Any) -> None:
        plan.remember_link_tokens(case, response)

    _PLANS[run_id] = plan
    try:
        report = _execute(schema, vendor, progress)
    finally:
        del _PLANS[run_id]
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
    settings = _config(["armFault", "addClient", "armClaims", "mintToken"], set(), root, max_examples, seed)
    if admin_token is not None:
        settings["auth"] = {"openapi": {"adminToken": {"bearer": admin_token}}}
    document = inline_refs(read_yaml("admin.yaml"))
    schema = schemathesis.openapi.from_dict(document, config=SchemathesisConfig.from_dict(settings))
    if app is not None:
        schema.app = app
    return _execute(schema, "admin")


Progress = Callable[[str, str, Report], None]


def _execute(schema: Any, label: str, progress: Progress | None = None) -> Report:
    """Run the engine; `progress(phase, "started" | "finished", report)` is told as each phase moves."""
    report = Report(label)
    started = time.perf_counter()
    # Under a seed, the same cases whatever the process imported before (contracts.reproducible).
    with own_constants_only():
        for event in from_schema(schema).execute():
            if progress is not None and isinstance(event, events.PhaseStarted | events.PhaseFinished):
                state = "started" if isinstance(event, events.PhaseStarted) else "finished"
                if getattr(event.phase, "is_enabled", True):
                    progress(str(event.phase.name.value).lower(), state, report)
            _collect(report, event)
    report.elapsed = time.perf_counter() - started
    return report


def _operation_id(case: Any) -> str:
    return str(case.operation.definition.raw.get("operationId") or case.operation.label)


def _collect(report: Report, event: events.EngineEvent) -> None:
    if isinstance(event, events.ScenarioFinished):
        _collect_scenario(report, event)
    elif isinstance(event, events.NonFatalError):
        error = f"{event.label}: {event.info.format()}"
        # One line per distinct error: a server that is down fails every operation the same way.
        if error.splitlines()[0] not in {e.splitlines()[0] for e in report.errors}:
            report.errors.append(error)
    elif isinstance(event, events.FatalError):
        report.errors.append(f"fatal: {type(event.exception).__name__}: {event.exception}")


def _collect_scenario(report: Report, event: events.ScenarioFinished) -> None:
    phase, recorder = event.phase.value, event.recorder
    statuses = {
        case_id: interaction.response.status_code
        for case_id, interaction in recorder.interactions.items()
        if interaction.response is not None
    }
    for case_id, status in statuses.items():
        node = recorder.cases.get(case_id)
        if node is None:
            continue
        report.responses[(_operation_id(node.value), phase, status)] += 1
        chain: list[str] = []
        current: Any = node
        while current is not None and 200 <= statuses.get(current.value.id, 0) < 300:
            chain.insert(0, _operation_id(current.value))
            linked = current.transition is not None and current.parent_id is not None
            current = recorder.cases.get(current.parent_id) if linked else None
        if len(chain) > 1 and current is None:
            report.chains[tuple(chain)] += 1
    for case_id, checks in recorder.checks.items():
        node = recorder.cases.get(case_id)
        label = node.value.operation.label if node is not None else (event.label or "?")
        for check in checks:
            report.checks_run[check.name] += 1
            report.checks_by_phase[phase] += 1
            report.checks_by_operation[(label, check.name)] += 1
            if check.status != Status.FAILURE or check.failure_info is None:
                continue
            failure = check.failure_info.failure
            finding = Finding(
                vendor=report.vendor,
                operation=failure.operation or event.label or "?",
                check=check.name,
                title=failure.title,
                message=failure.message,
                status=statuses.get(failure.case_id or case_id),
                curl=check.failure_info.code_sample,
                phase=phase,
            )
            if all(
                (f.operation, f.check, f.title) != (finding.operation, finding.check, finding.title)
                for f in report.findings
            ):
                report.findings.append(finding)
