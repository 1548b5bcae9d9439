"""ClickView: OAuth 2.0 client credentials at Duende IdentityServer's `/connect/token`, JWT access tokens.

Source: 001_0e0313c3f1495410.txt; contract openapi/clickview.yaml; register
openapi/discrepancies/clickview.yaml (switches CV-02, CV-03, CV-07, CV-11). Where the document is silent
the mock behaves as Duende IdentityServer does (errors are RFC 6749 §5.2 JSON, 400 by default).

Assumption: access tokens are HS256 JWTs (Duende signs RS256 by default). HMAC is chosen for speed,
because this endpoint has a throughput target; clients must treat the token as opaque anyway (CV-06).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import unquote_plus

from tokenmock.contracts import Operation
from tokenmock.mockserver.errors import (
    InsufficientScope,
    InvalidClient,
    InvalidRequest,
    InvalidScope,
    InvalidToken,
    MethodNotAllowed,
    MockError,
    NotFound,
    PayloadTooLarge,
    ServerFault,
    StoreUnavailable,
    UnsupportedGrantType,
)
from tokenmock.mockserver.keyring import JWKS_CACHE_CONTROL
from tokenmock.mockserver.pipeline.exchange import TOKEN_HEADERS, BasicCredentials, Call, Reply
from tokenmock.mockserver.tokens import JwtSigner, new_jti
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

TOKEN_PATH = "/connect/token"
# Where Duende IdentityServer publishes its metadata (OpenID Connect Discovery 1.0 §4) and its keys.
DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = DISCOVERY_PATH + "/jwks"
# Duende's authorization endpoint: published because OIDC Discovery requires it, never served (CV-14).
AUTHORIZE_PATH = "/connect/authorize"
# The document's own invalid_client wording (§ Handling Errors).
CLIENT_FAILED = "Client authentication failed."


def rfc6749_ascii(text: str) -> str:
    """Fit a description into RFC 6749 §5.2's character set (printable ASCII without `"` and `\\`)."""
    cleaned = text.replace('"', "'").replace("\\", "/")
    return "".join(c for c in cleaned if " " <= c <= "~")


def form_decoded(credentials: BasicCredentials) -> BasicCredentials:
    """RFC 6749 §2.3.1: id and secret are form-urlencoded before Base64; undo that step."""
    return BasicCredentials(unquote_plus(credentials.username), unquote_plus(credentials.password))


