"""The shared core of the vendor clients: one cached token, single-flight renewal, contract-checked parsing.

A vendor module subclasses `TokenClient`, says how to log in (`_login`) and, where the vendor has one,
how to refresh (`_refresh`), both as flows (`tokenmock.client.flow`: generators that yield the requests
to send), how a success payload becomes a `Token` (`_token_from`) and how its error payload reads
(`_error_of`). Everything else (caching, locking, retries, typed errors) is here; this class drives the
flows on requests, `tokenmock.client.asyncio.AsyncTokenClient` drives the same flows on httpx.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import requests

from tokenmock import contracts
from tokenmock.client.auth import BearerAuth
from tokenmock.client.errors import (
    MIN_SCRUBBED,
    AuthenticationError,
    ContractViolation,
    RequestRejected,
    TokenError,
    TransportError,
    scrub,
)
from tokenmock.client.flow import Done, Flow, PeerToken, RefreshFlow, Send, resume
from tokenmock.client.store import MemoryTokenStore, TokenStore
from tokenmock.client.token import Token
from tokenmock.client.transport import Reply, RetryPolicy, Transport

__all__ = ["MAX_EXPIRES_IN", "MIN_SCRUBBED", "USABLE_TOKEN", "TokenClient"]

# Printable ASCII without spaces: anything else cannot travel in `Authorization: Bearer <token>`.
USABLE_TOKEN = re.compile(r"[\x21-\x7e]+")
# Ten years: an expires_in beyond this is a server bug, not a token lifetime.
MAX_EXPIRES_IN = 10 * 365 * 24 * 3600


class TokenClient:
    """Base of the five vendor clients."""

    vendor: ClassVar[str]
    default_base_url: ClassVar[str | None] = None
    # Vendor error codes that mean "your credentials were refused" (the rest are RequestRejected).
    credential_codes: ClassVar[frozenset[str]] = frozenset({"invalid_client", "invalid_grant"})
    # Attributes holding the long-lived secrets, scrubbed from any message a server echoes them into.
    secret_attributes: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        *,
        base_url: str | None = None,
        session: requests.Session | None = None,
        timeout: float = 10.0,
        leeway: float = 60.0,
        store: TokenStore | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        url = base_url or self.default_base_url
        if not url:
            raise ValueError(f"{self.vendor}: the vendor documents no host; pass base_url=")
        self.base_url = url.rstrip("/")
        self.leeway = leeway
        self.clock = clock
        self.store: TokenStore = store or MemoryTokenStore()
        self.transport = Transport(self.vendor, session=session, timeout=timeout, retry=retry, sleep=sleep)
        self._lock = threading.Lock()
        self._token: Token | None = None
        # (access token, when this client obtained it): how long its whole lifetime is.
        self._obtained: tuple[str, float] | None = None
        # The token being renewed (perhaps loaded from the store, not yet cached): its refresh token is sent.
        self._renewing: Token | None = None

    # The public API.

    def token(self) -> Token:
        """A valid token: the cached one, else renewed (refresh first where the vendor has it)."""
        with self._lock:
            token, usable = self._lookup()
            if usable:
                assert token is not None
                return token
            self._renewing = token
            try:
                fresh = self._drive(self._renew(token))
            finally:
                self._renewing = None
            return self._keep(fresh)

    def _lookup(self) -> tuple[Token | None, bool]:
        """The cached (else stored) token, and whether it is still good to use (then it is the cached one)."""
        token = self._token or self.store.load(self.store_key)
        if token is not None and not self._due(token):
            self._token = token
            return token, True
        return token, False

    def _keep(self, token: Token) -> Token:
        """Check a freshly obtained token and make it the cached and stored one."""
        if not USABLE_TOKEN.fullmatch(token.access_token):
            raise ContractViolation(
                "access_token is not a usable bearer token (RFC 6750 b64token characters)",
                vendor=self.vendor,
                status=200,
            )
        self._token = token
        self._obtained = (token.access_token, self.clock())
        self.store.save(self.store_key, token)
        return token

    def _drive(self, flow: Flow) -> Token:
        """Run a flow on this client's requests transport."""
        value: Any = None
        error: TokenError | None = None
        while not isinstance(step := resume(flow, value, error=error), Done):
            value, error = None, None
            try:
                if isinstance(step, PeerToken):
                    value = step.source.token()
                else:
                    value = self.call(step.operation_id, step.method, step.url, **step.options)
            except TokenError as refused:
                error = refused
        return step.value

    def _due(self, token: Token) -> bool:
        """Whether to renew: within `leeway` of expiry, but never before half of a lifetime this client saw
        start (a 30 s token under a 60 s leeway would otherwise be fetched anew on every call)."""
        leeway = self.leeway
        obtained = self._obtained
        if obtained is not None and token.expires_at is not None and obtained[0] == token.access_token:
            leeway = min(leeway, max(token.expires_at - obtained[1], 0.0) / 2)
        return token.is_expired(leeway, now=self.clock())

    def invalidate(self, token: Token | None = None) -> None:
        """Drop the cached access token (only if it is still `token`, when given); the refresh token stays."""
        with self._lock:
            current = self._token
            if current is None or (token is not None and current.access_token != token.access_token):
                return
            expired = Token(
                access_token=current.access_token,
                token_type=current.token_type,
                expires_at=0.0,
                refresh_token=current.refresh_token,
                scope=current.scope,
                raw=current.raw,
            )
            self._token = expired
            self.store.save(self.store_key, expired)

    def auth(self) -> requests.auth.AuthBase:
        """A requests auth that sets `Authorization: Bearer`, renews before expiry, and on a 401 renews
        once and retries once."""
        return BearerAuth(self)

    @property
    def store_key(self) -> str:
        """The key this client's token is stored under."""
        return f"{self.vendor}|{self.base_url}|{self.identity}"

    # Hooks for the vendor modules.

    @property
    def identity(self) -> str:
        """Who the token is for (client id, user name): part of the store key."""
        raise NotImplementedError

    def _login(self) -> Flow:
        """The flow that gets a fresh token with the long-lived credentials."""
        raise NotImplementedError

    def _refresh(self, token: Token) -> RefreshFlow | None:
        """The flow that renews with `token.refresh_token`; None where the vendor has no refresh flow."""
        return None

    def send(self, operation_id: str, method: str, path: str, **options: Any) -> Send:
        """A flow step: send this token request (path under the base URL; options as requests takes them)."""
        return Send(operation_id, method, self.url(path), options)

    def _token_from(self, payload: Any, operation_id: str) -> Token:
        """A Token from an OAuth-style success payload (RFC 6749 §5.1 field names)."""
        return Token(
            access_token=payload["access_token"],
            token_type=payload.get("token_type") or "Bearer",
            expires_at=self.expires_at(payload.get("expires_in"), operation_id, payload),
            refresh_token=payload.get("refresh_token"),
            scope=payload.get("scope"),
            raw=payload,
        )

    def _error_of(self, payload: Any) -> tuple[str | None, str]:
        """(vendor error code, message) from a documented error payload (RFC 6749 §5.2 by default)."""
        if isinstance(payload, Mapping):
            code = payload.get("error")
            return (str(code) if code else None, str(payload.get("error_description") or code or "refused"))
        return None, "refused"

    # Shared machinery.

    def _renew(self, previous: Token | None) -> Flow:
        """Refresh where the vendor can and the token has a refresh token; else, or when refused, log in."""
        refresh = self._refresh(previous) if previous is not None and previous.refresh_token else None
        if refresh is not None:
            try:
                refreshed = yield from refresh
            except AuthenticationError:
                refreshed = None  # refresh token refused (expired, rotated, revoked): log in again
            if refreshed is not None:
                return refreshed
        return (yield from self._login())

    def url(self, path: str) -> str:
        """An absolute URL under the base URL."""
        return self.base_url + path

    def call(self, operation_id: str, method: str, url: str, **kwargs: Any) -> Any:
        """Send a token request and return its contract-checked success payload, or raise a TokenError
        whose message holds none of the client's secrets in any encoding."""
        try:
            reply = self.transport.send(method, url, **kwargs)
            return self.parse(operation_id, reply)
        except TokenError as error:
            raise error.scrubbed(self._secret_values()) from None

    def parse(self, operation_id: str, reply: Reply) -> Any:
        """Check a reply against the contract; the payload on success, else the right TokenError."""
        status = reply.status
        try:
            payload = json.loads(reply.body) if reply.body else None
        except (ValueError, RecursionError):
            raise ContractViolation(
                "the response body is not JSON", vendor=self.vendor, status=status
            ) from None
        try:
            contracts.validate_response(self.vendor, operation_id, status, payload, dict(reply.headers))
        except contracts.Violation as violation:
            raise ContractViolation(
                f"{violation.rule}{' at ' + violation.field if violation.field else ''}: {violation.message}",
                vendor=self.vendor,
                status=status,
                payload=payload,
            ) from None
        if 200 <= status < 300:
            if reply.body and not reply.headers.get("Content-Type"):
                # RFC 6749 §5.1: a token response is application/json; without a type it is not one.
                raise ContractViolation(
                    "content_type: the token response has no Content-Type", vendor=self.vendor, status=status
                )
            return payload
        if status >= 500 or status == 429:
            raise TransportError(f"the server answered {status}", vendor=self.vendor, status=status)
        code, message = self._error_of(payload)
        kind: type[TokenError] = (
            AuthenticationError if status == 401 or (code in self.credential_codes) else RequestRejected
        )
        raise kind(message, vendor=self.vendor, status=status, code=code, payload=payload)

    def _secret_values(self) -> list[str]:
        """Every secret this client holds: its credentials and the tokens it has."""
        values = [getattr(self, name, None) for name in self.secret_attributes]
        for token in (self._token, self._renewing):
            if token is not None:
                values += [token.access_token, token.refresh_token]
        return [v for v in values if isinstance(v, str) and len(v) >= MIN_SCRUBBED]

    def _scrub(self, message: str) -> str:
        """`message` without the client's secrets in any encoding (`errors.scrub`): a server may echo
        what it was sent into its error text."""
        return scrub(message, self._secret_values())

    def expires_at(self, expires_in: Any, operation_id: str, payload: Any) -> float | None:
        """Absolute expiry from `expires_in`; absurd values are a contract violation."""
        if expires_in is None:
            return None
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or not (
            0 < expires_in <= MAX_EXPIRES_IN
        ):
            raise ContractViolation(
                f"{operation_id}: expires_in is not a sensible number of seconds",
                vendor=self.vendor,
                status=200,
                payload=payload,
            )
        return self.clock() + float(expires_in)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, identity={self.identity!r})"
