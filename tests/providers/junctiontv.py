"""JunctionTV, from 000_5dbfd55030ae46b2.txt: `POST /ums/2.0/oauth/` with `Content-Type:
application/x-www-form-urlencoded` and `Authorization: Basic base64({client_id}:{client_secret})`,
answering `{version: "1.1", client_id, access_token, expires_in: 3600}`; a 401
`{result: "error", message: "UNAUTHORIZED", reason}`; "HTTP Status 404" for other errors.

The access token is opaque (the example's 40 `x`s); the document names no resource, so
`Knobs.resource_path` adds one. Basic credentials are read as RFC 7617 says (split at the first colon),
or with `Knobs.basic_form_encoded` as RFC 6749 §2.3.1 clients send them (each part form-decoded).
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

import falcon

from tests.providers.base import Knobs, basic_credentials, make_app, reply, same, token_headers

CLIENT_ID = "jtv-independent"
CLIENT_SECRET = "jtv'Secret+/%:\"5"
LIFETIME = 3600

CREDENTIALS = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}

TOMCAT_404 = (
    '<!doctype html><html lang="en"><head><title>HTTP Status 404 \u2013 Not Found</title></head>'
    '<body><h1>HTTP Status 404 \u2013 Not Found</h1><hr class="line" /><p><b>Type</b> Status Report</p>'
    "<p><b>Description</b> The origin server did not find a current representation for the target resource."
    '</p><hr class="line" /><h3>Apache Tomcat</h3></body></html>'
)


class Errors:
    """The document's 401 body, and its bare "HTTP Status 404" for anything else."""

    def __init__(self, knobs: Knobs) -> None:
        self.knobs = knobs

    def unauthorized(self, resp: falcon.Response, reason: str, challenge: str = "") -> None:
        if self.knobs.undocumented_refusal:
            resp.status, resp.content_type, resp.text = 401, "text/html", f"<html><body>{reason}</body></html>"
        elif challenge and self.knobs.empty_challenge_body:
            reply(resp, 401)
        else:
            reply(resp, 401, {"result": "error", "message": "UNAUTHORIZED", "reason": reason})
        if challenge:
            resp.set_header("WWW-Authenticate", challenge)

    def http(self, resp: falcon.Response, status: int, reason: str) -> None:
        """Every other error: the servlet container's page."""
        resp.status = 404 if status < 500 else status
        if self.knobs.html_not_found:
            resp.content_type, resp.text = "text/html;charset=utf-8", TOMCAT_404
        else:
            resp.content_type, resp.text = "text/plain", "HTTP Status 404"


class Tokens:
    """Opaque access tokens and their expiry."""

    def __init__(self, knobs: Knobs) -> None:
        self.knobs = knobs
        self.expiry: dict[str, float] = {}
        self.lock = threading.Lock()

    def issue(self, lifetime: int) -> str:
        token = secrets.token_hex(20)
        with self.lock:
            self.expiry[token] = time.time() + lifetime
        return token

    def valid(self, authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        with self.lock:
            return self.knobs.any_bearer or self.expiry.get(token.strip(), 0) > time.time()


class TokenEndpoint:
    """POST /ums/2.0/oauth/."""

    def __init__(self, knobs: Knobs, tokens: Tokens, errors: Errors) -> None:
        self.knobs, self.tokens, self.errors = knobs, tokens, errors

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        if (req.content_type or "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            self.errors.http(resp, 415, "unsupported media type")
            return
        header = req.get_header("Authorization")
        if not header:
            self.errors.unauthorized(resp, "No Authorization Token")
            return
        credentials = basic_credentials(header, form_encoded=self.knobs.basic_form_encoded)
        if credentials is None:
            self.errors.unauthorized(resp, "Invalid Authorization Token")
            return
        client_id, secret = credentials
        if client_id != CLIENT_ID or not (same(secret, CLIENT_SECRET) or (self.knobs.any_secret and secret)):
            self.errors.unauthorized(resp, "Invalid client credentials")
            return
        lifetime = self.knobs.lifetime or LIFETIME
        body: dict[str, Any] = {
            "version": "1.1",
            "client_id": CLIENT_ID,
            "access_token": self.tokens.issue(lifetime),
            "expires_in": lifetime,
        }
        if self.knobs.extra_members:
            body["token_type"] = "Bearer"
        if self.knobs.echo_secret:
            body["client_secret"] = CLIENT_SECRET
        reply(resp, 200, body, headers=token_headers(self.knobs))


class Resource:
    """A JunctionTV API the document does not name (`Knobs.resource_path`)."""

    def __init__(self, tokens: Tokens, errors: Errors) -> None:
        self.tokens, self.errors = tokens, errors

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not self.tokens.valid(req.get_header("Authorization")):
            self.errors.unauthorized(resp, "Invalid Authorization Token", 'Bearer error="invalid_token"')
            return
        reply(resp, 200, {"result": "success", "channels": []})


def app(knobs: Knobs) -> falcon.App:
    """The JunctionTV provider `knobs` describe."""
    errors = Errors(knobs)
    tokens = Tokens(knobs)
    served = make_app(errors.http)
    served.add_route("/ums/2.0/oauth/", TokenEndpoint(knobs, tokens, errors))
    if knobs.resource_path:
        served.add_route(knobs.resource_path, Resource(tokens, errors))
    return served


RESOURCE = "/ums/2.0/channels"

VARIATIONS = {
    "basic_form_encoded": Knobs(basic_form_encoded=True),
    "html_404": Knobs(html_not_found=True),
    "lifetime_7200": Knobs(lifetime=7200),
    "extra_members": Knobs(extra_members=True),
    "extra_resource": Knobs(resource_path=RESOURCE),
    "empty_challenge_body": Knobs(resource_path=RESOURCE, empty_challenge_body=True),
}

BUGS = {
    "any_secret": Knobs(any_secret=True),
    "undocumented_refusal": Knobs(undocumented_refusal=True),
    "any_bearer": Knobs(any_bearer=True, resource_path=RESOURCE),
    "echo_secret": Knobs(echo_secret=True),
    "cacheable": Knobs(cacheable=True),
}
