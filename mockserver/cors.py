"""CORS (the Fetch standard's CORS protocol) for the vendor endpoints, so a browser app under development can
call the mock; never for the admin API.

Why here, as WSGI middleware in front of the app: a preflight is answered before any route, fault or
chaos draw (it is the browser asking, not the client under test), and every vendor response gets its
headers in one place. What a preflight allows is read from the contracts: the methods of the path's
operations, and the request headers they take (Authorization where they have security, Content-Type
where they have a body, header parameters, and `Prefer`, the mock's own control). Like Prism, any
origin is allowed by default; `cors_origins` lists the allowed ones, or switches CORS off. The origin
is echoed with `Access-Control-Allow-Credentials: true` (AminoTV's cookie exchange needs credentials,
which `*` forbids). A preflight to `/__mock/` is refused with 403 and no CORS header: the admin API
changes the mock's state and must not be reachable from a web page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tokenmock import contracts
from tokenmock.mockserver.config import ConfigError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

ADMIN_PREFIX = "/__mock"
MAX_AGE = "600"  # seconds a browser may cache a preflight answer
_PATH_PARAM = re.compile(r"\{[^}/]+\}")


@dataclass(frozen=True)
class Route:
    """What CORS allows at one contract path."""

    pattern: re.Pattern[str]
    methods: tuple[str, ...]
    request_headers: tuple[str, ...]
    exposed_headers: tuple[str, ...]


def allowed_origins(setting: Any) -> frozenset[str] | None:
    """`cors_origins` as a set of lower-cased origins, `{"*"}` for any, None when CORS is off."""
    if setting is None or setting is False or setting == [] or (isinstance(setting, str) and not setting.strip()):
        return None
    if setting == "*" or setting is True:
        return frozenset({"*"})
    if isinstance(setting, str):
        setting = [part.strip() for part in setting.split(",") if part.strip()]
    if not isinstance(setting, list) or not all(isinstance(o, str) and o for o in setting):
        raise ConfigError('cors_origins must be "*", a list of origins such as ["http://localhost:3000"], or false')
    return frozenset(origin.rstrip("/").lower() for origin in setting)


def routes(mounted: Mapping[str, str]) -> list[Route]:
    """One `Route` per contract path of each mounted vendor (`mounted`: vendor -> mount prefix)."""
    found: list[Route] = []
    for vendor, prefix in mounted.items():
        by_path: dict[str, list[contracts.Operation]] = {}
        for op in contracts.operations(vendor):
            by_path.setdefault(op.path, []).append(op)
        for path, ops in by_path.items():
            request_headers = {"Prefer"}
            exposed = {"Retry-After"}
            for op in ops:
                # Authorization wherever credentials go: the contract's security, and client authentication
                # by Basic at token endpoints (RFC 6749 §2.3.1), which the mock accepts under lenient readings.
                if op.request_media_types or any(alternative for alternative in op.security):
                    request_headers.add("Authorization")
                if op.request_media_types:
                    request_headers.add("Content-Type")
                request_headers.update(p["name"] for p in op.parameters if p.get("in") == "header")
                for response in op.responses.values():
                    exposed.update(response.get("headers") or {})
            regex = "".join(
                "[^/]+" if _PATH_PARAM.fullmatch(part) else re.escape(part)
                for part in re.split(r"(\{[^}/]+\})", prefix + path)
            )
            found.append(
                Route(
                    re.compile(regex + "/?"),
                    tuple(sorted({op.method for op in ops})),
                    tuple(sorted(request_headers)),
                    tuple(sorted(exposed - {"Content-Type", "Content-Length", "Cache-Control", "Pragma"})),
                )
            )
        found.append(Route(re.compile(re.escape(prefix + "/openapi.yaml")), ("GET",), ("Prefer",), ()))
    return found


class Cors:
    """WSGI middleware: answers preflights on vendor paths, adds CORS headers to vendor responses,
    refuses preflights to the admin API."""

    def __init__(self, app: WSGIApplication, mounted: Mapping[str, str], origins: frozenset[str] | None) -> None:
        self.app = app
        self.origins = origins
        self.routes = routes(mounted) if origins is not None else []

    def _route(self, path: str) -> Route | None:
        return next((route for route in self.routes if route.pattern.fullmatch(path)), None)

    def _allows(self, origin: str) -> bool:
        return self.origins is not None and ("*" in self.origins or origin.rstrip("/").lower() in self.origins)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        origin = environ.get("HTTP_ORIGIN")
        if origin is None:
            return self.app(environ, start_response)
        path = environ.get("PATH_INFO", "")
        preflight = environ.get("REQUEST_METHOD") == "OPTIONS" and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            if preflight:
                return _refuse(start_response)
            return self.app(environ, start_response)
        route = self._route(path) if self._allows(origin) else None
        if route is None:
            return self.app(environ, start_response)
        allow = [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Credentials", "true"),
            ("Vary", "Origin"),
        ]
        if preflight:
            start_response(
                "204 No Content",
                [
                    *allow,
                    ("Access-Control-Allow-Methods", ", ".join(route.methods)),
                    ("Access-Control-Allow-Headers", ", ".join(route.request_headers)),
                    ("Access-Control-Max-Age", MAX_AGE),
                    ("Content-Length", "0"),
                ],
            )
            return [b""]
        if route.exposed_headers:
            allow.append(("Access-Control-Expose-Headers", ", ".join(route.exposed_headers)))

        def with_cors(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, _merged(headers, allow), exc_info)

        return self.app(environ, with_cors)


def _merged(headers: Sequence[tuple[str, str]], extra: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """`headers` plus `extra`; an existing `Vary` is extended rather than doubled."""
    out = list(headers)
    for name, value in extra:
        if name == "Vary":
            at = next((i for i, (n, _) in enumerate(out) if n.lower() == "vary"), None)
            if at is not None:
                out[at] = (out[at][0], f"{out[at][1]}, {value}")
                continue
        out.append((name, value))
    return out


def _refuse(start_response: StartResponse) -> Iterable[bytes]:
    body = json.dumps(
        {"error": "access_denied", "error_description": "the admin API does not answer cross-origin requests"}
    ).encode()
    start_response("403 Forbidden", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
