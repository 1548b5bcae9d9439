"""`create_app()`: the Flask adapter over `TokenMock`; routes are made from the contracts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed

import contracts
from mockserver import admin, wire
from mockserver.config import load_settings
from mockserver.core import TokenMock
from mockserver.errors import MethodNotAllowed, MockError, NotFound, PayloadTooLarge, ServerFault
from mockserver.exchange import Reply
from mockserver.validation import RawRequest

_PATH_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)}")
# Objects that may be injected through the config mapping but are not settings.
_INJECTABLE = ("clock", "store")


def to_response(reply: Reply) -> Response:
    """A Flask response from a `Reply`; JSON bodies are compact."""
    if isinstance(reply.body, bytes | str):
        data: bytes | str = reply.body
    elif reply.body is None:
        data = b""
    else:
        data = json.dumps(reply.body, separators=(",", ":"))
    response = Response(data, status=reply.status, headers=reply.headers)
    if reply.body is not None:
        response.headers["Content-Type"] = reply.media_type
    if reply.wire is not None:
        return wire.play(reply.wire, reply.wire_params, response, request.environ)
    return response


def raw_request(path_params: Mapping[str, str] | None = None) -> RawRequest:
    """The current Flask request as a framework-free `RawRequest` (body read within the size limit)."""
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise
    return RawRequest(
        method=request.method,
        path=request.path,
        path_params=dict(path_params or {}),
        query=list(request.args.items(multi=True)),
        headers=request.headers,  # type: ignore[arg-type]
        cookies=request.cookies,
        body=body,
        content_type=request.headers.get("Content-Type"),
    )


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
    mock = TokenMock(settings, **injected)

    app = Flask("tokenmock")
    app.config["MAX_CONTENT_LENGTH"] = int(settings["max_body_bytes"])
    # With response validation on (tests, debug), contract drift must surface as the exception it is.
    app.config["PROPAGATE_EXCEPTIONS"] = mock.validate_responses
    app.json.sort_keys = False  # type: ignore[attr-defined]
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
            )
        app.add_url_rule(
            f"{prefix}/openapi.yaml",
            endpoint=f"{vendor_name}:openapi",
            view_func=_contract_view(vendor_name),
            methods=["GET"],
        )
    app.add_url_rule("/", endpoint="index", view_func=_index_view(mock), methods=["GET"])
    app.register_blueprint(admin.blueprint(mock))

    @app.errorhandler(HTTPException)
    def unmatched(error: HTTPException) -> Response:
        """Unknown paths, wrong methods and oversize bodies answered in the vendor's shape."""
        if request.path.startswith(admin.PREFIX):
            return admin.refusal(error)
        vendor_name = _vendor_of(mock, request.path)
        refusal: MockError
        if (error.code or 500) >= 500:
            refusal = ServerFault("the mock failed; see its log")
        elif isinstance(error, RequestEntityTooLarge):
            refusal = PayloadTooLarge(f"the body is larger than {settings['max_body_bytes']} bytes")
        elif isinstance(error, WerkzeugMethodNotAllowed):
            allowed = tuple(m for m in (error.valid_methods or ()) if m not in ("HEAD", "OPTIONS"))
            refusal = MethodNotAllowed(f"{request.method} is not allowed here", allowed=allowed)
        else:
            refusal = NotFound(f"no operation at {request.method} {request.path}")
        raw = RawRequest(request.method, request.path, headers=request.headers)  # type: ignore[arg-type]
        if vendor_name is None:
            status = refusal.status if refusal.status in (404, 405, 413, 500) else 404
            body = {"error": refusal.error, "error_description": refusal.description, "vendors": list(mock.mounted)}
            return to_response(Reply(status, body))
        return to_response(mock.refuse(vendor_name, refusal, raw))

    return app


def _vendor_of(mock: TokenMock, path: str) -> str | None:
    for name, prefix in mock.mounted.items():
        if prefix == "" or path == prefix or path.startswith(prefix + "/"):
            return name
    return None


def _view(mock: TokenMock, vendor_name: str, operation_id: str) -> Callable[..., Response]:
    def view(**path_params: str) -> Response:
        return to_response(mock.handle(vendor_name, operation_id, raw_request(path_params)))

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
            "vendors": {
                name: {
                    "base_url": root + prefix,
                    "contract": f"{root}{prefix}/openapi.yaml",
                    "operations": {
                        op.operation_id: f"{op.method} {root}{prefix}{op.path}"
                        for op in contracts.operations(name)
                    },
                    "demo_credentials": mock.vendors[name].settings.get("demo", {}),
                }
                for name, prefix in mock.mounted.items()
            },
        }
        return to_response(Reply(200, body))

    return view
