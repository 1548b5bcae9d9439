"""ClickView, from 001_0e0313c3f1495410.txt: an OAuth 2.0 client-credentials token endpoint at
`/connect/token` (credentials and `scope` in a form body), RFC 6749 §5.2 errors, and the bearer-protected
`GET /api/v1/example` on the integrations host (one origin here).

Where the document is silent the provider does what ClickView's evident server, a Duende IdentityServer,
does under RFC 6749: `client_secret_basic` is accepted too (RFC 6749 §2.3.1, form-decoded), failed Basic
authentication is 401 with a Basic challenge, tokens are RS256 JWTs, a missing or wrong bearer is 401
with `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 §3.1).
"""

from __future__ import annotations

from typing import Any

import falcon

from tests.providers.base import Issuer, Knobs, basic_credentials, make_app, read_fields, reply, same, token_headers

CLIENT_ID = "cv-independent-client"
CLIENT_SECRET = "cv'Secret+/%:\"1"
SCOPE = "smartembed.viewkey"
LIFETIME = 86400  # "86400 means the token is valid for 24 hours"

CREDENTIALS = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "scope": SCOPE}


def _error_page(resp: falcon.Response, status: int, reason: str) -> None:
    resp.status = status
    resp.content_type = "text/html"
    resp.text = f"<html><body><h1>Error</h1><p>{reason}</p></body></html>"


def _render(knobs: Knobs) -> Any:
    def render(resp: falcon.Response, status: int, reason: str) -> None:
        if knobs.undocumented_refusal:
            _error_page(resp, 400 if status == 415 else status, reason)
        elif status in (404, 405):
            reply(resp, status)  # ASP.NET's bare 404/405: no body
        else:
            error = "invalid_request" if status < 500 else "server_error"
            reply(resp, 400 if status == 415 else status, {"error": error, "error_description": reason})

    return render


class TokenEndpoint:
    """POST /connect/token: the client-credentials grant."""

    def __init__(self, knobs: Knobs, issuer: Issuer) -> None:
        self.knobs, self.issuer = knobs, issuer

    def refuse(
        self, resp: falcon.Response, status: int, error: str, description: str, challenge: str | None = None
    ) -> None:
        if self.knobs.undocumented_refusal:
            _error_page(resp, status, description)
            return
        headers = {"WWW-Authenticate": challenge} if challenge else {}
        reply(resp, status, {"error": error, "error_description": description}, headers=headers)
        resp.set_header("Cache-Control", "no-store")

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        form = read_fields(req, json_ok=False)
        basic = basic_credentials(req.get_header("Authorization"), form_encoded=True)
        in_body = "client_id" in form or "client_secret" in form
        if basic is not None and in_body:
            self.refuse(resp, 400, "invalid_request", "More than one client authentication method was used.")
            return
        client_id, secret = basic if basic is not None else (form.get("client_id"), form.get("client_secret"))
        good_secret = same(secret, CLIENT_SECRET) or (self.knobs.any_secret and bool(secret))
        if client_id != CLIENT_ID or not good_secret:
            if basic is not None:  # RFC 6749 §5.2: 401 with a challenge for the scheme the client used
                self.refuse(resp, 401, "invalid_client", "Client authentication failed.", 'Basic realm="clickview"')
            else:
                status = self.knobs.client_auth_status or 400
                self.refuse(resp, status, "invalid_client", "Client authentication failed.")
            return
        grant = form.get("grant_type")
        if not grant:
            self.refuse(resp, 400, "invalid_request", "grant_type is missing.")
            return
        if grant != "client_credentials":
            self.refuse(resp, 400, "unsupported_grant_type", "The grant type is not supported.")
            return
        asked = form.get("scope", "").split()
        if not asked:
            self.refuse(resp, 400, "invalid_request", "scope is missing.")
            return
        if not self.knobs.any_scope and set(asked) - {SCOPE}:
            self.refuse(resp, 400, "invalid_scope", "The requested scope is invalid, unknown or not allowed.")
            return
        self.issue(resp, " ".join(asked))

    def issue(self, resp: falcon.Response, scope: str) -> None:
        lifetime = self.knobs.lifetime or LIFETIME
        token = self.issuer.issue(CLIENT_ID, lifetime, client_id=CLIENT_ID, scope=scope.split())
        body: dict[str, Any] = {
            "access_token": token,
            "token_type": self.knobs.token_type or "Bearer",
            "expires_in": lifetime * 10 if self.knobs.lying_expires_in else lifetime,
            "scope": scope,
        }
        if self.knobs.extra_members:
            body.update({"issued_token_type": "urn:ietf:params:oauth:token-type:access_token", "ext": {"a": 1}})
        if self.knobs.echo_secret:
            body["client_secret"] = CLIENT_SECRET
        reply(resp, 200, body, headers=token_headers(self.knobs))


