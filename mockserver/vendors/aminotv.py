"""AminoTV: user login, cookie exchange, per-profile tokens and refresh, all in JSON:API envelopes.

Source: 004_4efc1a5b80b28e71.txt; contract openapi/aminotv.yaml; register openapi/discrepancies/aminotv.yaml.
The document names the operations but shows only one token response, so paths, bodies and every error
are the contract's assumptions. Tokens are HS256 JWTs shaped like the document's (`iss`, `iat`, `exp`,
`aud`, `sub`, `profile_id`, `type`, `stb_serial_no`), plus `jti` and `sid` (the login session, i.e. the
refresh-token family) so single tokens and whole sessions can be revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

import jwt

from tokenmock.contracts import Operation
from tokenmock.mockserver.errors import (
    InvalidClient,
    InvalidRequest,
    InvalidToken,
    MethodNotAllowed,
    MockError,
    NotFound,
    PayloadTooLarge,
    ServerFault,
    StoreUnavailable,
    UnsupportedMediaType,
)
from tokenmock.mockserver.pipeline.exchange import Call, Reply
from tokenmock.mockserver.tokens import Issued, JwtSigner, canonical_jws
from tokenmock.mockserver.vendors.base import (
    CLAIMS,
    KEY,
    LIFETIME,
    TEXT,
    TEXTS,
    Runtime,
    Vendor,
    operation,
    settings_object,
)

JSON_API = "application/vnd.api+json"
# Path parameters the contract names: a validation error about one points at `source.parameter`.
_PATH_PARAMETERS = frozenset({"profile_id", "channel_id"})
# A runtime-registered user without profiles still gets a stable default one.
_PROFILE_NAMESPACE = uuid.UUID("6f0e3c1e-2a4b-4f51-9d0a-7b1f5a1c2d3e")


class Refused(MockError):
    """A 401 refusal of a grant (password, cookie, refresh token) with AminoTV's own code and title."""

    status = 401

    def __init__(self, code: str, title: str, description: str) -> None:
        super().__init__(description)
        self.error = code
        self.title = title


def _bad_credentials() -> Refused:
    return Refused("invalid_credentials", "Invalid credentials", "The username or password is wrong.")


def _bad_refresh(description: str) -> Refused:
    return Refused("invalid_refresh_token", "Invalid refresh token", description)


