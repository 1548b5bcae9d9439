"""JunctionTV: Basic client credentials, opaque access tokens, errors as `{result, message, reason}`.

Source: 000_5dbfd55030ae46b2.txt; contract openapi/junctiontv.yaml; register
openapi/discrepancies/junctiontv.yaml (switches JTV-01..05, JTV-08, JTV-12). The document knows two
refusals only: 401 for authentication problems and 404 for any other invalid call (JTV-11), so every
other `MockError` is answered 404, and 413 for an oversize body.

The token is opaque (the document shows a run of `x`, not a JWT): `OpaqueSigner` seals the claims with
HMAC, so any worker holding the secret can check it without shared state.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import unquote_plus

from tokenmock.contracts import Operation
from tokenmock.mockserver.errors import (
    InvalidClient,
    InvalidToken,
    MockError,
    NotFound,
    PayloadTooLarge,
    ServerFault,
    StoreUnavailable,
)
from tokenmock.mockserver.pipeline.exchange import BasicCredentials, Call, Reply, decode_basic_rfc7617
from tokenmock.mockserver.tokens import OpaqueSigner, new_jti
from tokenmock.mockserver.vendors.base import KEY, LIFETIME, TEXT, Runtime, Vendor, operation, settings_object

TOKEN_PATH = "/ums/2.0/oauth/"
# The core's wording for a token past its `exp` (mockserver.tokens.check_window), for a core whose
# InvalidToken does not yet carry the `expired` flag.
EXPIRED = "the access token expired"


class MalformedCredentials(InvalidClient):
    """An `Authorization: Basic` header that does not decode to `client_id:client_secret`."""

    def __init__(self, description: str) -> None:
        super().__init__(description, via_basic=True)


class WrongCredentials(InvalidClient):
    """Basic credentials that decode but name no known client or the wrong secret."""

    def __init__(self) -> None:
        super().__init__("unknown client or wrong secret", via_basic=True)


class JunctionTV(Vendor):
    """The JunctionTV UMS OAuth endpoint and a mock-only protected resource."""

    name = "junctiontv"
    realm = "junctiontv"
    settings_schema: ClassVar[dict[str, Any]] = settings_object(
        {
            "token_lifetime": LIFETIME,
            "token_secret": KEY,
            "clients": {
                "type": "array",
                "items": settings_object({"client_id": TEXT, "client_secret": TEXT}, ("client_id", "client_secret")),
            },
            "demo": {"type": "object"},
        }
    )
    defaults: ClassVar[dict[str, Any]] = {
        "token_lifetime": 3600,
        "token_secret": None,
        "clients": [{"client_id": "demo-client", "client_secret": "demo-secret"}],
        "demo": {"client_id": "demo-client", "client_secret": "demo-secret", "authentication": "Basic"},
    }
    switches = frozenset({"JTV-01", "JTV-02", "JTV-03", "JTV-04", "JTV-05", "JTV-08", "JTV-12"})
    opaque_tokens = True  # clients never read its tokens: no custom claims (use the clock or revocation)
    demo_curl = (
        "curl --user '{client_id}:{client_secret}' -X POST {base}/ums/2.0/oauth/"
        " -H 'Content-Type: application/x-www-form-urlencoded'"
    )

    def __init__(self, runtime: Runtime, settings: Any, readings: Any) -> None:
        super().__init__(runtime, settings, readings)
        self.signer = OpaqueSigner(clock=self.clock, secret=settings.get("token_secret"))

    # Readings that change what the validator enforces (compiled once at start-up).

    def decode_basic(self, value: str) -> BasicCredentials:
        """Base64 as the NOTE says; JTV-01 lenient also takes the header table's raw `id:secret`
        (a colon is not in the Base64 alphabet, so the two forms cannot be confused)."""
        if self.lenient("JTV-01") and ":" in value:
            client_id, _, secret = value.strip().partition(":")
            return BasicCredentials(client_id, secret)
        try:
            return decode_basic_rfc7617(value)
        except InvalidClient as error:
            raise MalformedCredentials(error.description) from None

    def body_required(self, op: Operation) -> bool:
        # JTV-03 strict: the form Content-Type is required, an empty form being valid (the contract cannot
        # say so: its `required` would forbid the empty body). Lenient: `curl --user id:secret -X POST`
        # sends neither body nor Content-Type.
        if op.operation_id == "getAccessToken":
            return not self.lenient("JTV-03")
        return op.body_required

    def adjust_body_schema(self, op: Operation, schema: dict[str, Any]) -> dict[str, Any]:
        if op.operation_id == "getAccessToken" and not self.lenient("JTV-04"):
            return {**schema, "additionalProperties": False}  # JTV-04 strict: the form must be empty
        return schema

    # Operations.

    @operation("getAccessToken")
    def get_access_token(self, call: Call) -> Reply:
        """Issue an opaque token for known Basic credentials; body parameters are never credentials."""
        if not call.path.endswith("/") and not self.lenient("JTV-05"):
            raise NotFound(f"no operation at {call.method} {call.path}")
        credentials = call.basic
        assert credentials is not None  # the validator refused requests without Basic credentials
        client = self.find_client(client_id=credentials.username, client_secret=credentials.password)
        if client is None and self.lenient("JTV-02"):  # RFC 6749 §2.3.1: parts form-urlencoded first
            client = self.find_client(
                client_id=unquote_plus(credentials.username), client_secret=unquote_plus(credentials.password)
            )
        if client is None:
            raise WrongCredentials()
        lifetime = int(self.settings["token_lifetime"])
        issued = self.signer.issue({"client_id": client["client_id"], "jti": new_jti()}, lifetime)
        body: dict[str, Any] = {
            "version": "1.1",
            "client_id": client["client_id"],
            "access_token": issued.token,
            "expires_in": lifetime,
        }
        if self.lenient("JTV-08"):
            body["token_type"] = "Bearer"
        return Reply.token(body)

    def bearer_token(self, call: Call) -> str | None:
        """JTV-12 lenient: also a bare `Authorization: <token>` and an `access_token` query parameter."""
        if call.bearer is not None or not self.lenient("JTV-12"):
            return call.bearer
        bare = call.headers.get("Authorization", "").strip()
        if bare and " " not in bare:
            return bare
        return call.query.get("access_token") or None

    @operation("getProtectedResource")
    def get_protected_resource(self, call: Call) -> Reply:
        """Accept a valid, unrevoked JunctionTV token; say whose it is and how long it still lives."""
        token = self.bearer_token(call)
        assert token is not None  # the validator refused requests without one
        claims = self.signer.verify(token)
        if not self.audience_matches(claims):
            raise InvalidToken("the access token is meant for another audience")
        if self.store.is_revoked(str(claims.get("jti", "")), token):
            raise InvalidToken("the access token was revoked")
        remaining = max(0, int(claims["exp"] - self.clock.now()))
        body = {"result": "success", "client_id": str(claims.get("client_id", "")), "expires_in": remaining}
        return Reply(200, body)

    # The vendor's error shape.

    def render_error(self, error: MockError, call: Call | None, path: str) -> Reply:
        """`{result, message, reason}`: 401 for authentication, 413 oversize, 404 for the rest."""
        if self._misrouted(path) and not isinstance(error, ServerFault | StoreUnavailable):
            error = NotFound(f"no operation at {path}")
        status, message, reason = self._classify(error)
        headers: dict[str, str] = {}
        if isinstance(error, InvalidToken):
            headers.update(self.bearer_challenge(error))
        elif isinstance(error, InvalidClient):
            headers["WWW-Authenticate"] = f'Basic realm="{self.realm}"'  # RFC 6749 §5.2
        headers.update(self.retry_hint(error))
        return Reply(status, {"result": "error", "message": message, "reason": reason}, headers)

    def _misrouted(self, path: str) -> bool:
        """JTV-05 strict: the token URL without its trailing slash is an unknown path, whatever else is
        wrong with the request (validation runs before the handler could say so)."""
        return path == TOKEN_PATH.rstrip("/") and not self.lenient("JTV-05")

    @staticmethod
    def _classify(error: MockError) -> tuple[int, str, str]:
        """(status, message, reason) for a refusal."""
        if isinstance(error, MalformedCredentials):
            return 401, "UNAUTHORIZED", "Malformed Authorization Header"
        if isinstance(error, WrongCredentials):
            return 401, "UNAUTHORIZED", "Invalid Client Credentials"
        if isinstance(error, InvalidClient) or (isinstance(error, InvalidToken) and error.missing):
            return 401, "UNAUTHORIZED", "No Authorization Token"
        if isinstance(error, InvalidToken):
            expired = getattr(error, "expired", False) or error.description == EXPIRED
            reason = "Authorization Token Expired" if expired else "Invalid Authorization Token"
            return 401, "UNAUTHORIZED", reason
        if isinstance(error, PayloadTooLarge):
            return 413, "PAYLOAD_TOO_LARGE", "Request body too large"
        if isinstance(error, ServerFault):
            return 500, "INTERNAL_SERVER_ERROR", error.description
        if isinstance(error, StoreUnavailable):
            return 503, "SERVICE_UNAVAILABLE", error.description
        # Everything else is an "invalid call", a wrong method (MethodNotAllowed) included (JTV-11).
        return 404, "NOT_FOUND", f"Invalid API Call: {error.description}"
