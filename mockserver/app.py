"""`create_app()`: the Flask adapter over `TokenMock`; routes are made from the contracts.

Operations at fixed paths (every token endpoint and most resources) are answered by `LeanRoutes`, a
thin WSGI layer in front of Flask that skips its per-request machinery (contexts, URL matching,
response objects): measured in benchmarks/, that machinery cost more than validating the request,
signing the token and journaling together. Everything else (paths with parameters, unknown paths,
wrong methods, HEAD, the admin API, the index) goes through Flask, and both produce the same answers
(`benchmarks/check_fast_paths.py` compares them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, current_app, request, signals
from werkzeug.datastructures import EnvironHeaders, ImmutableMultiDict
from werkzeug.exceptions import BadRequest, ClientDisconnected, HTTPException, RequestEntityTooLarge
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.exceptions import NotFound as NotFoundError
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

from tokenmock import contracts
from tokenmock.mockserver.config import load_settings
from tokenmock.mockserver.controls import admin, control_page, metrics, public
from tokenmock.mockserver.controls.masking import printable
from tokenmock.mockserver.cors import Cors, allowed_origins
from tokenmock.mockserver.errors import (
    InvalidRequest,
    MethodNotAllowed,
    MockError,
    NotFound,
    PayloadTooLarge,
    ServerFault,
    StoreUnavailable,
)
from tokenmock.mockserver.pipeline.core import TokenMock
from tokenmock.mockserver.pipeline.exchange import Reply
from tokenmock.mockserver.pipeline.validation import RawRequest
from tokenmock.mockserver.responses import body_bytes, to_response
from tokenmock.mockserver.vendors.base import fill_demo_curl

_PATH_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)}")
# Objects that may be injected through the config mapping but are not settings.
# (`running_metrics`: the counts a reloaded app carries on; `metrics` is the on/off setting;
# `admin_routes`: callables adding routes to the admin blueprint, under its access rules, as
# `tokenmock proxy` adds /__mock/drift and /__mock/readings.)
_INJECTABLE = ("clock", "store", "running_metrics", "admin_routes")


class UnreadableBody(BadRequest):
    """The WSGI server failed to read the request body (a malformed chunk, a read timeout, a reset)."""

    description = "the request body could not be read"


def raw_request(path_params: Mapping[str, str] | None = None, *, takes_body: bool = True) -> RawRequest:
    """The current Flask request as a framework-free `RawRequest` (body read within the size limit).

    An operation without a request body ignores whatever is sent, as the validator does, so it is not
    read (nor refused for its size); a body that cannot be read (cut short, a broken chunk, too slow) is
    the client's error, not the mock's.
    """
    body = b""
    if takes_body:
        try:
            body = read_body(request.environ, current_app.config["MAX_CONTENT_LENGTH"])
        except HTTPException:  # 413 over the limit, 400 when the client hung up mid-body
            raise
        except Exception:  # the server's own read failed: a malformed chunk, a read timeout
            raise UnreadableBody() from None
    return RawRequest(
        method=request.method,
        path=request.path,
        path_params=dict(path_params or {}),
        query=list(request.args.items(multi=True)),
        headers=request.headers,  # type: ignore[arg-type]
        cookies=request.cookies,
        body=body,
        content_type=request.headers.get("Content-Type"),
        scheme=request.scheme,
    )


# The folder of this module: Flask's root path for the app (see create_app).
_HERE = os.path.dirname(os.path.abspath(__file__))


def create_app(config: Mapping[str, Any] | str | None = None) -> Flask:
    """Build the mock: every vendor under `/<vendor>` (or one vendor at the root), from the contracts.

    `config` is a settings mapping or a TOML/YAML file path; a mapping may also carry a `clock` and a
    `store` to inject. Start-up fails when a contract operation has no handler or the reverse.
    """
    injected: dict[str, Any] = {}
    if isinstance(config, Mapping):
        injected = {k: config[k] for k in _INJECTABLE if k in config}
        config = {k: v for k, v in config.items() if k not in _INJECTABLE}
    settings = load_settings(config)
    mock = TokenMock(
        settings, clock=injected.get("clock"), store=injected.get("store"), metrics=injected.get("running_metrics")
    )

    # The root path given, not found from the import name: run from the folder that holds a checkout named
    # `tokenmock`, with an editable install, Python takes that checkout for a namespace package `tokenmock`
    # (the current directory comes before the install's import hook), which has no file for Flask to find.
    app = Flask("tokenmock", root_path=_HERE)
    app.config["MAX_CONTENT_LENGTH"] = int(settings["max_body_bytes"])
    # With response validation on (tests, debug), contract drift must surface as the exception it is.
    app.config["PROPAGATE_EXCEPTIONS"] = mock.validate_responses
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # "//" in a path is a path that matches no operation, answered in the vendor's shape, not a 308 to
    # the merged path (werkzeug's default, whose HTML body no vendor documents). Set before any rule.
    app.url_map.merge_slashes = False
    app.extensions["tokenmock"] = mock

    for vendor_name, prefix in mock.mounted.items():
        for op in contracts.operations(vendor_name):
            rule = prefix + _PATH_PARAM.sub(r"<\1>", op.path)
            app.add_url_rule(
                rule,
                endpoint=f"{vendor_name}:{op.operation_id}",
                view_func=_view(mock, vendor_name, op.operation_id),
                methods=[op.method],
                strict_slashes=False,
                provide_automatic_options=False,  # OPTIONS is `options_reply`'s (Flask's is an empty text/html 200)
            )
        app.add_url_rule(
            f"{prefix}/openapi.yaml",
            endpoint=f"{vendor_name}:openapi",
            view_func=_contract_view(vendor_name),
            methods=["GET"],
            provide_automatic_options=False,
        )
    app.add_url_rule("/", endpoint="index", view_func=_index_view(mock), methods=["GET"])
    app.register_blueprint(public.blueprint(mock))  # /__mock/health and /__mock/ca.pem: open to every caller
    admin_routes = admin.blueprint(mock)
    if mock.metrics is not None:
        metrics.add_route(admin_routes, mock.metrics)
    for add_routes in injected.get("admin_routes", ()):
        add_routes(admin_routes)
    app.register_blueprint(admin_routes)
    app.register_blueprint(control_page.blueprint(mock))

    @app.errorhandler(HTTPException)
    def unmatched(error: HTTPException) -> Response:
        """Unknown paths, wrong methods and oversize bodies answered in the vendor's shape."""
        if request.path.startswith(admin.PREFIX):
            return admin.refusal(error)
        if request.method == "OPTIONS" and isinstance(error, WerkzeugMethodNotAllowed):
            return to_response(options_reply(error.valid_methods or ()))
        return to_response(
            refusal_reply(mock, error, request.method, request.path, request.headers, _refused_body(error))
        )

    @app.errorhandler(StoreUnavailable)
    def store_down(error: StoreUnavailable) -> Response:
        """The admin API while the store is unreachable (vendor routes render their own 503 in `handle`)."""
        body = {"error": error.error, "error_description": error.description}
        return to_response(Reply(error.status, body, {"Retry-After": str(error.retry_after)}))

    lean = LeanRoutes(app, mock)
    for vendor_name, prefix in mock.mounted.items():
        for op in contracts.operations(vendor_name):
            if not _PATH_PARAM.search(op.path):
                lean.add(op.method, prefix + op.path, vendor_name, op.operation_id)
    # CORS in front of everything: preflights never reach routes, faults or the journal.
    app.wsgi_app = Cors(lean, mock.mounted, allowed_origins(settings.get("cors_origins")))  # type: ignore[method-assign]
    return app


