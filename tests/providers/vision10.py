"""Vision10, from 002_39cd937695dba9c6.txt: `POST /v1/api/oauth/token` with a JSON body (`grant_type`,
`scope`, `client_id`, `client_secret`, of at most 50/50/50/100 characters), an RS256 JWT whose claims are
the example's (`scope`, `client_id`, `firstVisionId`, `exp`), `expires_in` 7199, and errors as an array of
problem items (`errorCode` 240101 "Invalid client credentials or scope", `status` the HTTP status).

The document names no protected resource and publishes no key set; `Knobs.resource_path` and
`Knobs.jwks` add them (a resource verify is told of with `--resource`, RFC 7517 keys at
`/.well-known/jwks.json`). Errors it does not list (a malformed body, a grant it does not know) are 400
items of the same shape.
"""

from __future__ import annotations

from typing import Any

import falcon

from tests.providers.base import BadRequest, Issuer, Knobs, make_app, read_fields, reply, same, token_headers

CLIENT_ID = "vision-independent-user"
CLIENT_SECRET = "v10'Secret+/%:\"2"
SCOPE = "all"
LIFETIME = 7199  # the example's expires_in
LENGTHS = {"scope": 50, "grant_type": 50, "client_id": 50, "client_secret": 100}

CREDENTIALS = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "scope": SCOPE}

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
}


def _render(knobs: Knobs) -> Any:
    def render(resp: falcon.Response, status: int, reason: str, code: str = "240100", instance: str = "") -> None:
        if knobs.undocumented_refusal:
            resp.status, resp.content_type = status, "text/html"
            resp.text = f"<html><body>{status} {reason}</body></html>"
            return
        item = {
            "detail": "Please refer to invalid-params for error details",
            "errorCode": code,
            "instance": instance,
            "invalid-params": [reason],
            "source": "AGT",
            "status": 400 if knobs.error_status_differs and status == 401 else status,
            "title": TITLES.get(status, "Error"),
        }
        reply(resp, status, [item])

    return render


class TokenEndpoint:
    """POST /v1/api/oauth/token."""

    def __init__(self, knobs: Knobs, issuer: Issuer, render: Any) -> None:
        self.knobs, self.issuer, self.render = knobs, issuer, render

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            fields = read_fields(req, form_ok=False)
        except BadRequest as bad:
            self.render(resp, bad.status, bad.reason, instance=req.path)
            return
        for name, limit in LENGTHS.items():
            if not fields.get(name):
                self.render(resp, 400, f"{name} is required", instance=req.path)
                return
            if len(fields[name]) > limit:
                self.render(resp, 400, f"{name} is longer than {limit}", instance=req.path)
                return
        if fields["grant_type"] != "client_credentials":
            self.render(resp, 400, "Unsupported grant_type", instance=req.path)
            return
        good_secret = same(fields["client_secret"], CLIENT_SECRET) or self.knobs.any_secret
        if fields["client_id"] != CLIENT_ID or not good_secret or fields["scope"] != SCOPE:
            self.render(resp, 401, "Invalid client credentials or scope", "240101", req.path)
            resp.set_header("Cache-Control", "no-store")
            return
        lifetime = self.knobs.lifetime or LIFETIME
        token = self.issuer.issue(CLIENT_ID, lifetime, scope=SCOPE, client_id=CLIENT_ID, firstVisionId="00000AUIND")
        body: dict[str, Any] = {
            "access_token": token,
            "token_type": self.knobs.token_type or "Bearer",
            "expires_in": lifetime * 10 if self.knobs.lying_expires_in else lifetime,
        }
        if self.knobs.extra_members:
            body.update({"scope": SCOPE, "jti": "not-documented"})
        if self.knobs.echo_secret:
            body["client"] = {"id": CLIENT_ID, "secret": CLIENT_SECRET}
        reply(resp, 200, body, headers=token_headers(self.knobs))


class Resource:
    """A bearer-protected resource the document does not name (`Knobs.resource_path`)."""

    def __init__(self, knobs: Knobs, issuer: Issuer, render: Any) -> None:
        self.knobs, self.issuer, self.render = knobs, issuer, render

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if self.issuer.bearer(req.get_header("Authorization")) is None:
            if self.knobs.empty_challenge_body:
                reply(resp, 401)
            else:
                self.render(resp, 401, "Invalid or expired access token", "240102", req.path)
            resp.set_header("WWW-Authenticate", 'Bearer error="invalid_token"')
            return
        reply(resp, 200, {"status": "ok"})


class KeySet:
    """GET /.well-known/jwks.json: the public key the tokens verify with (RFC 7517)."""

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        reply(resp, 200, self.issuer.jwks())


def app(knobs: Knobs) -> falcon.App:
    """The Vision10 provider `knobs` describe."""
    render = _render(knobs)
    algorithm = knobs.extra.get("algorithm", "RS256")
    issuer = Issuer(algorithm, knobs, issuer=None, kind_of=lambda claims: "access")  # the example's claims only
    served = make_app(render)
    served.add_route("/v1/api/oauth/token", TokenEndpoint(knobs, issuer, render))
    if knobs.resource_path:
        served.add_route(knobs.resource_path, Resource(knobs, issuer, render))
    if knobs.jwks:
        served.add_route("/.well-known/jwks.json", KeySet(issuer))
    return served


RESOURCE = "/v1/api/customers"

VARIATIONS = {
    "token_type_lowercase": Knobs(token_type="bearer"),
    "lifetime_3600": Knobs(lifetime=3600),
    "extra_members": Knobs(extra_members=True),
    "jwks": Knobs(jwks=True),
    "extra_resource": Knobs(resource_path=RESOURCE),
    "empty_challenge_body": Knobs(resource_path=RESOURCE, empty_challenge_body=True),
}

BUGS = {
    "any_secret": Knobs(any_secret=True),
    "undocumented_refusal": Knobs(undocumented_refusal=True),
    "any_bearer": Knobs(any_bearer=True, resource_path=RESOURCE),
    "lying_expires_in": Knobs(lying_expires_in=True),
    "unpublished_key": Knobs(jwks=True, unpublished_key=True),
    "hmac_as_rs256": Knobs(jwks=True, hmac_as_rs256=True),
    "hmac_as_rs256_unpublished": Knobs(hmac_as_rs256=True),  # no key set: the signature's size gives it away
    "hs256": Knobs(extra={"algorithm": "HS256"}),  # the document's header is RS256
    "echo_secret": Knobs(echo_secret=True),
    "error_status_differs": Knobs(error_status_differs=True),
    "cacheable": Knobs(cacheable=True),
}
