"""One proxied exchange, parsed for the checks that read it, and its masked form for everything that is
written or shown (journal, drift report, readings evidence).

`Exchange` holds the real bytes in memory only, for the drift checks and the reading observers; nothing
leaves the process before `Secrets.masked()` has replaced what it must. `Secrets` learns, from every
exchange, the values that are secret on this upstream (whatever sits in a field or header named like a
secret, the parts of Basic credentials, bearer tokens, cookies) and masks them wherever else they turn up,
in every spelling `tokenmock.redaction` knows: an upstream that echoes a client secret in an error
description is not named like a secret.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import shlex
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from tokenmock import contracts
from tokenmock.contracts.validation import media_type_of
from tokenmock.mockserver.controls.masking import (
    KnownSecrets,
    is_sensitive,
    mask_data,
    mask_headers,
    mask_text,
)
from tokenmock.redaction import secret_forms

_PATH_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)}")


@functools.cache
def _routes(vendor: str) -> tuple[tuple[str, re.Pattern[str], str], ...]:
    routes = []
    for op in contracts.operations(vendor):
        pattern = "".join(
            f"(?P<{part[1:-1]}>[^/]+)" if _PATH_PARAM.fullmatch(part) else re.escape(part)
            for part in re.split(r"({[A-Za-z_][A-Za-z0-9_]*})", op.path)
        )
        routes.append((op.method, re.compile(pattern), op.operation_id))
    return tuple(routes)


def match_operation(vendor: str, method: str, path: str) -> tuple[str | None, dict[str, str]]:
    """(operationId, path parameters) of the contract operation a request addresses, or (None, {})."""
    for op_method, pattern, operation_id in _routes(vendor):
        found = pattern.fullmatch(path)
        if found and op_method == method:
            return operation_id, found.groupdict()
    return None, {}


def _header(pairs: list[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in pairs if k.lower() == name]
    return ", ".join(values) if values else None


def _decoded(media_type: str, body: bytes) -> Any:
    if not body:
        return None
    try:
        text = body.decode("utf-8")
        if "json" in media_type or (not media_type and text.lstrip()[:1] in ("{", "[")):
            return json.loads(text)
        if media_type == "application/x-www-form-urlencoded":
            return dict(parse_qsl(text, keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        return None
    return None


@dataclass
class Exchange:
    """A request the proxy forwarded and what came back (`failure` says why nothing usable did)."""

    id: int
    vendor: str
    time: float
    method: str
    target: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    reason: str
    response_headers: list[tuple[str, str]]
    response_body: bytes
    duration_ms: float
    failure: str | None = None
    operation_id: str | None = None
    path_params: dict[str, str] = field(default_factory=dict)
    secrets: frozenset[str] = frozenset()  # the secret values it carries (`Secrets.learn`)

    def __post_init__(self) -> None:
        parts = urlsplit(self.target)
        self.path = parts.path or "/"
        self.query = parse_qsl(parts.query, keep_blank_values=True)
        self.operation_id, self.path_params = match_operation(self.vendor, self.method, self.path)
        self.request_media_type = media_type_of(self.request_header("content-type"))
        self.request_data = _decoded(self.request_media_type, self.request_body)
        self.response_media_type = media_type_of(self.response_header("content-type"))
        self.response_data = _decoded(self.response_media_type, self.response_body) if not self.failure else None

    def request_header(self, name: str) -> str | None:
        """A request header's value (repeated ones joined), by case-insensitive name."""
        return _header(self.request_headers, name.lower())

    def response_header(self, name: str) -> str | None:
        """A response header's value (repeated ones joined), by case-insensitive name."""
        return _header(self.response_headers, name.lower())

    def field(self, name: str) -> Any:
        """A top-level member of the request body (form or JSON object), or None."""
        return self.request_data.get(name) if isinstance(self.request_data, dict) else None

    @property
    def authorization(self) -> tuple[str, str] | None:
        """(scheme lower-cased, credentials) of the request's Authorization header."""
        value = self.request_header("authorization")
        if value is None:
            return None
        scheme, _, credentials = value.strip().partition(" ")
        return scheme.lower(), credentials.strip()


def basic_parts(credentials: str) -> tuple[str, str] | None:
    """(user, password) of RFC 7617 Basic credentials, or None when they are not base64 of `user:password`."""
    try:
        user, colon, password = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, ValueError):
        return None
    return (user, password) if colon else None


# Named like a secret (they hold "token"), but they describe a token rather than being one.
NOT_SECRET = frozenset({"token_type", "expires_in", "refresh_token_expires_in", "expires_at_timestamp"})
# How many lasting secret values (credentials) the proxy remembers, oldest forgotten first.
MAX_LEARNED = 256


def _is_token(name: str) -> bool:
    return "token" in name.lower()