def options_reply(allowed: Iterable[str]) -> Reply:
    """The answer to `OPTIONS` on a path the mock serves: 204 with `Allow` (RFC 9110 §9.3.7), no body.

    Kept small and alone so CORS preflight answers can build on it.
    """
    methods = sorted({*allowed, "OPTIONS"} - {"HEAD"})
    return Reply(204, None, {"Allow": ", ".join(methods)})


def _refused_body(error: HTTPException) -> bytes:
    """The body of a request that matched no route (unknown path, wrong method), read within the size
    limit for the journal; nothing for one refused for its body (oversize, unreadable) or a failure."""
    if not isinstance(error, NotFoundError | WerkzeugMethodNotAllowed):
        return b""
    try:
        return read_body(request.environ, current_app.config["MAX_CONTENT_LENGTH"])
    except Exception:  # too large or unreadable: the journal shows no body, the refusal stands
        return b""


def refusal_reply(
    mock: TokenMock, error: HTTPException, method: str, path: str, headers: Any, body: bytes = b""
) -> Reply:
    """The answer to a request refused before any operation ran (no route, wrong method, oversize body,
    a failure of the mock itself), in the vendor's shape where the path names a vendor. `headers` is the
    request's (werkzeug) header mapping, `body` what the journal shows of it."""
    vendor_name = _vendor_of(mock, path)
    refusal: MockError
    if (error.code or 500) >= 500:
        refusal = ServerFault("the mock failed; see its log")
    elif isinstance(error, RequestEntityTooLarge):
        refusal = PayloadTooLarge(f"the body is larger than {mock.settings['max_body_bytes']} bytes")
    elif isinstance(error, BadRequest):  # a body cut short (ClientDisconnected) or unreadable
        refusal = InvalidRequest("the request body could not be read: cut short or malformed")
    elif isinstance(error, WerkzeugMethodNotAllowed):
        allowed = tuple(m for m in (error.valid_methods or ()) if m not in ("HEAD", "OPTIONS"))
        refusal = MethodNotAllowed(f"{method} is not allowed here", allowed=allowed)
    else:
        refusal = NotFound(f"no operation at {method} {path}")
    raw = RawRequest(method, path, headers=headers, body=body, content_type=headers.get("Content-Type"))
    if vendor_name is None:
        status = refusal.status if refusal.status in (404, 405, 413, 500) else 404
        payload = {"error": refusal.error, "error_description": refusal.description, "vendors": list(mock.mounted)}
        reply = Reply(status, payload)
    else:
        reply = mock.refuse(vendor_name, refusal, raw)
    if isinstance(error, RequestEntityTooLarge | BadRequest):
        # The body was left unread (or could not be read): what follows on the connection is not the
        # next request, so say so and close it (RFC 9112 §9.6) instead of announcing keep-alive.
        reply.headers["Connection"] = "close"
    return reply