class ClickView(Vendor):
    """The ClickView token endpoint and its example protected resource."""

    name = "clickview"
    realm = "clickview"
    settings_schema: ClassVar[dict[str, Any]] = settings_object(
        {
            "token_lifetime": LIFETIME,
            "signing_secret": KEY,
            "issuer": {**TEXT, "type": ["string", "null"]},  # null: inferred from the request (Duende)
            "resource_scopes": TEXTS,
            "clients": {
                "type": "array",
                "items": settings_object(
                    {"client_id": TEXT, "client_secret": TEXT, "scopes": TEXTS, "claims": CLAIMS},
                    ("client_id", "client_secret"),
                ),
            },
            "demo": {"type": "object"},
        }
    )
    defaults: ClassVar[dict[str, Any]] = {
        "token_lifetime": 86400,
        "signing_secret": None,
        # None: inferred from the URL the client used, as Duende does without a configured IssuerUri, so
        # discovery's issuer and the tokens' `iss` agree behind TLS, a port or `--vendor clickview`.
        "issuer": None,
        # Scopes the example resource accepts (any one of them); the document does not say (CV-09).
        "resource_scopes": ["smartembed.viewkey"],
        "clients": [
            {"client_id": "demo-client", "client_secret": "demo-secret", "scopes": ["smartembed.viewkey"]},
        ],
        "demo": {"client_id": "demo-client", "client_secret": "demo-secret", "scope": "smartembed.viewkey"},
    }
    switches = frozenset({"CV-02", "CV-03", "CV-07", "CV-11"})
    resource_curl = "curl {base}/api/v1/example -H 'Authorization: Bearer {token}'"
    demo_curl = (
        "curl -X POST {base}/connect/token -d grant_type=client_credentials"
        " -d client_id={client_id} -d client_secret={client_secret} -d scope={scope}"
    )

    def __init__(self, runtime: Runtime, settings: Any, readings: Any) -> None:
        super().__init__(runtime, settings, readings)
        # Duende types its access tokens `at+jwt` (RFC 9068).
        self.signer = JwtSigner(
            clock=self.clock,
            algorithm="HS256",
            secret=settings.get("signing_secret"),
            headers={"typ": "at+jwt"},
        )

    # Readings that change what the validator enforces (compiled once at start-up).

    def adjust_body_schema(self, op: Operation, schema: dict[str, Any]) -> dict[str, Any]:
        """Relax the strict contract where a lenient reading is in force.

        grant_type's enum is always left to the handler, so an unknown grant gets
        unsupported_grant_type rather than invalid_request. Under CV-02/CV-03 lenient the optional fields
        also lose `minLength`: an empty parameter counts as omitted (RFC 6749 §3.1).
        """
        if op.operation_id != "requestToken":
            return schema
        optional: set[str] = set()
        required = list(schema.get("required", []))
        if self.lenient("CV-02"):
            optional |= {"client_id", "client_secret"}
        else:  # the document's own reading: client_secret_post only, both fields in the body
            required += [name for name in ("client_id", "client_secret") if name not in required]
        if self.lenient("CV-03"):
            optional.add("scope")
        elif "scope" not in required:  # the document's own reading: scope required
            required.append("scope")
        properties = {}
        for name, rules in (schema.get("properties") or {}).items():
            drop = {"enum"} if name == "grant_type" else {"minLength"} if name in optional else set()
            properties[name] = {k: v for k, v in rules.items() if k not in drop}
        required = [name for name in required if name not in optional]
        return {**schema, "properties": properties, "required": required}

    # Operations.

    @operation("requestToken")
    def request_token(self, call: Call) -> Reply:
        """Issue a JWT for valid client credentials (form body, or Basic under CV-02 lenient) and scope."""
        grant_type = _field(call, "grant_type")
        if grant_type is None:
            raise InvalidRequest("grant_type is missing.", field="grant_type", rule="required")
        if grant_type != "client_credentials":
            raise UnsupportedGrantType("The grant type is not supported.", field="grant_type")
        client = self.authenticate(call)
        scopes = self.granted_scopes(client, _field(call, "scope"))
        lifetime = int(self.settings["token_lifetime"])
        issued, shaped = self.issue_access(client, self._claims(client, scopes, self.issuer(call)), lifetime)
        return Reply.token(
            {
                "access_token": issued.token,
                "token_type": "Bearer",
                "expires_in": lifetime,
                "scope": " ".join(scopes),
            },
            shaped=shaped,
        )

    def _claims(self, client: Mapping[str, Any], scopes: list[str], issuer: str) -> dict[str, Any]:
        return {"iss": issuer, "nbf": int(self.clock.now()), "client_id": client["client_id"], "scope": scopes,
                "jti": new_jti()}

    def mint_claims(self, client: Mapping[str, Any], base: str) -> dict[str, Any]:
        """The claims of a token for all of the client's scopes, issued by the configured or base URL."""
        issuer = str(self.settings["issuer"] or base)
        return self._claims(client, [str(s) for s in client.get("scopes", [])], issuer)

    @operation("getExample")
    def get_example(self, call: Call) -> Reply:
        """Accept a valid, unrevoked ClickView token carrying an accepted scope; echo client and scope."""
        assert call.bearer is not None  # the validator refused requests without one
        if not self.lenient("CV-07"):
            scheme, _, token = (call.headers.get("Authorization") or "").partition(" ")
            if scheme != "Bearer" or not token or token != token.strip():
                raise InvalidToken("the Authorization header must read 'Bearer <token>' (exact case)")
        claims = self.signer.verify(call.bearer)
        if not self.audience_matches(claims):
            raise InvalidToken("the access token is meant for another audience")
        if self.store.is_revoked(str(claims.get("jti", "")), call.bearer):
            raise InvalidToken("the access token was revoked")
        granted = claims.get("scope")
        scopes = [granted] if isinstance(granted, str) else list(granted or [])
        if not set(scopes) & set(self.settings["resource_scopes"]):
            raise InsufficientScope("The access token does not carry the scope this resource requires.")
        return Reply(
            200,
            {
                "message": "Authenticated.",
                "client_id": str(claims.get("client_id", "")),
                "scope": " ".join(scopes),
            },
        )

    @operation("getOpenIdConfiguration")
    def get_openid_configuration(self, call: Call) -> Reply:
        """The server's metadata as Duende publishes it, for clients that find the token endpoint there.

        Every member RFC 8414 §2 and OpenID Connect Discovery 1.0 §3 mark REQUIRED is present, so strict
        clients (Authlib's metadata classes) accept it. Members about what the mock does (token endpoint,
        grant, client authentication, scopes) say what it does; members about flows ClickView does not
        document (authorization endpoint, response types, subject types, ID token algorithm) carry Duende's
        defaults (CV-14). URLs follow the request's scheme, host and mount prefix."""
        base = call.base_url(DISCOVERY_PATH)
        methods = ["client_secret_post", *(["client_secret_basic"] if self.lenient("CV-02") else [])]
        scopes = [*self.settings["resource_scopes"], *(str(s) for c in self.clients() for s in c.get("scopes", ()))]
        return Reply(
            200,
            {
                "issuer": self.settings["issuer"] or base,
                "jwks_uri": base + JWKS_PATH,
                "authorization_endpoint": base + AUTHORIZE_PATH,
                "token_endpoint": base + TOKEN_PATH,
                "scopes_supported": list(dict.fromkeys(scopes)),
                "grant_types_supported": ["client_credentials"],
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": methods,
                "claims_supported": ["client_id", "scope"],
            },
        )

    @operation("getJwks")
    def get_jwks(self, call: Call) -> Reply:
        """Duende's key set, empty: the mock signs ClickView tokens with HMAC, a key it never publishes."""
        return Reply(200, {"keys": []}, {"Cache-Control": JWKS_CACHE_CONTROL})

    def issuer(self, call: Call) -> str:
        """The configured issuer, else the URL the client reached the server at (Duende's inference)."""
        configured = self.settings["issuer"]
        return str(configured) if configured else call.base_url(TOKEN_PATH)

    # Protocol steps of requestToken.

    def authenticate(self, call: Call) -> Mapping[str, Any]:
        """The client from the form body or (CV-02 lenient) the Basic header; one method only (§2.3)."""
        body_id, body_secret = _field(call, "client_id"), _field(call, "client_secret")
        basic = call.basic if self.lenient("CV-02") else None
        if basic is None:
            if body_id is None:
                raise InvalidRequest("client_id is missing.", field="client_id", rule="required")
            if body_secret is None:
                raise InvalidRequest("client_secret is missing.", field="client_secret", rule="required")
            client = self.find_client(client_id=body_id, client_secret=body_secret)
            if client is None:
                raise InvalidClient(CLIENT_FAILED)
            return client
        # The core decodes Base64 only (RFC 7617). RFC 6749 §2.3.1 form-urldecoding is tried first, then
        # the raw values, as Authlib and requests-oauthlib send them without urlencoding.
        client, sent = None, basic
        for candidate in (form_decoded(basic), basic):
            client = self.find_client(client_id=candidate.username, client_secret=candidate.password)
            if client is not None:
                sent = candidate
                break
        if body_secret is not None and body_secret != sent.password:
            # Two methods that disagree (RFC 6749 §2.3); the same secret twice is one client (Duende reads
            # the Basic header first and would never see the body's).
            raise InvalidRequest("Use one client authentication method: Basic or client_secret, not both.")
        if client is None:
            raise InvalidClient(CLIENT_FAILED, via_basic=True)
        if body_id is not None and body_id != client["client_id"]:
            raise InvalidRequest(
                "client_id in the body does not match the Basic credentials.", field="client_id"
            )
        return client

    def granted_scopes(self, client: Mapping[str, Any], requested: str | None) -> list[str]:
        """The requested scopes if the client may have them all; all of its scopes when none are asked
        for (CV-03 lenient; under strict the validator already refused the request)."""
        allowed = [str(s) for s in client.get("scopes", [])]
        if requested is None:
            if not self.lenient("CV-03"):
                raise InvalidRequest("scope is missing.", field="scope", rule="required")
            return allowed
        wanted = list(dict.fromkeys(requested.split()))
        if not wanted or any(scope not in allowed for scope in wanted):
            raise InvalidScope("The requested scope is not allowed for this client.", field="scope")
        return wanted

    # The vendor's error shape.

    def render_error(self, error: MockError, call: Call | None, path: str) -> Reply:
        """RFC 6749 §5.2 JSON (Duende's shape) for token errors; the same shape plus an RFC 6750 challenge
        for the resource. Status 400 for every token error unless CV-11 strict asks for 401 after Basic."""
        status, code = self._classify(error)
        body = {"error": code, "error_description": rfc6749_ascii(error.description)}
        headers: dict[str, str] = {}
        if isinstance(error, InvalidToken | InsufficientScope):
            headers.update(self.bearer_challenge(error))
            if isinstance(error, InsufficientScope):  # RFC 6750 §3: name the scope that would do
                headers["WWW-Authenticate"] += f', scope="{" ".join(self.settings["resource_scopes"])}"'
        elif path.rstrip("/") == TOKEN_PATH:
            headers.update(TOKEN_HEADERS)  # Duende marks token errors no-store as well
        if status == 401 and isinstance(error, InvalidClient):
            headers["WWW-Authenticate"] = f'Basic realm="{self.realm}"'
        if isinstance(error, MethodNotAllowed):
            headers["Allow"] = ", ".join(error.allowed)
        headers.update(self.retry_hint(error))
        return Reply(status, body, headers)

    def _classify(self, error: MockError) -> tuple[int, str]:
        """(status, error code) for a refusal."""
        if isinstance(error, InvalidToken | InsufficientScope):
            return error.status, error.error
        if isinstance(error, InvalidClient):
            rfc_401 = error.via_basic and not self.lenient("CV-11")
            return (401 if rfc_401 else 400), "invalid_client"
        if isinstance(error, PayloadTooLarge | NotFound | MethodNotAllowed):
            return error.status, "invalid_request"
        if isinstance(error, ServerFault):
            return 500, "server_error"
        if isinstance(error, StoreUnavailable):
            return 503, "temporarily_unavailable"
        if isinstance(error, UnsupportedGrantType | InvalidScope):
            return 400, error.error
        # Duende answers a wrong Content-Type with 400 invalid_request, not 415.
        return 400, "invalid_request"


def _field(call: Call, name: str) -> str | None:
    """A form field, None when absent or empty (RFC 6749 §3.1: an empty parameter counts as omitted)."""
    return call.field(name) or None
