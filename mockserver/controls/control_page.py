"""The control page at `/__mock/ui`: one static HTML page, its script and its style sheet (issue 17).

People watching a client misbehave would rather look than curl: the page shows the vendors (from `GET /`),
the journal as it grows, the armed faults with a form to arm and disarm them, the clock and chaos, and does
what the rest of the admin API does (mint a token, arm claims, revoke, add a client, rotate keys). It is
shipped as package data (no CDN, no build step) and holds no state of its own: everything it shows or
changes goes through the admin API, so the admin contract stays the one interface and its access rules
are the page's. The files themselves hold no secret; they are still served only where the admin API
would answer (loopback, or anywhere once an admin token is configured, which the page then asks for
once per tab and keeps in sessionStorage). A strict Content-Security-Policy keeps the page from loading
anything else or being framed by another site.
"""

from __future__ import annotations

import functools
import ipaddress
from importlib import resources
from typing import TYPE_CHECKING

from flask import Blueprint, Response, request

from tokenmock.mockserver.pipeline.exchange import Reply
from tokenmock.mockserver.responses import to_response

if TYPE_CHECKING:
    from tokenmock.mockserver.pipeline.core import TokenMock

PATH = "/__mock/ui"
# name -> media type of each file the page is made of (nothing else under /__mock/ui is served).
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "page.js": "text/javascript; charset=utf-8",
    "page.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",  # linked from index.html, so the browser never asks for /favicon.ico
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@functools.cache
def asset(name: str) -> bytes:
    """One of the page's files, from the installed package."""
    return (resources.files("tokenmock.mockserver.controls") / "static" / name).read_bytes()


def _loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address((address or "").split("%")[0]).is_loopback
    except ValueError:
        return False


def blueprint(mock: TokenMock) -> Blueprint:
    """The page's routes, refused where the admin API would refuse every request."""
    bp = Blueprint("tokenmock_control_page", __name__, url_prefix=PATH)
    admin_token = mock.settings.get("admin_token")
    exposed = bool(mock.settings.get("exposed"))

    @bp.before_request
    def reachable() -> Response | None:
        if admin_token:
            return None  # the page asks for the token; every request it makes carries it
        if exposed or not _loopback(request.remote_addr):
            body = {
                "error": "access_denied",
                "error_description": "the control page answers loopback clients only; configure admin_token",
            }
            return to_response(Reply(403, body))
        return None

    def serve(name: str) -> Response:
        return Response(asset(name), headers={"Content-Type": ASSETS[name], **SECURITY_HEADERS})

    @bp.route("", methods=["GET"], strict_slashes=False)
    def page() -> Response:
        return serve("index.html")

    @bp.route("/<name>", methods=["GET"])
    def file(name: str) -> Response:
        if name not in ASSETS or name == "index.html":
            body = {"error": "not_found", "error_description": f"the control page has no file {name}"}
            return to_response(Reply(404, body))
        return serve(name)

    return bp
