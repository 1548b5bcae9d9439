"""Valid credentials for a contract run's requests: how each vendor's token is fetched (`TokenRecipe`),
and the run's `Plan`, which puts credentials into bodies and parameters (the process-wide `before_call`
hook, acting only on a tokenmock run's requests), supplies Basic, bearer and cookie credentials (the auth
provider), keeps the tokens links carry, and sends through an adapter of the run's choosing.

Generated credentials are random, so every request would stop at 401 and the handlers behind
authentication would never run. Generated values are replaced only where they are themselves valid, so
negative cases stay negative, and not for one valid value in five, so refused credentials are exercised.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import re
import string
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import schemathesis

from tokenmock.contracts.loader import Operation, operations
from tokenmock.contracts.run_config import FORM
from tokenmock.contracts.validation import compile_schema

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


class Plan:
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
PLANS: dict[str, Plan] = {}
RUN_IDS = itertools.count(1)
MARKER = "x-tokenmock-run"


def _plan_of(case: Any) -> Plan | None:
    raw = getattr(case.operation.schema, "raw_schema", None)
    return PLANS.get(str(raw.get(MARKER, ""))) if isinstance(raw, Mapping) else None


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    """Put a run's credentials into bodies and parameters before each request is sent, and send it
    through the run's transport guard (time and size budgets), where the run has one."""
    plan = _plan_of(case)
    if plan is not None:
        plan.inject(case)


@contextlib.contextmanager
def sending_through(adapter: Any) -> Iterator[None]:
    """Every request schemathesis sends (its sessions all derive from SameHostRedirectsSession) goes
    through `adapter` while the block runs; nothing changes when `adapter` is None."""
    if adapter is None:
        yield
        return
    from schemathesis.transport.requests import SameHostRedirectsSession

    SameHostRedirectsSession.get_adapter = lambda self, url: adapter  # type: ignore[method-assign]
    try:
        yield
    finally:
        del SameHostRedirectsSession.get_adapter


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


def provider_for(plan: Plan) -> type:
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
