"""AminoTV, from 004_4efc1a5b80b28e71.txt: a user login, a cookie-to-token exchange and per-profile tokens,
each answering the JSON:API `AuthenticationTokens` document the document prints (HS256 JWTs whose `type`
claim says access or refresh), a refresh that "MUST use the refresh token obtained from the previous
authentication" (rotation: an older one is refused), and the bearer-protected
`GET /channels/{channel_id}/relationships/streams`.

The document gives the operations only as Swagger anchors (no path, body or error): the paths and the
`username`/`password` body here are the ones the contract assumes, the only way a client can find them;
errors are JSON:API error documents (`status` the HTTP status as a string, a `code`, a `title`).
"""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any

import falcon

from tests.providers.base import Issuer, Knobs, make_app, read_fields, reply, same, token_headers

USERNAME = "viewer@independent.example"
PASSWORD = "amino pass'+/%:\"4"
SESSION = "sess-" + "4f1c2a"
PROFILE_ID = "6c7f94af-b603-4f39-8384-f12226ea9d4c"
CHANNEL_ID = "channel-7"
LIFETIME = 604805  # the example token's exp - iat
REFRESH_LIFETIME = 98 * 24 * 3600
JSON_API = "application/vnd.api+json"

CREDENTIALS = {
    "username": USERNAME,
    "password": PASSWORD,
    "session": SESSION,
    "profile_id": PROFILE_ID,
    "channel_id": CHANNEL_ID,
}


class Errors:
    """JSON:API error documents."""

    def __init__(self, knobs: Knobs) -> None:
        self.knobs = knobs

    def __call__(self, resp: falcon.Response, status: int, code: str, detail: str, challenge: str = "") -> None:
        if self.knobs.undocumented_refusal:
            resp.status, resp.content_type = status, "text/html"
            resp.text = f"<html><body>{detail}</body></html>"
        elif challenge and self.knobs.empty_challenge_body:
            reply(resp, status)
        else:
            error = {
                "status": str(status),
                "code": code,
                "title": falcon.code_to_http_status(status)[4:],
                "detail": detail,
            }
            reply(resp, status, {"errors": [error]}, media_type=JSON_API)
        if challenge:
            resp.set_header("WWW-Authenticate", challenge)

    def http(self, resp: falcon.Response, status: int, reason: str) -> None:
        """An error of the framework or the body reader."""
        self(resp, status, reason.lower().replace(" ", "_"), reason)


class Tokens:
    """Issues the `AuthenticationTokens` document every token operation answers."""

    def __init__(self, knobs: Knobs, issuer: Issuer) -> None:
        self.knobs, self.issuer = knobs, issuer

    def answer(self, resp: falcon.Response, profile_id: str = PROFILE_ID) -> None:
        lifetime = self.knobs.lifetime or LIFETIME
        claims = {"profile_id": profile_id, "stb_serial_no": "615500266162"}
        access = self.issuer.issue(USERNAME, lifetime, **claims)
        refresh = self.issuer.issue(USERNAME, REFRESH_LIFETIME, "refresh", **claims)
        now = int(time.time())
        attributes: dict[str, Any] = {
            "login_timestamp": now,
            "user_id": 1234,
            "user_profile_id": profile_id,
            "access_token": access,
            "expires_at_timestamp": now + lifetime,
            "refresh_token": refresh,
        }
        if self.knobs.extra_members:
            attributes["token_kind"] = "user"
        if self.knobs.echo_secret:
            attributes["password"] = PASSWORD
        ident = "login-" + secrets.token_hex(4) if self.knobs.omit_optional else str(uuid.uuid4())
        document = {"data": [{"type": "AuthenticationTokens", "id": ident, "attributes": attributes}]}
        reply(resp, 200, document, media_type=JSON_API, headers=token_headers(self.knobs))


class Login:
    """POST /auth/login: username and password."""

    def __init__(self, knobs: Knobs, tokens: Tokens, errors: Errors) -> None:
        self.knobs, self.tokens, self.errors = knobs, tokens, errors

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        fields = read_fields(req, form_ok=False)
        if not fields.get("username") or not fields.get("password"):
            self.errors(resp, 400, "invalid_request", "username and password are required")
        elif fields["username"] != USERNAME or not (same(fields["password"], PASSWORD) or self.knobs.any_secret):
            self.errors(resp, 401, "invalid_credentials", "The username or password is wrong.")
        else:
            self.tokens.answer(resp)


