"""What every vendor module builds on: the `Vendor` base class and the `@operation` decorator.

A vendor module subclasses `Vendor`, names itself, declares its default settings and the discrepancy
switches it implements, marks one method per contract operation with `@operation("<operationId>")`
and renders the shared `MockError`s in its own documented error shape. Nothing else in the mock knows
a vendor by name.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from tokenmock.mockserver.controls.claims import CLAIMS_SCHEMA, ClaimBook, ClaimsError, client_name, shape
from tokenmock.mockserver.controls.masking import known_secret_values
from tokenmock.mockserver.errors import InvalidToken, MockError, StoreUnavailable
from tokenmock.mockserver.pipeline.exchange import BasicCredentials, Call, Reply, decode_basic_rfc7617
from tokenmock.mockserver.stores import RefreshUse

if TYPE_CHECKING:
    from tokenmock.contracts import Operation
    from tokenmock.mockserver.controls.clock import Clock
    from tokenmock.mockserver.keyring import KeyRing
    from tokenmock.mockserver.stores import Store
    from tokenmock.mockserver.tokens import Issued, JwtSigner

F = TypeVar("F", bound=Callable[..., Reply])

# JSON Schema pieces for the vendors' `settings_schema` (the config schema in mockserver.config joins them).
TEXT: dict[str, Any] = {"type": "string", "minLength": 1}
TEXTS: dict[str, Any] = {"type": "array", "items": TEXT}
# A lifetime in seconds: at least one second, at most ten years (an `expires_in` clients can add to a clock).
LIFETIME: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": 10 * 366 * 86400}
# A signing key: unset (null) means one is made at start and shared through the store; never empty.
KEY: dict[str, Any] = {"type": ["string", "null"], "minLength": 1}
# Claims a client's access tokens carry besides the vendor's own (tokenmock.mockserver.controls.claims).
CLAIMS: dict[str, Any] = CLAIMS_SCHEMA


def settings_object(properties: Mapping[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A closed JSON Schema object: a misspelt key is refused instead of silently ignored."""
    schema: dict[str, Any] = {"type": "object", "properties": dict(properties), "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


def operation(operation_id: str) -> Callable[[F], F]:
    """Mark a `Vendor` method as the handler of a contract operation."""

    def mark(method: F) -> F:
        method._operation_id = operation_id  # type: ignore[attr-defined]
        return method

    return mark


@dataclass(frozen=True)
class Runtime:
    """The shared services a vendor module uses: clock and store (one per app)."""

    clock: Clock
    store: Store


class Vendor:
    """Base of the five vendor modules."""

    name: ClassVar[str]
    # Settings this vendor starts with (clients, lifetimes, keys); the config's vendors.<name> overrides.
    defaults: ClassVar[Mapping[str, Any]] = {}
    # JSON Schema of `defaults`' keys: what a config's vendors.<name> may set (see mockserver.config).
    settings_schema: ClassVar[Mapping[str, Any]] = {}
    # Discrepancy ids (openapi/discrepancies/<name>.yaml, mock != none) this module switches on.
    switches: ClassVar[frozenset[str]] = frozenset()
    # operationId -> method name, collected from @operation marks.
    handlers: ClassVar[dict[str, str]] = {}
    # The realm named in WWW-Authenticate challenges.
    realm: ClassVar[str] = "tokenmock"
    # A copy-paste request for a token with the demo credentials (`GET /` and the control page show it):
    # `{base}` is the vendor's base URL, `{name}` a member of the `demo` settings.
    demo_curl: ClassVar[str] = ""
    # A curl line that uses an access token at the vendor's protected resource (`{base}`, `{token}`): the
    # control page's "mint a token" shows it.
    resource_curl: ClassVar[str] = ""
    # Whether the vendor's access tokens are opaque (never read by clients): then no custom claims.
    opaque_tokens: ClassVar[bool] = False
    # The settings lists whose items `POST /__mock/clients` may add (each checked by that list's schema).
    runtime_records: ClassVar[tuple[str, ...]] = ("clients",)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[str, str] = {}
        for klass in reversed(cls.__mro__):  # subclasses inherit, and may override, handlers
            for attr, member in vars(klass).items():
                if callable(member) and hasattr(member, "_operation_id"):
                    handlers[member._operation_id] = attr
        cls.handlers = handlers

    def __init__(self, runtime: Runtime, settings: Mapping[str, Any], readings: Mapping[str, str]) -> None:
        self.runtime = runtime
        self.clock = runtime.clock
        self.store = runtime.store
        self.settings = settings
        self.readings = readings
        self._configured_secrets = known_secret_values(settings)
        self.claim_book = ClaimBook(self.store)

    def lenient(self, discrepancy_id: str) -> bool:
        """Whether the lenient reading of a register entry is in force."""
        if discrepancy_id not in self.switches:
            raise KeyError(f"{self.name} declares no switch {discrepancy_id}")
        return self.readings.get(discrepancy_id) == "lenient"

    def handler(self, operation_id: str) -> Callable[[Call], Reply]:
        """The bound handler of an operation."""
        return getattr(self, self.handlers[operation_id])

    # Hooks with defaults a vendor may override.

    def decode_basic(self, value: str) -> BasicCredentials:
        """How this vendor reads `Authorization: Basic ...` (RFC 7617 unless overridden)."""
        return decode_basic_rfc7617(value)

    def bearer_token(self, call: Call) -> str | None:
        """The access token a request presents (RFC 6750 §2.1 header unless a reading allows more)."""
        return call.bearer

    def media_types(self, op: Operation) -> tuple[str, ...]:
        """Request content types the mock accepts (the contract's unless a reading narrows or widens
        them); a type the contract does not list is validated with its first body schema."""
        return op.request_media_types

    def default_media_type(self, op: Operation) -> str | None:
        """How to read a body sent without Content-Type (None: refuse it as an unsupported media type)."""
        return None

    def adjust_parameter(self, op: Operation, parameter: dict[str, Any]) -> dict[str, Any]:
        """A contract parameter as the mock enforces it (a lenient reading may make it optional)."""
        return parameter

    def adjust_body_schema(self, op: Operation, schema: dict[str, Any]) -> dict[str, Any]:
        """The body schema the mock enforces (a lenient reading may relax the contract's); compiled once."""
        return schema

    def body_required(self, op: Operation) -> bool:
        """Whether a request without a body is refused (the contract's word unless a reading relaxes it)."""
        return op.body_required

    def render_error(self, error: MockError, call: Call | None, path: str) -> Reply:
        """Turn a refusal into this vendor's documented status, body and headers.

        `call` is None when the request matched no operation or failed validation before one was
        built; `path` is the request path relative to the vendor (what the vendor itself would see).
        """
        raise NotImplementedError

    def mint_claims(self, client: Mapping[str, Any], base: str) -> dict[str, Any]:
        """The claims this vendor's own access token for `client` carries (the default grant: all its
        scopes, its first profile), for `POST /__mock/tokens`; `base` is the vendor's base URL."""
        raise ClaimsError(f"{self.name} issues opaque tokens: nothing to mint with claims")

    def access_signer(self) -> JwtSigner | KeyRing:
        """The signer of this vendor's access tokens: a JWT vendor's `signer` (an opaque one never asks)."""
        signer: JwtSigner | KeyRing = getattr(self, "signer")  # noqa: B009 - set by each vendor's __init__
        return signer

    def issue_access(
        self, client: Mapping[str, Any], claims: Mapping[str, Any], lifetime: int
    ) -> tuple[Issued, dict[str, Any] | None]:
        """Sign an access token for `client`: the vendor's claims, then the client's configured claims,
        then claims armed for the next tokens. Also the journal's mark when a test shaped the token."""
        shaped = shape(self.claim_book, self.name, client)
        issued = self.access_signer().issue(claims, lifetime, custom=shaped.claims, kid=shaped.kid)
        return issued, shaped.note({**claims, "iat": 0, "exp": 0})

    def mint(
        self,
        client: Mapping[str, Any],
        *,
        claims: Mapping[str, Any] | None = None,
        kid: str | None = None,
        lifetime: int | None = None,
        base: str,
    ) -> Issued:
        """A real signed access token for `client` with `claims` over the vendor's own (admin API)."""
        if self.opaque_tokens:
            raise ClaimsError(f"{self.name} issues opaque tokens: nothing to mint with claims")
        own = self.mint_claims(client, base)
        custom = {**(client.get("claims") or {}), **(claims or {})}
        seconds = int(lifetime if lifetime is not None else self.settings["token_lifetime"])
        return self.access_signer().issue(own, seconds, custom=custom, kid=kid)

    def find_record(self, name: str | None) -> Mapping[str, Any] | None:
        """The configured or runtime client that `name` names (client_id, else username), or the first
        configured one when `name` is None."""
        records = self.clients()
        if name is None:
            return records[0] if records else None
        return next((record for record in records if client_name(record) == name), None)

    def rotate_keys(self) -> dict[str, Any] | None:
        """Replace the asymmetric signing key (admin API): the new `kid` and the retired keys still
        published; None for a vendor without one (HMAC keys are never published, so never rotated)."""
        return None

    # Helpers for the vendor modules.

    def known_secrets(self) -> frozenset[str]:
        """Values this vendor's configuration holds as secrets (client secrets, passwords, sessions, keys):
        the journal and the log mask them wherever they turn up, whatever the field is called."""
        return frozenset(self._configured_secrets)

    def runtime_secrets(self) -> frozenset[str]:
        """The secrets of clients registered at runtime (usually none: then no work). During a store outage
        the runtime clients are unknown (and the journal is not written); the configured ones still count."""
        try:
            records = self.store.clients(self.name)
        except StoreUnavailable:
            return frozenset()
        return frozenset(known_secret_values({}, records)) if records else frozenset()

    def clients(self) -> list[Mapping[str, Any]]:
        """Configured clients (settings `clients`) plus those registered at runtime."""
        return [*self.settings.get("clients", []), *self.store.clients(self.name)]

    def refresh_refusal(self, claims: Mapping[str, Any], token: str, *, rotate: bool) -> str | None:
        """Why a genuine refresh token may not be used now: "revoked", "reused" (a replay: its family is now
        revoked) or "unknown"; None when it may. With `rotate`, a usable token is consumed by this call."""
        jti, sid = str(claims.get("jti", "")), str(claims.get("sid", ""))
        if self.store.is_revoked(jti, sid, token):
            return "revoked"
        if rotate:
            use = self.store.use_refresh(jti)
            if use is RefreshUse.REUSED:
                return "reused"
            if use is not RefreshUse.FRESH:
                return "unknown"
        return None

    def find_client(self, **credentials: str | None) -> Mapping[str, Any] | None:
        """The configured client whose fields equal every given credential, compared in constant time.

        Every record is compared in full, so the time taken does not tell which part was wrong. A record
        without one of the fields matches nothing (a runtime client registered without a secret is not
        one whose secret is empty).
        """
        if any(value is None for value in credentials.values()):
            return None
        found = None
        for record in self.clients():
            matched = True
            for key, value in credentials.items():
                expected = str(record.get(key, ""))
                matched &= key in record
                matched &= hmac.compare_digest(
                    expected.encode("utf-8", "surrogatepass"), str(value).encode("utf-8", "surrogatepass")
                )
            if matched and found is None:
                found = record
        return found

    def audience_matches(self, claims: Mapping[str, Any]) -> bool:
        """RFC 7519 §4.1.3: a token names its audience, and a vendor refuses one that does not name it.

        The vendor's `audience` setting (a string or a list) is what it answers to; a vendor without one
        issues tokens without `aud`, so a token that carries one was meant for somebody else.
        """
        expected = self.settings.get("audience")
        expected = {expected} if isinstance(expected, str) else set(map(str, expected or ()))
        if "aud" not in claims:
            return not expected
        granted = claims["aud"]
        granted = [granted] if isinstance(granted, str) else granted
        return isinstance(granted, list) and bool(expected & {str(a) for a in granted})

    @staticmethod
    def retry_hint(error: MockError) -> dict[str, str]:
        """`Retry-After` for a refusal that a retry can cure (the store is unreachable), else nothing."""
        if isinstance(error, StoreUnavailable):
            return {"Retry-After": str(error.retry_after)}
        return {}

    def bearer_challenge(self, error: MockError) -> dict[str, str]:
        """RFC 6750 §3 `WWW-Authenticate` for a refused bearer token (no error attribute if none was sent)."""
        if isinstance(error, InvalidToken) and error.missing:
            return {"WWW-Authenticate": f'Bearer realm="{self.realm}"'}
        description = error.description.replace('"', "'")
        return {
            "WWW-Authenticate": (
                f'Bearer realm="{self.realm}", error="{error.error}", error_description="{description}"'
            )
        }


def fill_demo_curl(template: str, base: str, demo: Mapping[str, Any]) -> str:
    """A vendor's `demo_curl` with its base URL and demo credentials filled in."""
    line = template.replace("{base}", base)
    for name, value in demo.items():
        line = line.replace("{" + name + "}", str(value))
    return line
