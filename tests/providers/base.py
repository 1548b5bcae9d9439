"""What every independent provider shares: the knobs, a token issuer, request parsing and the server.

The providers are written from the vendor documents in shared/seeds/ (and RFC 6749/6750/7617 where a
document is silent), on Falcon rather than the mock's Flask, and never import `tokenmock.mockserver`:
they are the second implementation `tokenmock verify` is held to, so a mistake the mock and verify
share cannot hide. Each vendor module turns `Knobs` into a Falcon app; `Knobs()` is the honest provider,
one changed field an allowed variation or a one-bug variant.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import socketserver
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import falcon
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# What an honest provider reads of a request body at most (the contracts document 413 beyond it).
MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Knobs:
    """How a provider departs from the honest one: allowed variations first, then one-bug flags."""

    # Allowed by the document or the RFCs.
    lifetime: int | None = None  # None: the documented lifetime
    token_type: str | None = None  # None: the documented spelling ("Bearer", "bearer")
    extra_members: bool = False  # unknown members in token answers (RFC 6749 §5.1 "MAY")
    omit_optional: bool = False  # leave out what the document shows but calls optional (DIVE-16, AMINO-14)
    client_auth_status: int | None = None  # 401 invalid_client for body credentials (RFC 6749 §5.2 MAY)
    empty_challenge_body: bool = False  # a 401 at the resource: Bearer challenge, no body (RFC 6750 §3)
    basic_form_encoded: bool = False  # Basic user and password form-encoded first (RFC 6749 §2.3.1)
    html_not_found: bool = False  # a 404 as the servlet container's HTML page (JunctionTV)
    discovery: bool = False  # a Duende IdentityServer's discovery document and key set (ClickView)
    jwks: bool = False  # the key set of an RS256 signer, at /.well-known/jwks.json (Vision10)
    resource_path: str | None = None  # a protected resource the document does not name
    # One bug each.
    any_secret: bool = False
    undocumented_refusal: bool = False  # refusals as an HTML page
    any_bearer: bool = False
    lying_expires_in: bool = False  # expires_in says ten times the JWT's exp - iat
    unpublished_key: bool = False  # signs with a key its JWKS does not publish
    hmac_as_rs256: bool = False  # header says RS256 over an HMAC-SHA256 signature
    refresh_as_bearer: bool = False
    access_as_refresh: bool = False
    echo_secret: bool = False  # the client's secret or password echoed in token answers
    any_scope: bool = False  # grants whatever scope is asked
    error_status_differs: bool = False  # Vision10 error items whose `status` is not the HTTP status
    cacheable: bool = False  # token answers without Cache-Control: no-store
    reuse_accepted: bool = False  # a rotated-out refresh token still works
    extra: Mapping[str, Any] = field(default_factory=dict)  # vendor-specific values


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Issuer:
    """Signs and checks one provider's JWTs, and keeps its refresh tokens (rotation, reuse)."""

    def __init__(
        self,
        algorithm: str,
        knobs: Knobs,
        *,
        issuer: str | None,
        audience: str | None = None,
        kind_of: Callable[[Mapping[str, Any]], str] | None = None,
    ) -> None:
        self.algorithm = algorithm
        # How a token's claims tell access from refresh tokens: by default a `type` claim (AminoTV's own
        # name), else the vendor's rule (Spring's `ati` in Dive's refresh tokens); "access" when untold.
        self.kind_of = kind_of
        self.knobs = knobs
        self.issuer = issuer
        self.audience = audience
        self.secret = secrets.token_bytes(32)
        self.kid = secrets.token_hex(8)
        self.key = _rsa_key() if algorithm == "RS256" else None
        # The key the token is signed with: the published one unless the provider signs with another.
        self.signing_key = _rsa_key() if (self.key is not None and knobs.unpublished_key) else self.key
        self.live_refresh: set[str] = set()  # jti of refresh tokens not yet rotated out
        self.lock = threading.Lock()

    def _sign(self, claims: dict[str, Any]) -> str:
        headers = {"kid": self.kid} if self.key is not None else None
        if self.knobs.hmac_as_rs256:
            header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": self.kid}).encode())
            payload = b64url(json.dumps(claims).encode())
            mac = hmac.new(self.secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
            return f"{header}.{payload}.{b64url(mac)}"
        key: Any = self.signing_key if self.signing_key is not None else self.secret
        return jwt.encode(claims, key, algorithm=self.algorithm, headers=headers)

    def issue(self, subject: str, lifetime: int, kind: str = "access", **claims: Any) -> str:
        """A signed token of `kind` ("access" or "refresh") for `subject`, valid `lifetime` seconds."""
        now = int(time.time())
        body: dict[str, Any] = {"exp": now + lifetime}
        if self.issuer is not None:  # registered claims, where the vendor's tokens carry them
            body.update({"iss": self.issuer, "sub": subject, "iat": now, "jti": secrets.token_hex(16)})
        if self.audience:
            body["aud"] = self.audience
        body = {**body, **claims}
        if self.kind_of is None:
            body["type"] = kind
        if kind == "refresh":
            body.setdefault("jti", secrets.token_hex(16))
            with self.lock:
                self.live_refresh.add(body["jti"])
        return self._sign(body)

    def claims(self, token: str, kind: str) -> dict[str, Any] | None:
        """The claims of a token this provider issued as `kind` and that is still valid, else None."""
        try:
            if self.knobs.hmac_as_rs256:
                header, payload, signature = token.split(".")
                mac = hmac.new(self.secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
                if not hmac.compare_digest(b64url(mac), signature):
                    return None
                found = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
                if found.get("exp", 0) < time.time():
                    return None
            else:
                key: Any = self.signing_key.public_key() if self.signing_key is not None else self.secret
                found = jwt.decode(
                    token, key, algorithms=[self.algorithm], audience=self.audience, options={"verify_aud": False}
                )
        except (ValueError, jwt.PyJWTError):
            return None
        confused = (kind == "access" and self.knobs.refresh_as_bearer) or (
            kind == "refresh" and self.knobs.access_as_refresh
        )
        if self.kind(found) != kind and not confused:
            return None
        return dict(found)

    def kind(self, claims: Mapping[str, Any]) -> str:
        """ "access" or "refresh": what a token's claims say it is."""
        return self.kind_of(claims) if self.kind_of is not None else str(claims.get("type", "access"))

    def bearer(self, authorization: str | None) -> dict[str, Any] | None:
        """The claims of the access token in an `Authorization: Bearer` header (RFC 6750 §2.1), else None."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        if self.knobs.any_bearer:
            return {"sub": "anyone", "scope": "any"}
        return self.claims(token.strip(), "access")

    def use_refresh(self, token: str) -> dict[str, Any] | None:
        """Redeem a refresh token once (rotation); the claims, or None when it is no live refresh token."""
        found = self.claims(token, "refresh")
        if found is None:
            return None
        with self.lock:
            if self.kind(found) == "refresh" and found.get("jti") not in self.live_refresh:
                return found if self.knobs.reuse_accepted else None
            self.live_refresh.discard(found.get("jti", ""))
        return found

    def jwks(self) -> dict[str, Any]:
        """The published key set (RFC 7517): the public half of the published key."""
        assert self.key is not None
        numbers = self.key.public_key().public_numbers()
        n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
        key = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid, "n": b64url(n), "e": b64url(e)}
        return {"keys": [key]}

    def public_pem(self) -> bytes:
        """The published public key in PEM, for tests that check a signature themselves."""
        assert self.key is not None
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


# Requests.


class BadRequest(Exception):
    """The request body cannot be read: too large, not the media type it claims, or not text."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def read_fields(req: falcon.Request, *, json_ok: bool = True, form_ok: bool = True) -> dict[str, str]:
    """The string fields of a JSON object or form body (first value of a repeated form field)."""
    length = req.content_length or 0
    if length > MAX_BODY:
        raise BadRequest(413, "request body too large")
    raw = req.bounded_stream.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise BadRequest(413, "request body too large")
    media = (req.content_type or "").split(";")[0].strip().lower()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(400, "request body is not UTF-8") from None
    if json_ok and (media == "application/json" or media.endswith("+json")):
        try:
            document = json.loads(text) if text.strip() else {}
        except ValueError:
            raise BadRequest(400, "request body is not JSON") from None
        if not isinstance(document, dict):
            raise BadRequest(400, "request body is not a JSON object")
        return {k: v for k, v in document.items() if isinstance(v, str)}
    if form_ok and media == "application/x-www-form-urlencoded":
        found: dict[str, str] = {}
        for name, value in parse_qsl(text, keep_blank_values=True):
            found.setdefault(name, value)
        return found
    raise BadRequest(415, f"unsupported media type {media or '(none)'}")


def basic_credentials(authorization: str | None, *, form_encoded: bool = False) -> tuple[str, str] | None:
    """(user, password) of RFC 7617 Basic credentials; with RFC 6749 §2.3.1 both are form-decoded."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    if not colon:
        return None
    if form_encoded:
        user, password = unquote_plus(user), unquote_plus(password)
    return user, password


def same(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a credential."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def reply(
    resp: falcon.Response,
    status: int,
    document: Any = None,
    *,
    media_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
) -> None:
    """Set the status, a JSON body (none when `document` is None) and headers."""
    resp.status = status
    if document is not None:
        resp.content_type = media_type
        resp.text = json.dumps(document)
    for name, value in (headers or {}).items():
        resp.set_header(name, value)


def token_headers(knobs: Knobs) -> dict[str, str]:
    """RFC 6749 §5.1: token answers are not to be cached (left out by the `cacheable` bug)."""
    return {} if knobs.cacheable else {"Cache-Control": "no-store", "Pragma": "no-cache"}


def make_app(render_error: Callable[[falcon.Response, int, str], None]) -> falcon.App:
    """A Falcon app whose own errors (no route, wrong method, a crash) render in the vendor's shape."""
    app = falcon.App(media_type=None)  # no Content-Type on an empty body (a bare 401 is no JSON answer)
    app.req_options.strip_url_path_trailing_slash = False

    def on_http_error(req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError, params: Any) -> None:
        render_error(resp, error.status_code, error.title or "error")
        for name, value in (error.headers or {}).items():
            resp.set_header(name, value)

    def on_crash(req: falcon.Request, resp: falcon.Response, error: Exception, params: Any) -> None:
        if isinstance(error, BadRequest):
            render_error(resp, error.status, error.reason)
        elif isinstance(error, falcon.HTTPError):
            on_http_error(req, resp, error, params)
        else:
            render_error(resp, 500, "internal error")

    app.add_error_handler(Exception, on_crash)
    return app


# Serving.


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log on the test's stderr."""


class Served:
    """A WSGI app on 127.0.0.1 at a port the kernel chose, served by threads until `stop()`."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self._server = _Server(("127.0.0.1", 0), _QuietHandler)
        self._server.set_app(app)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