class Example:
    """GET /api/v1/example (and `resource_path`): the documented protected resource."""

    def __init__(self, knobs: Knobs, issuer: Issuer) -> None:
        self.knobs, self.issuer = knobs, issuer

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        claims = self.issuer.bearer(req.get_header("Authorization"))
        if claims is None:
            challenge = 'Bearer error="invalid_token", error_description="The access token is invalid"'
            body = None if self.knobs.empty_challenge_body else {"error": "invalid_token"}
            reply(resp, 401, body, headers={"WWW-Authenticate": challenge})
            return
        if SCOPE not in claims.get("scope", []) and claims.get("scope") != "any":
            challenge = f'Bearer error="insufficient_scope", scope="{SCOPE}"'
            reply(resp, 403, {"error": "insufficient_scope"}, headers={"WWW-Authenticate": challenge})
            return
        reply(resp, 200, {"message": "ok", "client_id": str(claims.get("client_id", "")), "scope": SCOPE})


class Discovery:
    """What a Duende IdentityServer publishes: the discovery document and its key set."""

    def __init__(self, issuer: Issuer, jwks: bool) -> None:
        self.issuer, self.jwks = issuer, jwks

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if self.jwks:
            reply(resp, 200, self.issuer.jwks())
            return
        base = req.prefix
        reply(
            resp,
            200,
            {
                "issuer": base,
                "jwks_uri": f"{base}/.well-known/openid-configuration/jwks",
                "authorization_endpoint": f"{base}/connect/authorize",
                "token_endpoint": f"{base}/connect/token",
                "userinfo_endpoint": f"{base}/connect/userinfo",
                "end_session_endpoint": f"{base}/connect/endsession",
                "check_session_iframe": f"{base}/connect/checksession",
                "revocation_endpoint": f"{base}/connect/revocation",
                "introspection_endpoint": f"{base}/connect/introspect",
                "device_authorization_endpoint": f"{base}/connect/deviceauthorization",
                "backchannel_authentication_endpoint": f"{base}/connect/ciba",
                "pushed_authorization_request_endpoint": f"{base}/connect/par",
                "require_pushed_authorization_requests": False,
                "frontchannel_logout_supported": True,
                "frontchannel_logout_session_supported": True,
                "backchannel_logout_supported": True,
                "backchannel_logout_session_supported": True,
                "scopes_supported": ["openid", "profile", SCOPE, "offline_access"],
                "claims_supported": ["sub", "name", "client_id", "scope"],
                "grant_types_supported": [
                    "authorization_code",
                    "client_credentials",
                    "refresh_token",
                    "implicit",
                    "urn:ietf:params:oauth:grant-type:device_code",
                    "urn:openid:params:grant-type:ciba",
                ],
                "response_types_supported": ["code", "token", "id_token", "id_token token", "code id_token"],
                "response_modes_supported": ["form_post", "query", "fragment"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                    "private_key_jwt",
                ],
                "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256", "PS256"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "subject_types_supported": ["public"],
                "code_challenge_methods_supported": ["plain", "S256"],
                "request_parameter_supported": True,
                "request_object_signing_alg_values_supported": ["RS256", "ES256", "PS256", "HS256"],
                "prompt_values_supported": ["none", "login", "consent", "select_account"],
                "authorization_response_iss_parameter_supported": True,
                "backchannel_token_delivery_modes_supported": ["poll"],
                "backchannel_user_code_parameter_supported": True,
                "dpop_signing_alg_values_supported": ["RS256", "ES256", "PS256"],
            },
        )


def app(knobs: Knobs) -> falcon.App:
    """The ClickView provider `knobs` describe."""
    render = _render(knobs)
    issuer = Issuer("RS256", knobs, issuer="https://auth.clickviewapp.com")
    served = make_app(render)
    served.add_route("/connect/token", TokenEndpoint(knobs, issuer))
    served.add_route("/api/v1/example", Example(knobs, issuer))
    if knobs.resource_path:
        served.add_route(knobs.resource_path, Example(knobs, issuer))
    if knobs.discovery:
        served.add_route("/.well-known/openid-configuration", Discovery(issuer, jwks=False))
        served.add_route("/.well-known/openid-configuration/jwks", Discovery(issuer, jwks=True))
    return served


VARIATIONS = {
    "invalid_client_401": Knobs(client_auth_status=401),
    "empty_challenge_body": Knobs(empty_challenge_body=True),
    "token_type_lowercase": Knobs(token_type="bearer"),
    "lifetime_3600": Knobs(lifetime=3600),
    "extra_members": Knobs(extra_members=True),
    "duende_discovery": Knobs(discovery=True),
    "extra_resource": Knobs(resource_path="/api/v1/videos"),
}

BUGS = {
    "any_secret": Knobs(any_secret=True),
    "undocumented_refusal": Knobs(undocumented_refusal=True),
    "any_bearer": Knobs(any_bearer=True),
    "lying_expires_in": Knobs(lying_expires_in=True),
    "echo_secret": Knobs(echo_secret=True),
    "any_scope": Knobs(any_scope=True),
    "cacheable": Knobs(cacheable=True),
}
