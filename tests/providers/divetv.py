"""Dive, from 003_6e2305840961657a.txt: `POST /v1/token?grant_type=device_credentials` with `username` and
the MD5 of the `password` (sent as JSON, though the document calls it "form data": both are read),
`Authorization: Basic {client_key}` with the key as written, HS256 JWTs valid 9000 s, refresh tokens
valid 180 days redeemed at `POST /v1/token?grant_type=refresh_token`.

The document shows no error and names no resource. Its tokens are Spring Security OAuth2's (the claims
`authorities`, `ati`, `jti`, the answer's `scope` and `jti`), so errors are what Spring answers under
RFC 6749 §5.2: a bad client key 401 `invalid_client`, a bad user password 400 `invalid_grant`, a grant it
does not know 400 `unsupported_grant_type`; a refresh token is rotated (RFC 6749 §6) and a used one
refused with 400 `invalid_grant`. `expires_in` counts from the moment of the answer, as Spring's does
(8999 for a 9000 s token: the document's own example).
"""

from __future__ import annotations

import hashlib
from typing import Any

import falcon

from tests.providers.base import BadRequest, Issuer, Knobs, make_app, read_fields, reply, same, token_headers

CLIENT_KEY = "dive-key'3+/%:\"x"
USERNAME = "device-independent"
PASSWORD = "dive pass'+/%:\"3"
PASSWORD_MD5 = hashlib.md5(PASSWORD.encode()).hexdigest()
LIFETIME = 9000
REFRESH_LIFETIME = 180 * 24 * 3600

CREDENTIALS = {"client_key": CLIENT_KEY, "username": USERNAME, "password": PASSWORD}


class Errors:
    """RFC 6749 §5.2 error bodies, as Spring Security OAuth2 writes them."""

    def __init__(self, knobs: Knobs) -> None:
        self.knobs = knobs

    def __call__(self, resp: falcon.Response, status: int, error: str, description: str, challenge: str = "") -> None:
        if self.knobs.undocumented_refusal:
            resp.status, resp.content_type = status, "text/html"
            resp.text = f"<html><body>{status}: {description}</body></html>"
        else:
            reply(resp, status, {"error": error, "error_description": description})
        if challenge:
            resp.set_header("WWW-Authenticate", challenge)

    def http(self, resp: falcon.Response, status: int, reason: str) -> None:
        """An error of the framework or the body reader (no route, wrong method, too large)."""
        codes = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
        self(resp, status, codes.get(status, "invalid_request" if status < 500 else "server_error"), reason)