class CookieExchange:
    """POST /auth/cookie-exchange: a cookie-logged-in user's session for a token."""

    def __init__(self, tokens: Tokens, errors: Errors) -> None:
        self.tokens, self.errors = tokens, errors

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not same(req.cookies.get("session"), SESSION):
            self.errors(resp, 401, "invalid_session", "No valid session cookie.")
        else:
            self.tokens.answer(resp)


class Refresh:
    """POST /auth/refresh: the latest refresh token for a new pair."""

    def __init__(self, tokens: Tokens, issuer: Issuer, errors: Errors) -> None:
        self.tokens, self.issuer, self.errors = tokens, issuer, errors

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        fields = read_fields(req, form_ok=False)
        if not fields.get("refresh_token"):
            self.errors(resp, 400, "invalid_request", "refresh_token is required")
            return
        claims = self.issuer.use_refresh(fields["refresh_token"])
        if claims is None:
            self.errors(resp, 401, "invalid_refresh_token", "The refresh token is invalid, expired or used.")
        else:
            self.tokens.answer(resp, str(claims.get("profile_id", PROFILE_ID)))


class Protected:
    """The bearer-protected operations: a profile's token and a channel's streams."""

    def __init__(self, tokens: Tokens, issuer: Issuer, errors: Errors) -> None:
        self.tokens, self.issuer, self.errors = tokens, issuer, errors

    def bearer(self, req: falcon.Request, resp: falcon.Response) -> bool:
        if self.issuer.bearer(req.get_header("Authorization")) is not None:
            return True
        self.errors(
            resp, 401, "invalid_token", "The access token is invalid or expired.", 'Bearer error="invalid_token"'
        )
        return False

    def on_post_profile(self, req: falcon.Request, resp: falcon.Response, profile_id: str) -> None:
        if not self.bearer(req, resp):
            return
        if profile_id != PROFILE_ID:
            self.errors(resp, 404, "not_found", "No such profile.")
        else:
            self.tokens.answer(resp, profile_id)

    def on_get_streams(self, req: falcon.Request, resp: falcon.Response, channel_id: str) -> None:
        if not self.bearer(req, resp):
            return
        if channel_id != CHANNEL_ID:
            self.errors(resp, 404, "not_found", "No such channel.")
            return
        base = f"/channels/{channel_id}"
        links = {"self": f"{base}/relationships/streams", "related": f"{base}/streams"}
        reply(resp, 200, {"links": links, "data": [{"type": "streams", "id": "stream-1"}]}, media_type=JSON_API)


def app(knobs: Knobs) -> falcon.App:
    """The AminoTV provider `knobs` describe."""
    errors = Errors(knobs)
    issuer = Issuer("HS256", knobs, issuer="AminoTV API", audience="www.aminocom.com")
    tokens = Tokens(knobs, issuer)
    protected = Protected(tokens, issuer, errors)
    served = make_app(errors.http)
    served.add_route("/auth/login", Login(knobs, tokens, errors))
    served.add_route("/auth/cookie-exchange", CookieExchange(tokens, errors))
    served.add_route("/auth/refresh", Refresh(tokens, issuer, errors))
    served.add_route("/profiles/{profile_id}/token", protected, suffix="profile")
    served.add_route("/channels/{channel_id}/relationships/streams", protected, suffix="streams")
    return served


VARIATIONS = {
    "lifetime_3600": Knobs(lifetime=3600),
    "extra_members": Knobs(extra_members=True),
    "non_uuid_id": Knobs(omit_optional=True),  # AMINO-14
    "empty_challenge_body": Knobs(empty_challenge_body=True),
}

BUGS = {
    "any_secret": Knobs(any_secret=True),
    "undocumented_refusal": Knobs(undocumented_refusal=True),
    "any_bearer": Knobs(any_bearer=True),
    "refresh_as_bearer": Knobs(refresh_as_bearer=True),
    "access_as_refresh": Knobs(access_as_refresh=True),
    "echo_secret": Knobs(echo_secret=True),
    "cacheable": Knobs(cacheable=True),
    "refresh_reusable": Knobs(reuse_accepted=True),
}