class AminoTV(Vendor):
    """The AminoTV authentication service and its documented protected resource (channel streams)."""

    name = "aminotv"
    realm = "aminotv"
    settings_schema: ClassVar[dict[str, Any]] = settings_object(
        {
            "token_lifetime": LIFETIME,
            "refresh_lifetime": LIFETIME,
            "secret": KEY,
            "issuer": TEXT,
            "audience": TEXT,
            "clients": {
                "type": "array",
                "items": settings_object(
                    {
                        "username": TEXT,
                        "password": TEXT,
                        "user_id": {"type": "integer", "minimum": 0},
                        "stb_serial_no": TEXT,
                        "profiles": {"type": "array", "items": TEXT, "minItems": 1},
                        "claims": CLAIMS,
                    },
                    ("username", "password"),
                ),
            },
            "sessions": {"type": "object", "additionalProperties": TEXT},
            "channels": {"type": "object", "additionalProperties": TEXTS},
            "demo": {"type": "object"},
        }
    )
    defaults: ClassVar[dict[str, Any]] = {
        "token_lifetime": 3600,
        "refresh_lifetime": 98 * 86400,  # the document's example refresh token lives 98 days
        "secret": None,  # HS256 key; generated at start when None
        "issuer": "AminoTV API",  # iss and aud of the document's bearer example
        "audience": "www.aminocom.com",
        # The users, kept under `clients` so the admin API's runtime registration adds users too.
        # The first profile of a user is its default profile.
        "clients": [
            {
                "username": "demo@example.com",
                "password": "demo-password",
                "user_id": 1234,
                "stb_serial_no": "615500266162",
                "profiles": ["84eb61a9-75d4-42c7-8c15-84c3d7776227", "3f1c2a9e-5b7d-4e8a-9c61-2d4b8e7f0a13"],
            },
            {
                "username": "other@example.com",
                "password": "other-password",
                "user_id": 5678,
                "stb_serial_no": "615500999001",
                "profiles": ["b5e0c1d2-7a8b-4c9d-8e0f-1a2b3c4d5e6f"],
            },
        ],
        # Cookie sessions: value of the `session` cookie -> username.
        "sessions": {"demo-session": "demo@example.com"},
        # Channels of getChannelStreams: channel id -> stream ids.
        "channels": {"demo-channel": ["demo-channel-hd", "demo-channel-sd"]},
        "demo": {
            "username": "demo@example.com",
            "password": "demo-password",
            "cookie": "session=demo-session",
            "profiles": ["84eb61a9-75d4-42c7-8c15-84c3d7776227", "3f1c2a9e-5b7d-4e8a-9c61-2d4b8e7f0a13"],
            "channel": "demo-channel",
            # The second user exists so a test can show one user's token never reaches another's profile.
            "other_user": {
                "username": "other@example.com",
                "password": "other-password",
                "profiles": ["b5e0c1d2-7a8b-4c9d-8e0f-1a2b3c4d5e6f"],
            },
        },
    }
    switches = frozenset({"AMINO-03", "AMINO-07", "AMINO-09", "AMINO-10", "AMINO-11"})
    resource_curl = "curl {base}/channels/{channel}/relationships/streams -H 'Authorization: Bearer {token}'"
    demo_curl = (
        "curl -X POST {base}/auth/login -H 'Content-Type: application/vnd.api+json'"
        """ -d '{"username":"{username}","password":"{password}"}'"""
    )

    def __init__(self, runtime: Runtime, settings: Mapping[str, Any], readings: Mapping[str, str]) -> None:
        super().__init__(runtime, settings, readings)
        secret = settings.get("secret")
        # Kept beside the signer: telling an expired refresh token from a forged one needs the key.
        self._secret: bytes = secret.encode() if isinstance(secret, str) else secrets.token_bytes(32)
        self.signer = JwtSigner(clock=self.clock, algorithm="HS256", secret=self._secret)

    def media_types(self, op: Operation) -> tuple[str, ...]:
        """AMINO-07: strictly JSON:API's own media type; leniently also plain JSON (the contract lists both)."""
        if self.lenient("AMINO-07") or not op.request_media_types:
            return op.request_media_types
        return (JSON_API,)

    # Operations.

    @operation("loginUser")
    def login_user(self, call: Call) -> Reply:
        """Issue a token pair for the user's default profile when username and password match."""
        user = self.find_client(username=call.field("username"), password=call.field("password"))
        if user is None:
            raise _bad_credentials()
        return self._tokens(user, self._profiles(user)[0])

    @operation("exchangeCookieForToken")
    def exchange_cookie_for_token(self, call: Call) -> Reply:
        """Issue a token pair for the user of a live cookie session (the session stays valid)."""
        cookie = str(call.cookies.get("session", ""))
        username = None
        for session, owner in (self.settings.get("sessions") or {}).items():
            if hmac.compare_digest(str(session).encode(), cookie.encode()):
                username = str(owner)
        user = self._user(username)
        if user is None:
            raise Refused(
                "invalid_cookie", "Invalid session cookie", "The session cookie is unknown or expired."
            )
        return self._tokens(user, self._profiles(user)[0])

    @operation("getProfileAuthToken")
    def get_profile_auth_token(self, call: Call) -> Reply:
        """Issue a token pair bound to one of the bearer's own profiles (404 for anyone else's)."""
        profile_id = call.path_params["profile_id"]
        try:
            uuid.UUID(profile_id)
        except ValueError:
            raise InvalidRequest("profile_id must be a UUID.", field="profile_id", rule="format") from None
        user, _ = self._bearer(call)
        if profile_id.lower() not in self._profiles(user):
            raise NotFound("The user has no profile with this id.")
        return self._tokens(user, profile_id.lower())

    @operation("createAccessToken")
    def create_access_token(self, call: Call) -> Reply:
        """Renew a token pair with a refresh token (rotated under the strict reading of AMINO-10)."""
        token = str(call.field("refresh_token"))
        try:
            claims = self.signer.verify(token)
        except InvalidToken:
            if self._genuine(token):  # signed by us, so it failed only its time window
                raise Refused("refresh_token_expired", "Refresh token expired", "Log in again.") from None
            raise _bad_refresh("The refresh token is malformed or not issued here.") from None
        if claims.get("type") != "refresh":
            raise _bad_refresh("An access token is not a refresh token.")
        if not self.audience_matches(claims):
            raise _bad_refresh("The refresh token is meant for another audience.")
        sid = str(claims.get("sid", ""))
        refusal = self.refresh_refusal(claims, token, rotate=not self.lenient("AMINO-10"))
        if refusal is not None:
            raise _bad_refresh(
                {
                    "revoked": "The refresh token was revoked.",
                    "reused": "The refresh token was already used.",
                    "unknown": "The refresh token is unknown or revoked.",
                }[refusal]
            )
        user = self._user(claims.get("sub"))
        if user is None:
            raise _bad_refresh("The refresh token's user no longer exists.")
        profiles = self._profiles(user)
        profile = claims.get("profile_id")
        if self.lenient("AMINO-11") or profile not in profiles:
            profile = profiles[0]
        return self._tokens(user, str(profile), session=sid or None)

    @operation("getChannelStreams")
    def get_channel_streams(self, call: Call) -> Reply:
        """The streams of a known channel, for a valid access token."""
        self._bearer(call)
        channel_id = call.path_params["channel_id"]
        streams = (self.settings.get("channels") or {}).get(channel_id)
        if streams is None:
            raise NotFound("No channel with this id.")
        return Reply(
            200,
            {
                "links": {
                    "self": f"/channels/{channel_id}/relationships/streams",
                    "related": f"/channels/{channel_id}/streams",
                },
                "data": [{"type": "streams", "id": str(stream)} for stream in streams],
            },
            media_type=JSON_API,
        )

    # Users, tokens and the checks shared by the operations.

    def _user(self, username: Any) -> Mapping[str, Any] | None:
        if not isinstance(username, str):
            return None
        return next((u for u in self.clients() if u.get("username") == username), None)

    @staticmethod
    def _profiles(user: Mapping[str, Any]) -> list[str]:
        profiles = [str(p).lower() for p in user.get("profiles") or ()]
        return profiles or [str(uuid.uuid5(_PROFILE_NAMESPACE, str(user.get("username"))))]

    @staticmethod
    def _user_id(user: Mapping[str, Any]) -> int:
        value = user.get("user_id")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return int.from_bytes(hashlib.sha256(str(user.get("username")).encode()).digest()[:4], "big")


    def _genuine(self, token: str) -> bool:
        """Whether our key signed `token`, ignoring its time window."""
        if not canonical_jws(token):
            return False
        try:
            if jwt.get_unverified_header(token).get("kid") != self.signer.kid:
                return False
            jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_aud": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.InvalidTokenError:
            return False
        return True

    def _bearer(self, call: Call) -> tuple[Mapping[str, Any], dict[str, Any]]:
        """The user and claims of a valid access token; InvalidToken otherwise."""
        assert call.bearer is not None  # the validator refused requests without one
        claims = self.signer.verify(call.bearer)
        kind = claims.get("type")
        if kind == "refresh":
            raise InvalidToken("A refresh token is not an access token.")
        if kind != "access" and not (kind is None and self.lenient("AMINO-09")):
            raise InvalidToken("The token is not an access token.")
        if not self.audience_matches(claims):
            raise InvalidToken("The access token is meant for another audience.")
        if self.store.is_revoked(str(claims.get("jti", "")), str(claims.get("sid", "")), call.bearer):
            raise InvalidToken("The access token was revoked.")
        user = self._user(claims.get("sub"))
        if user is None:
            raise InvalidToken("The access token's user no longer exists.")
        return user, claims

    def _issue(self, user: Mapping[str, Any], profile: str, kind: str, sid: str, lifetime: int) -> Issued:
        return self.signer.issue(self._claims(user, profile, kind, sid), lifetime)

    def _claims(self, user: Mapping[str, Any], profile: str, kind: str, sid: str) -> dict[str, Any]:
        claims = {
            "iss": self.settings["issuer"],
            "aud": self.settings["audience"],
            "sub": user["username"],
            "profile_id": profile,
            "type": kind,
            "jti": str(uuid.uuid4()),
            "sid": sid,
        }
        if kind == "access":
            claims["stb_serial_no"] = str(user.get("stb_serial_no", ""))
        return claims

    def mint_claims(self, client: Mapping[str, Any], base: str) -> dict[str, Any]:
        """The claims of an access token for the user's default profile, in a session of its own."""
        return self._claims(client, self._profiles(client)[0], "access", str(uuid.uuid4()))

    def _tokens(self, user: Mapping[str, Any], profile: str, *, session: str | None = None) -> Reply:
        """A token pair in the documented envelope; the refresh token is remembered for rotation."""
        sid = session or str(uuid.uuid4())
        lifetime = int(self.settings["token_lifetime"])
        access, shaped = self.issue_access(user, self._claims(user, profile, "access", sid), lifetime)
        refresh = self._issue(user, profile, "refresh", sid, int(self.settings["refresh_lifetime"]))
        self.store.remember_refresh(refresh.claims["jti"], sid, refresh.claims["exp"])
        login = access.claims["iat"]
        attributes = {
            "login_timestamp": login,
            "user_id": self._user_id(user),
            "user_profile_id": profile,
            "access_token": access.token,
            # AMINO-03: strict sends the token's real expiry; lenient copies login_timestamp, as the document.
            "expires_at_timestamp": login if self.lenient("AMINO-03") else access.claims["exp"],
            "refresh_token": refresh.token,
        }
        body = {
            "data": [{"type": "AuthenticationTokens", "id": access.claims["jti"], "attributes": attributes}]
        }
        return Reply.token(body, media_type=JSON_API, shaped=shaped)

    # The vendor's error shape.

    def render_error(self, error: MockError, call: Call | None, path: str) -> Reply:
        """A JSON:API error document with one error whose `status` is the HTTP status."""
        status, code, title = self._classify(error)
        item: dict[str, Any] = {
            "status": str(status),
            "code": code,
            "title": title,
            "detail": error.description,
        }
        if status == 400 and error.field:
            where = "parameter" if error.field in _PATH_PARAMETERS else "pointer"
            item["source"] = {where: error.field if where == "parameter" else "/" + error.field}
        headers: dict[str, str] = {}
        if isinstance(error, InvalidToken):
            headers.update(self.bearer_challenge(error))
        if isinstance(error, MethodNotAllowed):
            headers["Allow"] = ", ".join(error.allowed)
        headers.update(self.retry_hint(error))
        return Reply(status, {"errors": [item]}, headers, JSON_API)

    @staticmethod
    def _classify(error: MockError) -> tuple[int, str, str]:
        """(status, code, title) for a refusal."""
        if isinstance(error, Refused):
            return 401, error.error, error.title
        if isinstance(error, InvalidToken):
            if error.missing:
                return 401, "missing_token", "Authentication required"
            return 401, "invalid_token", "Invalid access token"
        if isinstance(error, InvalidClient):  # only the sessionCookie security check raises it here
            return 401, "invalid_cookie", "Invalid session cookie"
        if isinstance(error, UnsupportedMediaType):
            return 415, "unsupported_media_type", "Unsupported media type"
        if isinstance(error, PayloadTooLarge):
            return 413, "payload_too_large", "Payload too large"
        if isinstance(error, NotFound):
            return 404, "not_found", "Not found"
        if isinstance(error, MethodNotAllowed):
            return 405, "method_not_allowed", "Method not allowed"
        if isinstance(error, ServerFault):
            return 500, "server_error", "Internal server error"
        if isinstance(error, StoreUnavailable):
            return 503, "service_unavailable", "Service unavailable"
        return 400, "invalid_request", "Invalid request"