# Status lines as werkzeug writes them ("401 UNAUTHORIZED").
_STATUS_LINES = {code: f"{code} {phrase.upper()}" for code, phrase in HTTP_STATUS_CODES.items()}
_NO_COOKIES: ImmutableMultiDict[str, str] = ImmutableMultiDict()
# Replies the lean path hands to werkzeug's Response: empty-body statuses, URL-rewritten headers.
_WERKZEUG_STATUSES = frozenset({204, 304})
_WERKZEUG_HEADERS = frozenset({"location", "content-location", "content-length"})
_FLASK_SIGNALS = (signals.request_started, signals.request_finished, signals.got_request_exception)


def read_body(environ: WSGIEnvironment, limit: int | None) -> bytes:
    """The request body, or `RequestEntityTooLarge` when it is longer than `limit`, however it is framed.

    A body whose length is not announced (chunked, or a stream the server ends) is read one byte past
    the limit, so a longer one is refused instead of cut at the limit: werkzeug's own reader stops at
    the limit and returns what it has, which once let a form whose secret ran past the cut authenticate.
    The common cases are read directly (werkzeug's stream wrappers cost more than the rest of request
    parsing); anything unusual (chunked bodies, odd Content-Length values) goes through werkzeug itself.
    `benchmarks/check_fast_paths.py` compares the two on every combination.
    """
    length = environ.get("CONTENT_LENGTH")
    if limit is None or "HTTP_TRANSFER_ENCODING" in environ or (length and not (length.isascii() and length.isdigit())):
        return _werkzeug_body(environ, limit)
    stream = environ["wsgi.input"]
    size = int(length) if length else None
    if size is not None and size > limit:
        raise RequestEntityTooLarge()
    if "wsgi.input_terminated" in environ:
        wanted, exact = limit + 1, False  # the server ends the stream: one byte more tells an oversize body
    elif size is None:
        return _werkzeug_body(environ, limit)
    else:
        wanted, exact = size, True
    chunks: list[bytes] = []
    while wanted > 0:
        chunk = stream.read(wanted)
        if not chunk:
            if exact:
                raise ClientDisconnected()
            break
        chunks.append(chunk)
        wanted -= len(chunk)
    body = b"".join(chunks)
    if len(body) > limit:
        raise RequestEntityTooLarge()
    return body