class Secrets:
    """The secret values seen through the proxy, and masking by name, by shape and by value.

    Two pools, because they differ in number: credentials (client secrets, passwords, keys, cookies) are
    few and come back in every exchange, so they are remembered (bounded) and masked everywhere; tokens
    are new in each answer, so each exchange's own are masked in that exchange, and everywhere else
    by shape (JWTs) or by name (a token sent back sits in a field or header named like one).
    """

    def __init__(self, known: set[str] | None = None) -> None:
        self._lasting: OrderedDict[str, None] = OrderedDict((v, None) for v in known or () if v)
        self._lock = threading.Lock()
        self._masker: KnownSecrets | None = None

    def _keep(self, value: str) -> None:
        with self._lock:
            if value in self._lasting:
                self._lasting.move_to_end(value)
                return
            self._lasting[value] = None
            while len(self._lasting) > MAX_LEARNED:
                self._lasting.popitem(last=False)
            self._masker = None

    def learn(self, exchange: Exchange) -> None:
        """Take every secret the exchange carries (named like one, credentials of Authorization and
        Cookie): credentials into the lasting pool, everything into `exchange.secrets`."""
        own: set[str] = set()

        def take(value: Any, lasting: bool) -> None:
            if isinstance(value, str) and value:
                own.add(value)
                if lasting:
                    self._keep(value)

        for data in (exchange.request_data, exchange.response_data, dict(exchange.query)):
            for name, value in _named_secrets(data):
                take(value, not _is_token(name))
        auth = exchange.authorization
        if auth is not None and auth[1]:
            take(auth[1], auth[0] != "bearer")
            parts = basic_parts(auth[1]) if auth[0] == "basic" else None
            if parts is not None:
                take(parts[1], True)
        for name, value in exchange.request_headers + exchange.response_headers:
            lowered = name.lower()
            if lowered == "cookie":
                for crumb in value.split(";"):
                    take(crumb.partition("=")[2].strip(), True)
            elif lowered == "set-cookie":  # name=value; then attributes (Path, Max-Age...), not secrets
                take(value.split(";", 1)[0].partition("=")[2].strip(), True)
            elif is_sensitive(name) and lowered not in ("authorization", "www-authenticate"):
                take(value, not _is_token(name))
        exchange.secrets = frozenset(own)

    def _lasting_masker(self) -> KnownSecrets:
        with self._lock:
            if self._masker is None:
                self._masker = KnownSecrets({form for value in self._lasting for form in secret_forms(value)})
            return self._masker

    def mask(self, data: Any, exchange: Exchange) -> Any:
        """`data` with every lasting secret and every secret of `exchange` replaced by `***`, in any spelling."""
        for masker in (self._lasting_masker(), KnownSecrets(_forms(exchange.secrets))):
            if masker.found_in(data):
                data = masker.mask(data)
        return data

    def masked(self, exchange: Exchange) -> dict[str, Any]:
        """The exchange as it may be written or shown: secrets replaced by `***`."""
        request_body: Any = mask_data(exchange.request_data)
        if request_body is None and exchange.request_body:
            request_body = {"unparsed_bytes": len(exchange.request_body)}
        response_body: Any = mask_data(exchange.response_data)
        if response_body is None and exchange.response_body:
            response_body = mask_text(exchange.response_body[:2048].decode("utf-8", "replace"))
        view = {
            "method": exchange.method,
            "path": mask_text(exchange.path),
            "query": mask_data(dict(exchange.query)),
            "headers": mask_headers(_joined(exchange.request_headers)),
            "body": request_body,
            "status": exchange.status,
            "response": {"headers": mask_headers(_joined(exchange.response_headers)), "body": response_body},
        }
        return dict(self.mask(view, exchange))


def _forms(values: frozenset[str]) -> set[str]:
    return {form for value in values for form in secret_forms(value)}


def _joined(pairs: list[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    return joined


def _named_secrets(data: Any) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and is_sensitive(key) and key not in NOT_SECRET and isinstance(value, str):
                    found.append((key, value))
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return found


def curl_line(masked: dict[str, Any], origin: str) -> str:
    """A curl command that sends the (masked) request to `origin` again: masked first, quoted after."""
    query = urlencode(masked.get("query") or {}, safe="*")  # masked first, encoded after
    url = origin + masked["path"] + (f"?{query}" if query else "")
    parts = ["curl", "-X", masked["method"], shlex.quote(url)]
    for name, value in (masked.get("headers") or {}).items():
        if name.lower() in ("host", "content-length", "connection", "user-agent", "accept-encoding"):
            continue
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    body = masked.get("body")
    if isinstance(body, dict) and "unparsed_bytes" not in body:
        headers = {k.lower(): v for k, v in (masked.get("headers") or {}).items()}
        if "json" in str(headers.get("content-type", "")).lower():
            text = json.dumps(body)
        else:
            text = urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}, safe="*")
        parts += ["--data-raw", shlex.quote(text)]
    return " ".join(parts)
