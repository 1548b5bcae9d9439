"""Vision10: client credentials as a JSON body, RS256 JWTs, errors as an array of problem objects.

Source: 002_39cd937695dba9c6.txt; contract openapi/vision10.yaml (error codes in its
components.x-error-codes); register openapi/discrepancies/vision10.yaml.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from tokenmock import contracts
from tokenmock.contracts import Operation
from tokenmock.mockserver.errors import (
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
    UnsupportedMediaType,
)
from tokenmock.mockserver.keyring import JWKS_CACHE_CONTROL, KeyRing
from tokenmock.mockserver.pipeline.exchange import Call, Reply
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

# tokenmock's error codes (the document gives only 240101); see components.x-error-codes.
_RULE_CODES = {"json": "240001", "required": "240002", "maxLength": "240003", "type": "240004"}
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_TOKEN_FIELDS = ("grant_type", "scope", "client_id", "client_secret")


class Vision10(Vendor):
    """The Vision10 token service and a mock-only protected resource."""

    name = "vision10"
    realm = "vision10"
    settings_schema: ClassVar[dict[str, Any]] = settings_object(
        {
            "token_lifetime": LIFETIME,
            "private_key_pem": {**KEY, "pattern": "^-----BEGIN (RSA )?PRIVATE KEY-----"},
            "clients": {
                "type": "array",
                "items": settings_object(
                    {
                        "client_id": TEXT,
                        "client_secret": TEXT,
                        "scopes": TEXTS,
                        "first_vision_id": TEXT,
                        "claims": CLAIMS,
                    },
                    ("client_id", "client_secret"),
                ),
            },
            "demo": {"type": "object"},
        }
    )
    defaults: ClassVar[dict[str, Any]] = {
        "token_lifetime": 7199,
        "private_key_pem": None,
        "clients": [
            {"client_id": "demo-client", "client_secret": "demo-secret", "scopes": ["all"],
             "first_vision_id": "00000DEMO1"},
            {"client_id": "vision-api-user", "client_secret": "abcdefghizklmnopponommnshfghzxxs",
             "scopes": ["all"], "first_vision_id": "00000DEMO2"},
        ],
        "demo": {"client_id": "demo-client", "client_secret": "demo-secret", "scope": "all"},
    }
    switches = frozenset({"V10-01", "V10-02", "V10-04", "V10-05", "V10-12", "V10-13"})
    resource_curl = "curl {base}/v1/api/resource -H 'Authorization: Bearer {token}'"
    demo_curl = (
        "curl -X POST {base}/v1/api/oauth/token -H 'Content-Type: application/json'"
        """ -d '{"grant_type":"client_credentials","scope":"{scope}","""
        """"client_id":"{client_id}","client_secret":"{client_secret}"}'"""
    )

    def __init__(self, runtime: Runtime, settings: Any, readings: Any) -> None:
        super().__init__(runtime, settings, readings)
        # RS256 keys published at /.well-known/jwks.json and rotated through the admin API.
        self.signer = KeyRing(
            vendor=self.name,
            clock=self.clock,
            store=self.store,
            private_key_pem=settings.get("private_key_pem"),
            lifetime=int(settings["token_lifetime"]),
        )
        # The documented lengths, for fields the validator never saw (V10-01 lenient: from the query).
        schema = contracts.operation(self.name, "getAccessToken").body_schema("application/json") or {}
        properties = schema.get("properties", {})
        self._max_lengths = {name: int(p["maxLength"]) for name, p in properties.items() if "maxLength" in p}

    # Readings that change what the validator enforces (compiled once at start-up).

    def media_types(self, op: Operation) -> tuple[str, ...]:
        if op.operation_id == "getAccessToken" and self.lenient("V10-02"):
            return (*op.request_media_types, "application/x-www-form-urlencoded")
        return op.request_media_types

    def default_media_type(self, op: Operation) -> str | None:
        # V10-02 lenient: a body sent without Content-Type is read as the JSON the document shows.
        return "application/json" if self.lenient("V10-02") else None

    def body_required(self, op: Operation) -> bool:
        # V10-01 lenient: the fields may come as query parameters, so the body may be absent.
        return op.body_required and not (op.operation_id == "getAccessToken" and self.lenient("V10-01"))

    def adjust_body_schema(self, op: Operation, schema: dict[str, Any]) -> dict[str, Any]:
        if op.operation_id != "getAccessToken":
            return schema
        if self.lenient("V10-01"):
            schema = {**schema, "required": []}  # checked in the handler, body and query merged
        if self.lenient("V10-04"):
            fields = schema["properties"].items()
            unbounded = {k: {x: y for x, y in v.items() if x != "maxLength"} for k, v in fields}
            schema = {**schema, "properties": unbounded}
        if not self.lenient("V10-05"):
            schema = {**schema, "additionalProperties": False}
        return schema

    # Operations.

    @operation("getAccessToken")
    def get_access_token(self, call: Call) -> Reply:
        """Issue an RS256 JWT for valid client credentials and scope (401 240101 otherwise)."""
        fields = dict(call.body) if isinstance(call.body, dict) else {}
        if self.lenient("V10-01"):
            fields = {**{k: v for k, v in call.query.items() if k in _TOKEN_FIELDS}, **fields}
            for name in _TOKEN_FIELDS:
                value = fields.get(name)
                if not isinstance(value, str):
                    raise InvalidRequest(f"{name} is required", field=name, rule="required")
                limit = self._max_lengths.get(name)
                if limit is not None and len(value) > limit and not self.lenient("V10-04"):
                    message = f"{name}: must be at most {limit} characters"
                    raise InvalidRequest(message, field=name, rule="maxLength")
        if fields["grant_type"] != "client_credentials" and not self.lenient("V10-12"):
            raise UnsupportedGrantType("grant_type: unsupported grant type")
        client = self.find_client(client_id=fields["client_id"], client_secret=fields["client_secret"])
        if client is None:
            raise InvalidClient("Invalid client credentials or scope")
        scope = fields["scope"]
        if scope not in client.get("scopes", []) and not self.lenient("V10-13"):
            raise InvalidScope("Invalid client credentials or scope")
        lifetime = int(self.settings["token_lifetime"])
        issued, shaped = self.issue_access(client, self._claims(client, scope), lifetime)
        return Reply.token(
            {"access_token": issued.token, "token_type": "Bearer", "expires_in": lifetime}, shaped=shaped
        )

    @staticmethod
    def _claims(client: Mapping[str, Any], scope: str) -> dict[str, Any]:
        return {"scope": scope, "client_id": client["client_id"], "firstVisionId": client.get("first_vision_id", "")}

    def mint_claims(self, client: Mapping[str, Any], base: str) -> dict[str, Any]:
        """The claims of a token for the client's first scope."""
        return self._claims(client, str((client.get("scopes") or ["all"])[0]))

    @operation("getProtectedResource")
    def get_protected_resource(self, call: Call) -> Reply:
        """Accept a valid, unrevoked Vision10 access token and echo what it grants."""
        assert call.bearer is not None  # the validator refused requests without one
        claims = self.signer.verify(call.bearer)
        if not self.audience_matches(claims):
            raise InvalidToken("the access token is meant for another audience")
        if self.store.is_revoked(str(claims.get("jti", "")), call.bearer):
            raise InvalidToken("the access token was revoked")
        return Reply(
            200,
            {
                "client_id": claims.get("client_id", ""),
                "scope": claims.get("scope", ""),
                "firstVisionId": claims.get("firstVisionId", ""),
                "exp": claims["exp"],
            },
        )

    @operation("getJwks")
    def get_jwks(self, call: Call) -> Reply:
        """The public keys of the live signing keys (RFC 7517), so a resource server can verify tokens."""
        return Reply(200, self.signer.jwks(), {"Cache-Control": JWKS_CACHE_CONTROL})

    def rotate_keys(self) -> dict[str, Any] | None:
        """A new signing key; the old one stays published until the tokens it signed have expired."""
        return self.signer.rotate(retire_for=int(self.settings["token_lifetime"]))

    # The vendor's error shape.

    def render_error(self, error: MockError, call: Call | None, path: str) -> Reply:
        """A one-item problem array; HTTP status equals the item's `status`."""
        status, code, message = self._classify(error)
        problem = {
            "detail": "Please refer to invalid-params for error details",
            "errorCode": code,
            "instance": path,
            "invalid-params": [message],
            "source": "AGT",
            "status": status,
            "title": _TITLES.get(status, "Error"),
        }
        headers: dict[str, str] = {}
        if isinstance(error, InvalidToken):
            headers.update(self.bearer_challenge(error))
        if isinstance(error, MethodNotAllowed):
            headers["Allow"] = ", ".join(error.allowed)
        headers.update(self.retry_hint(error))
        return Reply(status, [problem], headers)

    @staticmethod
    def _classify(error: MockError) -> tuple[int, str, str]:
        """(status, errorCode, message) for a refusal."""
        if isinstance(error, InvalidToken):
            return 401, "240103" if error.missing else "240102", error.description
        if isinstance(error, InvalidClient | InvalidScope):
            return 401, "240101", "Invalid client credentials or scope"
        if isinstance(error, UnsupportedGrantType):
            return 400, "240005", error.description
        if isinstance(error, UnsupportedMediaType):
            return 415, "240006", "Content-Type must be application/json"
        if isinstance(error, PayloadTooLarge):
            return 413, "240007", "Request body too large"
        if isinstance(error, MethodNotAllowed):
            return 405, "240008", error.description
        if isinstance(error, NotFound):
            return 404, "240009", error.description
        if isinstance(error, ServerFault):
            return 500, "240500", error.description
        if isinstance(error, StoreUnavailable):
            return 503, "240503", error.description
        if error.rule == "additionalProperties":
            return 400, "240010", error.description
        if error.rule == "type" and error.field is None:  # the body itself is not a JSON object
            return 400, "240001", "Request body must be a JSON object"
        return 400, _RULE_CODES.get(error.rule or "", "240001"), error.description