def _werkzeug_body(environ: WSGIEnvironment, limit: int | None) -> bytes:
    req = Request(environ)
    if limit is not None and req.content_length is not None and req.content_length > limit:
        raise RequestEntityTooLarge()
    req.max_content_length = None if limit is None else limit + 1  # see read_body: one byte past the limit
    body = req.get_data(cache=False)
    if limit is not None and len(body) > limit:
        raise RequestEntityTooLarge()
    return body


class LeanRoutes:
    """WSGI middleware answering contract operations at fixed paths without Flask's dispatch.

    It does what Flask does for these routes (the same werkzeug request parsing and body limit, the
    same error rendering, the same status line and headers) and steps aside whenever Flask would do
    more: an app-wide hook or signal receiver registered, any other method or path.
    """

    def __init__(self, app: Flask, mock: TokenMock) -> None:
        self.app = app
        self.mock = mock
        self.flask: WSGIApplication = app.wsgi_app
        self.routes: dict[tuple[str, str], tuple[str, str, bool]] = {}

    def add(self, method: str, path: str, vendor_name: str, operation_id: str) -> None:
        """Serve `method path` (exactly) as the vendor's operation."""
        self.routes[(method, path)] = (vendor_name, operation_id, _takes_body(self.mock, vendor_name, operation_id))

    def _flask_has_more_to_do(self) -> bool:
        app = self.app
        return bool(
            app.before_request_funcs.get(None)
            or app.after_request_funcs.get(None)
            or app.teardown_request_funcs.get(None)
            or app.url_value_preprocessors.get(None)
            or app.teardown_appcontext_funcs
            or any(signal.receivers for signal in _FLASK_SIGNALS)
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        route = self.routes.get((method, path))
        if route is None or self._flask_has_more_to_do():
            return self.flask(environ, start_response)
        vendor_name, operation_id, takes_body = route
        headers = EnvironHeaders(environ)
        try:
            try:
                body = read_body(environ, self.app.config["MAX_CONTENT_LENGTH"]) if takes_body else b""
            except HTTPException as error:  # 413, or a client that sent less than it announced
                reply = refusal_reply(self.mock, error, method, path, headers)
            except Exception:  # the server's own read failed: a malformed chunk, a read timeout
                reply = refusal_reply(self.mock, UnreadableBody(), method, path, headers)
            else:
                query, cookies = environ.get("QUERY_STRING"), "HTTP_COOKIE" in environ
                req = Request(environ) if query or cookies else None
                raw = RawRequest(
                    method=method,
                    path=path,
                    path_params={},
                    query=list(req.args.items(multi=True)) if req is not None and query else [],
                    headers=headers,  # type: ignore[arg-type]
                    cookies=req.cookies if req is not None and cookies else _NO_COOKIES,
                    body=body,
                    content_type=headers.get("Content-Type"),
                    scheme=environ.get("wsgi.url_scheme", "http"),
                )
                reply = self.mock.handle(vendor_name, operation_id, raw)
        except Exception as exc:
            propagate = self.app.config["PROPAGATE_EXCEPTIONS"]
            if propagate is None:
                propagate = self.app.testing or self.app.debug
            if propagate:
                raise
            self.app.logger.error("Exception on %s [%s]", printable(path), printable(method), exc_info=exc)
            reply = refusal_reply(self.mock, HTTPException(), method, path, headers)
        return self._send(reply, environ, start_response)

    @staticmethod
    def _send(reply: Reply, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Start the response as werkzeug's Response would (headers in its order, then Content-Length)."""
        status = reply.status
        line = _STATUS_LINES.get(status)
        if (
            reply.wire is not None
            or line is None
            or status < 200
            or status in _WERKZEUG_STATUSES
            or any(name.lower() in _WERKZEUG_HEADERS for name in reply.headers)
        ):
            return to_response(reply, environ)(environ, start_response)
        data = body_bytes(reply)
        content_type = reply.media_type if reply.body is not None else None
        headers: list[tuple[str, str]] = []
        for name, value in reply.headers.items():
            text = value if isinstance(value, str) else str(value)
            if "\n" in text or "\r" in text:  # werkzeug refuses these; let it say so
                return to_response(reply, environ)(environ, start_response)
            if name.lower() == "content-type":
                if content_type is not None:
                    name, text = "Content-Type", content_type
                content_type = ""
            headers.append((name, text))
        if content_type is None:
            headers.append(("Content-Type", "text/html; charset=utf-8"))
        elif content_type:
            headers.append(("Content-Type", content_type))
        headers.append(("Content-Length", str(len(data))))
        start_response(line, headers)
        return [data]


def _vendor_of(mock: TokenMock, path: str) -> str | None:
    for name, prefix in mock.mounted.items():
        if prefix == "" or path == prefix or path.startswith(prefix + "/"):
            return name
    return None


def _takes_body(mock: TokenMock, vendor_name: str, operation_id: str) -> bool:
    """Whether the operation has a request body (as the mock reads it: readings may widen the contract)."""
    return bool(mock.validators[(vendor_name, operation_id)].media_types)


def _view(mock: TokenMock, vendor_name: str, operation_id: str) -> Callable[..., Response]:
    takes_body = _takes_body(mock, vendor_name, operation_id)

    def view(**path_params: str) -> Response:
        return to_response(mock.handle(vendor_name, operation_id, raw_request(path_params, takes_body=takes_body)))

    view.__name__ = f"{vendor_name}_{operation_id}"
    return view


def _contract_view(vendor_name: str) -> Callable[[], Response]:
    text = contracts.loader.spec_text(vendor_name)

    def view() -> Response:
        return Response(text, mimetype="application/yaml")

    return view


def _index_view(mock: TokenMock) -> Callable[[], Response]:
    def view() -> Response:
        root = request.host_url.rstrip("/")
        body = {
            "service": "tokenmock",
            "control_page": f"{root}{control_page.PATH}",
            "vendors": {
                name: {
                    "base_url": root + prefix,
                    "contract": f"{root}{prefix}/openapi.yaml",
                    "operations": {
                        op.operation_id: f"{op.method} {root}{prefix}{op.path}"
                        for op in contracts.operations(name)
                    },
                    "demo_credentials": mock.vendors[name].settings.get("demo", {}),
                    "curl": fill_demo_curl(
                        mock.vendors[name].demo_curl, root + prefix, mock.vendors[name].settings.get("demo", {})
                    ),
                    # The reading in force of each discrepancy switch, so `tokenmock verify` knows what
                    # behaviour to expect where the vendor document allows two.
                    "readings": {
                        switch: "lenient" if mock.vendors[name].lenient(switch) else "strict"
                        for switch in sorted(mock.vendors[name].switches)
                    },
                }
                for name, prefix in mock.mounted.items()
            },
        }
        return to_response(Reply(200, body))

    return view
