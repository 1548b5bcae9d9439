"""The provider under test, as the behaviour checks see it: requests built from the contract and the
credentials, the readings in force, and (when the provider is a tokenmock) its admin API.

A tokenmock announces itself at its root (`GET /` answers `{"service": "tokenmock", "vendors": ...}`,
with each vendor's base URL and the reading in force of every discrepancy switch). Any other provider
is held to the reading each contract encodes, unless `--reading ID=strict|lenient` says otherwise.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import requests

from tokenmock import contracts
from tokenmock.contracts.verify.guard import Budget, guarded_session
from tokenmock.contracts.verify.profiles import CREDENTIALS, PROFILES, Profile, TokenRequest

# Demo-mapping keys of the mock that name something else than the contract does.
_DEMO_ALIASES = {"channel": "channel_id", "profiles": "profile_id"}


def demo_credentials(vendor: str) -> dict[str, str]:
    """The mock's demo credentials for a vendor, named as the contract names them."""
    from tokenmock.mockserver.vendors import vendor_classes

    found: dict[str, str] = {}
    for key, value in (vendor_classes()[vendor].defaults.get("demo") or {}).items():
        name = _DEMO_ALIASES.get(key, key)
        if key == "cookie" and isinstance(value, str):  # "session=..." -> the cookie's own name
            cookie, _, cookie_value = value.partition("=")
            found[cookie.strip()] = cookie_value.strip()
        elif isinstance(value, list) and value:
            found[name] = str(value[0])
        elif isinstance(value, str):
            found[name] = value
    return {k: v for k, v in found.items() if k in CREDENTIALS}


