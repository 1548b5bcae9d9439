"""Why the mock refuses a request: one hierarchy, rendered by each vendor into its own error shape.

Handlers and the request validator raise these; they never build error payloads themselves. A vendor's
module turns each into its documented status and body (`VendorModule.render_error`), so the reason
(`error`, RFC 6749/6750 vocabulary) is separate from the shape (JSON:API, problem array, ...).

    MockError
    ├── InvalidRequest          400 invalid_request: malformed, missing or bad parameter
    │   ├── UnsupportedMediaType    415: content type the operation does not take
    │   └── PayloadTooLarge         413: body or headers over the size limit
    ├── InvalidClient           401 invalid_client: client authentication failed
    ├── InvalidGrant            400 invalid_grant: bad user credentials, refresh token refused
    ├── UnsupportedGrantType    400 unsupported_grant_type
    ├── InvalidScope            400 invalid_scope
    ├── InvalidToken            401 invalid_token: bearer token missing, malformed, expired, revoked
    ├── InsufficientScope       403 insufficient_scope: a valid token without the scope the resource needs
    ├── NotFound                404: no such path or resource
    ├── MethodNotAllowed        405: path exists, method does not
    ├── ServerFault             500: a bug in the mock itself (never a client's mistake)
    └── StoreUnavailable        503 temporarily_unavailable: the shared store (Redis) cannot be reached
"""

from __future__ import annotations


class MockError(Exception):
    """Root of every refusal; `status` and `error` are defaults a vendor may map to its own."""

    status = 400
    error = "invalid_request"

    def __init__(self, description: str, *, field: str | None = None, rule: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.field = field
        # Which check failed, for vendors whose error codes distinguish them: a JSON Schema keyword
        # ("required", "maxLength", "type", "enum", ...), "json", "form", "media_type" or "size".
        self.rule = rule


class InvalidRequest(MockError):
    """The request is malformed: missing or invalid parameter, bad JSON, bad header."""


class UnsupportedMediaType(InvalidRequest):
    """The body's content type is not one the operation accepts."""

    status = 415

    def __init__(self, description: str) -> None:
        super().__init__(description, rule="media_type")


class PayloadTooLarge(InvalidRequest):
    """The body or the headers exceed the mock's size limits."""

    status = 413

    def __init__(self, description: str) -> None:
        super().__init__(description, rule="size")


class InvalidClient(MockError):
    """Client authentication failed (unknown client, wrong secret, missing or undecodable Basic header)."""

    status = 401
    error = "invalid_client"

    def __init__(self, description: str, *, field: str | None = None, via_basic: bool = False) -> None:
        super().__init__(description, field=field)
        # RFC 6749 §5.2: a client that authenticated with a Basic header gets 401 and a Basic challenge.
        self.via_basic = via_basic


class InvalidGrant(MockError):
    """The grant (user credentials, refresh token, cookie) is invalid, expired or revoked."""

    error = "invalid_grant"


class UnsupportedGrantType(MockError):
    """The grant type is not supported by this endpoint."""

    error = "unsupported_grant_type"


class InvalidScope(MockError):
    """The requested scope is invalid or exceeds what the client may have."""

    error = "invalid_scope"


class InvalidToken(MockError):
    """The bearer token is missing, malformed, expired, revoked or not for this resource (RFC 6750 §3.1).

    `missing` is True when no credentials were sent at all: RFC 6750 then omits the error attribute
    from `WWW-Authenticate`.
    """

    status = 401
    error = "invalid_token"

    def __init__(self, description: str, *, missing: bool = False, expired: bool = False) -> None:
        super().__init__(description)
        self.missing = missing
        # True when the token was genuine but past its expiry (vendors word that case differently).
        self.expired = expired


class InsufficientScope(MockError):
    """The token is valid but lacks the scope the resource requires (RFC 6750 §3.1)."""

    status = 403
    error = "insufficient_scope"

    def __init__(self, description: str, *, scope: str | None = None) -> None:
        super().__init__(description)
        self.scope = scope


class NotFound(MockError):
    """No such path under the vendor, or no such resource."""

    status = 404
    error = "not_found"


class MethodNotAllowed(MockError):
    """The path exists but not with this method."""

    status = 405
    error = "method_not_allowed"

    def __init__(self, description: str, *, allowed: tuple[str, ...] = ()) -> None:
        super().__init__(description)
        self.allowed = allowed


class ServerFault(MockError):
    """The mock itself failed; rendered in the vendor's shape rather than as an HTML page."""

    status = 500
    error = "server_error"


class StoreUnavailable(MockError):
    """The store holding the mock's shared state cannot be reached (Redis stopped, frozen, restarting).

    Raised by the store itself, fast while an outage lasts; every vendor renders it as its own 503 with
    `Retry-After`, so clients see a retryable refusal in the shape they parse rather than a 500 or a hang.
    """

    status = 503
    error = "temporarily_unavailable"

    def __init__(self, description: str, *, retry_after: int = 1) -> None:
        super().__init__(description)
        self.retry_after = retry_after
