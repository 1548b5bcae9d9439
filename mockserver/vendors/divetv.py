"""Dive: `/v1/token` with a Basic client key, an MD5 password and a rotating refresh token; HS256 JWTs.

Source: 003_6e2305840961657a.txt; contract openapi/divetv.yaml; register openapi/discrepancies/divetv.yaml
(switches DIVE-01..06 and DIVE-11). Dive's tokens are those of legacy Spring Security OAuth2 (`jti`,
`authorities`, `ati`, lower-case `"bearer"`), so where the document is silent (every error) the mock
answers as that server does: RFC 6749 §5.2 JSON, 401 plus a Basic challenge for a bad client key.

Beyond the document's claims, both tokens carry `iat` (from the signer) and `sid`, the login session:
it is the refresh-token family, so replaying a rotated refresh token revokes the session's access
tokens as well as its refresh tokens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from tokenmock.contracts import Operation
from tokenmock.mockserver.errors import (
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidToken,
    MethodNotAllowed,
    MockError,
    PayloadTooLarge,
    ServerFault,
    StoreUnavailable,
    UnsupportedGrantType,
    UnsupportedMediaType,
)
from tokenmock.mockserver.pipeline.exchange import TOKEN_HEADERS, BasicCredentials, Call, Reply
from tokenmock.mockserver.tokens import Issued, JwtSigner, new_jti
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

DEVICE_GRANT, REFRESH_GRANT = "device_credentials", "refresh_token"
JSON = "application/json"
# The claims of the document's decoded access token, which the protected resource echoes.
RESOURCE_CLAIMS = ("aud", "device_id", "grant_type", "scope", "exp", "authorities", "client_id", "jti")
# Spring's realm for client authentication at the token endpoint.
CLIENT_CHALLENGE = {"WWW-Authenticate": 'Basic realm="oauth2/client"'}
BAD_CREDENTIALS = "Bad credentials"
_MD5_HEX = {"lenient": re.compile(r"[0-9a-fA-F]{32}"), "strict": re.compile(r"[0-9a-f]{32}")}
MAX_DEVICE_ID = 128


def md5_hex(text: str) -> str:
    """The password as Dive expects it on the wire: the MD5 hex digest of its UTF-8 bytes (DIVE-04)."""
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


class DiveTV(Vendor):
    """Dive's token endpoint (both grants) and a mock-only bearer-protected resource."""

    name = "divetv"
    realm = "oauth2-resource"  # Spring's resource-server realm
    settings_schema: ClassVar[dict[str, Any]] = settings_object(
        {
            "token_lifetime": {**LIFETIME, "minimum": 2},  # expires_in is one less (DIVE-05)
            "refresh_lifetime": LIFETIME,
            "secret": KEY,
            "audience": TEXTS,
            "clients": {
                "type": "array",
                "items": settings_object(
                    {"client_key": TEXT, "client_id": TEXT, "scope": TEXTS, "claims": CLAIMS}, ("client_key",)
                ),
            },
            "users": {
                "type": "array",
                "items": {
                    **settings_object(
                        {
                            "username": TEXT,
                            "password": TEXT,
                            "password_md5": {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"},
                            "device_id": TEXT,
                            "authorities": TEXTS,
                        },
                        ("username",),
                    ),
                    "anyOf": [{"required": ["password"]}, {"required": ["password_md5"]}],
                },
            },
            "demo": {"type": "object"},
        }
    )
    defaults: ClassVar[dict[str, Any]] = {
        "token_lifetime": 9000,  # "a validity of 9000 seconds"; expires_in is one less (DIVE-05)
        "refresh_lifetime": 180 * 86400,
        "secret": None,  # HS256 key; generated at start when None
        "audience": ["api-server", "oauth-server"],
        "clients": [{"client_key": "demo-client-key", "client_id": "demo-client", "scope": ["device"]}],
        # `password` is the plain password (the wire carries its MD5); `password_md5` may be given instead.
        "users": [
            {
                "username": "demo-user",
                "password": "demo-password",
                "device_id": "123456",
                "authorities": ["ROLE_CARD_DETAIL", "ROLE_TV_GRID", "ROLE_CATALOG", "ROLE_ONE_SHOT"],
            },
        ],
        "demo": {
            "client_key": "demo-client-key",
            "username": "demo-user",
            "password": "demo-password",
            "password_md5": md5_hex("demo-password"),
        },
    }
    switches = frozenset({"DIVE-01", "DIVE-02", "DIVE-03", "DIVE-04", "DIVE-05", "DIVE-06", "DIVE-11"})
    resource_curl = "curl {base}/v1/resource -H 'Authorization: Bearer {token}'"
    runtime_records = ("clients", "users")
    demo_curl = (
        "curl -X POST '{base}/v1/token?grant_type=device_credentials'"
        " -H \"Authorization: Basic $(printf %s '{client_key}' | base64)\" -H 'Content-Type: application/json'"
        """ -d '{"username":"{username}","password":"{password_md5}"}'"""
    )

    def __init__(self, runtime: Runtime, settings: Mapping[str, Any], readings: Mapping[str, str]) -> None:
        super().__init__(runtime, settings, readings)
        self.signer = JwtSigner(clock=self.clock, algorithm="HS256", secret=settings.get("secret"))
        # The wire carries the MD5 of a password, in either case (DIVE-04): secrets too, for masking.
        digests = {md5_hex(u["password"]) for u in settings.get("users", []) if isinstance(u.get("password"), str)}
        self._configured_secrets |= digests | {d.upper() for d in digests}

    # Readings that change what the validator enforces.

    def decode_basic(self, value: str) -> BasicCredentials:
        """Keep the Basic value as sent: whether it is the raw key or Base64 (DIVE-02) is decided in
        `_client` against the known keys, since a raw key may itself be valid Base64. The value goes in
        the field kept out of repr()."""
        if not value:
            raise InvalidClient(
                "Full authentication is required: the Basic client key is empty", via_basic=True
            )
        return BasicCredentials("", value)

    def media_types(self, op: Operation) -> tuple[str, ...]:
        """DIVE-01: strictly the JSON the header table names; leniently also the "Form data" of the prose.
        An operation without a body (the resource) takes none in either reading."""
        if self.lenient("DIVE-01") or not op.request_media_types:
            return op.request_media_types
        return (JSON,)

    def adjust_parameter(self, op: Operation, parameter: dict[str, Any]) -> dict[str, Any]:
        """DIVE-03 lenient: grant_type may come in the body instead (checked in `_grant_type`)."""
        if parameter.get("name") == "grant_type" and self.lenient("DIVE-03"):
            return {**parameter, "required": False}
        return parameter

    # Operations.

    @operation("issueToken")
    def issue_token(self, call: Call) -> Reply:
        """A token pair for the device_credentials grant, or a renewed one for the refresh_token grant."""
        client = self._client(call)
        grant_type = self._grant_type(call)
        if grant_type == DEVICE_GRANT:
            return self._device_credentials(call, client)
        if grant_type == REFRESH_GRANT:
            return self._refresh(call, client)
        raise UnsupportedGrantType(f"Unsupported grant type: {grant_type}", field="grant_type")

    @operation("getProtectedResource")
    def get_protected_resource(self, call: Call) -> Reply:
        """Echo the claims of a valid, unrevoked Dive access token (never a refresh token)."""
        token = self.bearer_token(call)
        assert token is not None  # the validator refused requests without one
        claims = self.signer.verify(token)
        if "ati" in claims:  # Spring tells its two JWT kinds apart by the `ati` claim
            raise InvalidToken("Encoded token is a refresh token")
        if not self.audience_matches(claims):
            raise InvalidToken("Invalid token does not contain resource id (api-server)")
        if self.store.is_revoked(str(claims.get("jti", "")), str(claims.get("sid", "")), token):
            raise InvalidToken("Token was revoked")
        return Reply(200, {name: claims[name] for name in RESOURCE_CLAIMS if name in claims})

    # The steps of issueToken.

    def _client(self, call: Call) -> Mapping[str, Any]:
        """The client whose key the Basic header carries, read raw or (DIVE-02 lenient) as Base64."""
        basic = call.basic
        assert basic is not None  # the validator refused requests without one
        raw = basic.password
        candidates = [raw]
        if self.lenient("DIVE-02"):
            try:
                decoded = base64.b64decode(raw, validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                decoded = ""
            # base64(key) as written, and base64(key + ":"), what HTTP libraries send for user=key.
            candidates += [decoded, decoded[:-1] if decoded.endswith(":") else ""]
        for candidate in filter(None, candidates):
            client = self.find_client(client_key=candidate)
            if client is not None:
                return client
        raise InvalidClient("Bad client credentials", via_basic=True)

    def _grant_type(self, call: Call) -> str:
        """The query's grant_type; under DIVE-03 lenient one in the body when the query has none."""
        grant_type = call.query.get("grant_type")
        if grant_type is None and self.lenient("DIVE-03"):
            grant_type = call.field("grant_type")
        if not grant_type:
            raise InvalidRequest("Missing grant type", field="grant_type", rule="required")
        return grant_type

    def _device_credentials(self, call: Call, client: Mapping[str, Any]) -> Reply:
        """Check username and MD5 password; bind the tokens to the user's (or, DIVE-06, the sent) device."""
        username, password = _required(call, "username"), _required(call, "password")
        reading = "lenient" if self.lenient("DIVE-04") else "strict"
        if not _MD5_HEX[reading].fullmatch(password):
            case = "" if reading == "lenient" else "lower-case "
            raise InvalidRequest(
                f"password must be the {case}hex MD5 digest of the password", field="password"
            )
        user = self._user(username, password.lower())
        if user is None:
            raise InvalidGrant(BAD_CREDENTIALS)
        device_id = str(user.get("device_id", ""))
        if self.lenient("DIVE-06") and isinstance(call.body, Mapping) and "device_id" in call.body:
            sent = call.body["device_id"]
            if not isinstance(sent, str) or not 0 < len(sent) <= MAX_DEVICE_ID:
                raise InvalidRequest(
                    f"device_id must be a string of 1 to {MAX_DEVICE_ID} characters", field="device_id"
                )
            device_id = sent
        granted = {
            "aud": list(self.settings["audience"]),
            "device_id": device_id,
            "grant_type": DEVICE_GRANT,
            "scope": [str(s) for s in client.get("scope", ["device"])],
            "authorities": [str(a) for a in user.get("authorities", [])],
            "client_id": str(client["client_id"]),
        }
        return self._tokens(client, granted, sid=new_jti())

    def _refresh(self, call: Call, client: Mapping[str, Any]) -> Reply:
        """Renew from a refresh token of this client; rotate it unless DIVE-11 is lenient."""
        token = _required(call, "refresh_token")
        claims = self._refresh_claims(token)
        if not hmac.compare_digest(
            str(claims.get("client_id", "")).encode(), str(client["client_id"]).encode()
        ):
            raise InvalidGrant("Wrong client for this refresh token")
        sid = str(claims.get("sid", ""))
        refusal = self.refresh_refusal(claims, token, rotate=not self.lenient("DIVE-11"))
        if refusal is not None:
            raise InvalidGrant(
                {
                    "revoked": "Invalid refresh token (revoked)",
                    "reused": "Invalid refresh token (already used; its session is now revoked)",
                    "unknown": "Invalid refresh token (unknown or revoked)",
                }[refusal]
            )
        granted = {
            name: claims[name] for name in RESOURCE_CLAIMS if name in claims and name not in ("exp", "jti")
        }
        return self._tokens(client, granted, sid=sid, keep_refresh=token if self.lenient("DIVE-11") else None)

    def _refresh_claims(self, token: str) -> dict[str, Any]:
        """The claims of a genuine, unexpired refresh JWT; invalid_grant for anything else."""
        try:
            claims = self.signer.verify(token)
        except InvalidToken as error:
            if error.expired:  # genuine, past its 180 days
                raise InvalidGrant("Invalid refresh token (expired)") from None
            raise InvalidGrant("Invalid refresh token") from None
        if "ati" not in claims:
            raise InvalidGrant("Encoded token is not a refresh token")
        if not self.audience_matches(claims):
            raise InvalidGrant("Invalid refresh token (audience)")
        return claims

    def _user(self, username: str, password_md5: str) -> Mapping[str, Any] | None:
        """The user with this name and password digest; every record is compared in full (constant time)."""
        found = None
        runtime = [c for c in self.store.clients(self.name) if "username" in c]
        for user in [*self.settings.get("users", []), *runtime]:
            expected = str(user.get("password_md5") or md5_hex(str(user.get("password", "")))).lower()
            matched = hmac.compare_digest(str(user.get("username", "")).encode(), username.encode())
            matched &= hmac.compare_digest(expected.encode(), password_md5.encode())
            if matched and found is None:
                found = user
        return found

    def _tokens(
        self, client: Mapping[str, Any], granted: Mapping[str, Any], *, sid: str, keep_refresh: str | None = None
    ) -> Reply:
        """An access JWT and a refresh JWT (`ati` = the access token's jti), in Dive's response body."""
        lifetime = int(self.settings["token_lifetime"])
        access, shaped = self.issue_access(client, {**granted, "jti": new_jti(), "sid": sid}, lifetime)
        refresh_token = keep_refresh or self._issue_refresh(granted, access, sid).token
        # DIVE-05: lenient reports the whole seconds left at response time, as Spring does (8999).
        expires_in = max(lifetime - 1, 0) if self.lenient("DIVE-05") else lifetime
        return Reply.token(
            {
                "access_token": access.token,
                "token_type": "bearer",
                "refresh_token": refresh_token,
                "expires_in": expires_in,
                "scope": " ".join(granted["scope"]),
                "device_id": granted["device_id"],
                "client_id": granted["client_id"],
                "jti": access.claims["jti"],
            },
            shaped=shaped,
        )

    def mint_claims(self, client: Mapping[str, Any], base: str) -> dict[str, Any]:
        """The claims of an access token for the client and the first configured user's device."""
        users = [*self.settings.get("users", [])] or [{}]
        return {
            "aud": list(self.settings["audience"]),
            "device_id": str(users[0].get("device_id", "")),
            "grant_type": DEVICE_GRANT,
            "scope": [str(s) for s in client.get("scope", ["device"])],
            "authorities": [str(a) for a in users[0].get("authorities", [])],
            "client_id": str(client.get("client_id", "")),
            "jti": new_jti(),
            "sid": new_jti(),
        }

    def _issue_refresh(self, granted: Mapping[str, Any], access: Issued, sid: str) -> Issued:
        refresh = self.signer.issue(
            {**granted, "ati": access.claims["jti"], "jti": new_jti(), "sid": sid},
            int(self.settings["refresh_lifetime"]),
        )
        self.store.remember_refresh(refresh.claims["jti"], sid, refresh.claims["exp"])
        return refresh

    # The vendor's error shape.

    def render_error(self, error: MockError, call: Call | None, path: str) -> Reply:
        """Spring Security OAuth2's `{error, error_description}`; a Basic challenge on a refused client
        key, a Bearer challenge on a refused token, `no-store` on every token-endpoint refusal."""
        status, code = self._classify(error)
        description = error.description
        if code == "unsupported_grant_type" and not isinstance(error, UnsupportedGrantType):
            description = (
                f"Unsupported grant type; use {DEVICE_GRANT} or {REFRESH_GRANT}"  # the enum's refusal
            )
        body = {"error": code, "error_description": _ascii(description)}
        headers: dict[str, str] = {}
        if isinstance(error, InvalidToken):
            headers.update(self.bearer_challenge(error))
        elif path.rstrip("/").endswith("/v1/token"):
            headers.update(TOKEN_HEADERS)
        if isinstance(error, InvalidClient):
            headers.update(CLIENT_CHALLENGE)
        if isinstance(error, MethodNotAllowed):
            headers["Allow"] = ", ".join(error.allowed)
        headers.update(self.retry_hint(error))
        return Reply(status, body, headers)

    @staticmethod
    def _classify(error: MockError) -> tuple[int, str]:
        """(status, error code) for a refusal."""
        if isinstance(
            error, InvalidToken | InvalidClient | InvalidGrant | UnsupportedGrantType | ServerFault | StoreUnavailable
        ):
            return error.status, error.error
        if isinstance(error, UnsupportedMediaType | PayloadTooLarge):
            return error.status, "invalid_request"
        if error.field == "grant_type" and error.rule == "enum":  # the contract's enum, checked first
            return 400, "unsupported_grant_type"
        if isinstance(error, InvalidRequest):
            return 400, "invalid_request"
        return error.status, error.error  # NotFound, MethodNotAllowed: no operation, no contract


def _required(call: Call, name: str) -> str:
    """A body field the grant needs (Spring: "Missing parameter"); the schema cannot tie it to the grant."""
    value = call.field(name)
    if not value:
        raise InvalidRequest(f"Missing parameter: {name}", field=name, rule="required")
    return value


def _ascii(text: str) -> str:
    """Fit a description into RFC 6749 §5.2's character set (printable ASCII without `"` and `\\`)."""
    cleaned = text.replace('"', "'").replace("\\", "/")
    return "".join(c for c in cleaned if " " <= c <= "~")