class TokenEndpoint:
    """POST /v1/token: both grants of the document."""

    def __init__(self, knobs: Knobs, issuer: Issuer, render: Errors) -> None:
        self.knobs, self.issuer, self.render = knobs, issuer, render

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        scheme, _, key = (req.get_header("Authorization") or "").partition(" ")
        if scheme.lower() != "basic" or not same(key.strip(), CLIENT_KEY):
            self.render(resp, 401, "invalid_client", "Bad client credentials", 'Basic realm="oauth2/client"')
            return
        try:
            fields = read_fields(req)
        except BadRequest as bad:
            self.render.http(resp, bad.status, bad.reason)
            return
        grant = req.get_param("grant_type")
        if grant == "device_credentials":
            if not fields.get("username") or not fields.get("password"):
                self.render(resp, 400, "invalid_request", "username and password are required")
            elif fields["username"] != USERNAME or not (
                same(fields["password"].lower(), PASSWORD_MD5) or self.knobs.any_secret
            ):
                self.render(resp, 400, "invalid_grant", "Bad credentials")
            else:
                self.issue(resp, fields["username"])
        elif grant == "refresh_token":
            claims = self.issuer.use_refresh(fields.get("refresh_token", ""))
            if claims is None:
                self.render(resp, 400, "invalid_grant", "Invalid refresh token")
            else:
                self.issue(resp, str(claims.get("user_name", USERNAME)))
        elif not grant:
            self.render(resp, 400, "invalid_request", "Missing grant type")
        else:
            self.render(resp, 400, "unsupported_grant_type", f"Unsupported grant type: {grant}")

    def issue(self, resp: falcon.Response, username: str) -> None:
        lifetime = self.knobs.lifetime or LIFETIME
        common = {
            "aud": ["api-server", "oauth-server"],
            "device_id": "123456",
            "grant_type": "device_credentials",
            "scope": ["device"],
            "authorities": ["ROLE_CATALOG"],
            "client_id": "dive-independent",
            "user_name": username,
        }
        access = self.issuer.issue(username, lifetime, **common)
        jti = self.issuer.claims(access, "access") or {}
        refresh = self.issuer.issue(username, REFRESH_LIFETIME, "refresh", ati=jti.get("jti", ""), **common)
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": self.knobs.token_type or "bearer",
            "refresh_token": refresh,
            "expires_in": lifetime * 10 if self.knobs.lying_expires_in else lifetime - 1,
            "scope": "device",
            "device_id": "123456",
            "client_id": "dive-independent",
            "jti": jti.get("jti", ""),
        }
        if self.knobs.omit_optional:
            del body["scope"]  # DIVE-16: never requested, so optional
        if self.knobs.extra_members:
            body["authorities"] = ["ROLE_CATALOG"]
        if self.knobs.echo_secret:
            body["client_key"] = CLIENT_KEY
        reply(resp, 200, body, headers=token_headers(self.knobs))


class Resource:
    """A REST API service the document does not name (`Knobs.resource_path`): a bearer is required."""

    def __init__(self, knobs: Knobs, issuer: Issuer, render: Errors) -> None:
        self.knobs, self.issuer, self.render = knobs, issuer, render

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if self.issuer.bearer(req.get_header("Authorization")) is None:
            challenge = 'Bearer realm="api-server", error="invalid_token"'
            if self.knobs.empty_challenge_body:
                reply(resp, 401, headers={"WWW-Authenticate": challenge})
            else:
                self.render(resp, 401, "invalid_token", "Invalid access token", challenge)
            return
        reply(resp, 200, {"channels": []})


def app(knobs: Knobs) -> falcon.App:
    """The Dive provider `knobs` describe."""
    render = Errors(knobs)
    issuer = Issuer("HS256", knobs, issuer=None, kind_of=lambda claims: "refresh" if "ati" in claims else "access")
    served = make_app(render.http)
    served.add_route("/v1/token", TokenEndpoint(knobs, issuer, render))
    if knobs.resource_path:
        served.add_route(knobs.resource_path, Resource(knobs, issuer, render))
    return served


RESOURCE = "/v1/channels"

VARIATIONS = {
    "token_type_capitalised": Knobs(token_type="Bearer"),
    "lifetime_3600": Knobs(lifetime=3600),
    "extra_members": Knobs(extra_members=True),
    "no_scope": Knobs(omit_optional=True),
    "refresh_reusable": Knobs(reuse_accepted=True),  # DIVE-11: Spring's default; the document is silent
    "extra_resource": Knobs(resource_path=RESOURCE),
    "empty_challenge_body": Knobs(resource_path=RESOURCE, empty_challenge_body=True),
}

BUGS = {
    "any_secret": Knobs(any_secret=True),
    "undocumented_refusal": Knobs(undocumented_refusal=True),
    "any_bearer": Knobs(any_bearer=True, resource_path=RESOURCE),
    "lying_expires_in": Knobs(lying_expires_in=True),
    "refresh_as_bearer": Knobs(refresh_as_bearer=True, resource_path=RESOURCE),
    "access_as_refresh": Knobs(access_as_refresh=True),
    "echo_secret": Knobs(echo_secret=True),
    "cacheable": Knobs(cacheable=True),
}
