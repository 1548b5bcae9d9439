"""The pipeline's `Reply` as a Flask response: one place for the vendor routes and the admin API.

Kept apart from `app` so the admin blueprint can answer in the same way without importing the app
factory that mounts it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from flask import Response, request

from tokenmock.mockserver.pipeline.exchange import Reply
from tokenmock.mockserver.serving import wire

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


def body_bytes(reply: Reply) -> bytes:
    """The reply's body as sent: bytes as given, text in UTF-8, anything else as compact JSON."""
    body = reply.body
    if isinstance(body, bytes):
        return body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def to_response(reply: Reply, environ: WSGIEnvironment | None = None) -> Response:
    """A Flask response from a `Reply`; JSON bodies are compact."""
    response = Response(body_bytes(reply), status=reply.status, headers=reply.headers)
    if reply.body is not None:
        response.headers["Content-Type"] = reply.media_type
    else:  # no body, so no type (werkzeug would call the empty body text/html)
        response.headers.pop("Content-Type", None)
    if reply.wire is not None:
        return wire.play(reply.wire, reply.wire_params, response, request.environ if environ is None else environ)
    return response