class CheckFailed(Exception):
    """A behaviour check found the provider misbehaving: `title` names the rule, `message` says how."""

    def __init__(self, title: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{title}: {message}")
        self.title = title
        self.message = message
        self.status = status


class CheckSkipped(Exception):
    """A behaviour check cannot run against this provider; the argument is the reason."""


class CheckWarning(Exception):
    """A behaviour check found what RFCs advise against but the run does not fail for (unless --strict
    makes it): the argument says what."""


def origin_of(base_url: str) -> str:
    """scheme://host[:port] of a URL."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


def tokenmock_index(base_url: str, session: requests.Session, timeout: float) -> dict[str, Any] | None:
    """The tokenmock index at the URL's origin, or None when the provider is something else. A redirect
    is not followed (to another host it would make the CI runner fetch whatever the provider names)."""
    try:
        answer = session.get(origin_of(base_url) + "/", timeout=timeout, allow_redirects=False)
        index = answer.json() if answer.status_code == 200 else None
    except (requests.RequestException, ValueError):
        return None
    if not isinstance(index, dict) or index.get("service") != "tokenmock":
        return None
    return index


class Target:
    """One vendor's provider: where it is, the credentials, the readings in force, the admin API."""

    def __init__(
        self,
        vendor: str,
        base_url: str,
        credentials: Mapping[str, str],
        *,
        readings: Mapping[str, str] | None = None,
        admin_token: str | None = None,
        timeout: float = 10.0,
        budget: Budget | None = None,
        resource_url: str | None = None,
        jwks_url: str | None = None,
        strict: bool = False,
    ) -> None:
        self.vendor = vendor
        # A query on the base URL (an API key, say) goes with every request but never into a report.
        parts = urlsplit(base_url)
        self.base_query = parse_qsl(parts.query, keep_blank_values=True)
        self.base_query_values = {value for _, value in self.base_query if value}
        self.base_url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")).rstrip("/")
        self.credentials = dict(credentials)
        self.profile: Profile = PROFILES[vendor]
        self.timeout = timeout
        self.budget = budget or Budget(exchange=timeout)
        self.session = guarded_session(self.budget)
        self.resource_url = resource_url
        self.jwks_url = jwks_url
        self.strict = strict
        self.last: requests.PreparedRequest | None = None  # the request a failure reproduces
        self.seen: list[requests.Response] = []  # every answer, for the checks that look at all of them
        self.warnings: list[tuple[str, str, str]] = []  # (operation label, check, message)
        self._token_answer: tuple[requests.Response, str | None] | None = None
        index = tokenmock_index(self.base_url, self.session, timeout)
        mounted = (index or {}).get("vendors") or {}
        entry = mounted.get(vendor) or {}
        self.is_tokenmock = bool(entry) and str(entry.get("base_url", "")).rstrip("/") == self.base_url
        self.others = {name: v for name, v in mounted.items() if name != vendor} if self.is_tokenmock else {}
        spec_readings = {e.id: e.spec for e in contracts.register(vendor) if e.switchable}
        advertised = entry.get("readings") if self.is_tokenmock else None
        self.readings: dict[str, str] = {**spec_readings, **(advertised or {}), **(readings or {})}
        self.readings_source = "the tokenmock's own" if advertised else "the contract's"
        self.admin: Any = None
        if self.is_tokenmock:
            from tokenmock.mockserver.controls.controller import MockController

            self.admin = MockController(origin_of(self.base_url), admin_token=admin_token, timeout=timeout)

    def serves(self, operation_id: str) -> str | None:
        """None when the provider can be asked for this operation; else why not: an operation only the
        mock serves (`x-mock-only`) is never sent to a provider that is not a tokenmock."""
        op = contracts.operation(self.vendor, operation_id)
        if op.mock_only and not self.is_tokenmock:
            return f"{op.method} {op.path} is mock-only (x-mock-only): the vendor's document names no such endpoint"
        return None

    @property
    def printable_base_url(self) -> str:
        """The base URL without userinfo or query, as reports show it."""
        parts = urlsplit(self.base_url)
        return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))

    def reading(self, entry_id: str) -> str:
        """The reading in force of a register entry: the mock's own, `--reading`, else the contract's."""
        return self.readings.get(entry_id, "strict")

    def narrower_than_contract(self) -> bool:
        """Whether a reading in force is stricter than the one the contract encodes."""
        return any(
            e.spec == "lenient" and self.reading(e.id) == "strict"
            for e in contracts.register(self.vendor)
            if e.switchable
        )

    def label(self, operation_id: str) -> str:
        """`METHOD /path`, how the reports name an operation."""
        op = contracts.operation(self.vendor, operation_id)
        return f"{op.method} {op.path}"

    # Sending.

    def send(
        self,
        operation_id: str,
        *,
        body: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send a request to an operation of the contract; path parameters come from the credentials."""
        op = contracts.operation(self.vendor, operation_id)
        path = op.path
        for param in op.parameters:
            if param.get("in") == "path":
                path = path.replace("{" + param["name"] + "}", self.credentials.get(param["name"], "unknown"))
        media_type = op.request_media_types[0] if op.request_media_types else None
        request = requests.Request(
            op.method,
            self.base_url + path,
            params=[*self.base_query, *dict(query or {}).items()],
            headers=dict(headers or {}),
        )
        if media_type is not None:
            request.headers["Content-Type"] = media_type
            if "json" in media_type:
                request.data = json.dumps(dict(body or {}))
            else:
                request.data = dict(body or {})
        return self.exchange(request)

    def exchange(self, request: requests.Request) -> requests.Response:
        """Send a request under the run's budget, never following a redirect; remember the answer."""
        prepared = self.session.prepare_request(request)
        self.last = prepared
        response = self.session.send(prepared, timeout=self.timeout, allow_redirects=False)
        self.seen.append(response)
        return response

    def request_token(
        self, template: TokenRequest, change: Mapping[str, str | None] | None = None, **extra: str
    ) -> requests.Response:
        """Send a token request built from the credentials; `change` replaces credentials or fields
        (None leaves them out), `extra` adds credentials (a refresh token)."""
        change = dict(change or {})
        credentials = {**self.credentials, **extra, **{k: v for k, v in change.items() if v is not None}}
        removed = {k for k, v in change.items() if v is None}
        for name, transform in template.wire.items():
            if name in credentials and name not in change:
                credentials[name] = transform(credentials[name])
            elif name in change and change[name] is not None:
                credentials[name] = transform(str(change[name]))

        def fill(fields: Mapping[str, str]) -> dict[str, str]:
            filled: dict[str, str] = {}
            for name, value in fields.items():
                if name in change:
                    if change[name] is not None:
                        filled[name] = str(change[name]) if not _names(value) else value.format_map(credentials)
                    continue
                if _names(value) & removed:
                    continue
                filled[name] = value.format_map(credentials)
            return filled

        headers = {}
        if template.authorization is not None and not (template.header_credentials & removed):
            form_encoded = (
                template.form_encoded_under is not None
                and self.reading(template.form_encoded_under[0]) == template.form_encoded_under[1]
            )
            headers["Authorization"] = template.authorization(credentials, form_encoded)
        return self.send(template.operation_id, body=fill(template.body), query=fill(template.query), headers=headers)

    def token(self) -> str:
        """The access token of the documented flow (fetched once); CheckFailed when there is none."""
        response, token = self.token_answer()
        if token is None:
            raise CheckFailed(
                "no access token",
                f"the documented token request answered {response.status_code}; the check needs its token",
                status=response.status_code,
            )
        return token

    def token_answer(self) -> tuple[requests.Response, str | None]:
        """(the documented token request's answer, the access token in it or None)."""
        if self._token_answer is None:
            response = self.request_token(self.profile.token)
            self._token_answer = (response, pointer(json_of(response), self.profile.token_pointer))
        return self._token_answer


def _names(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def json_of(response: requests.Response) -> Any:
    """The decoded body, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def pointer(document: Any, where: str) -> Any:
    """The value at a JSON pointer, or None when the document has none there."""
    node = document
    for part in where.lstrip("/").split("/"):
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, TypeError, ValueError):
            return None
    return node
