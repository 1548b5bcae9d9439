"""Mutable server state behind one interface, so several worker processes and hosts behave as one mock.

Tokens are signed, so checking them needs no state; everything else lives in a `Store`:
refresh-token families and their rotation, revocations, clients registered at runtime, the clock's
offset or frozen instant, armed faults and their counters, the request journal, and signing keys the
config does not give. Three implementations:

- `MemoryStore`: plain dicts in the process (the default; unit tests and a single worker);
- `SQLiteStore` (stores.sqlite): one file in WAL mode, shared by the worker processes of one
  host (the default whenever `tokenmock serve` runs more than one worker);
- `RedisStore` (stores.redis): one Redis database shared by every host of a CI farm.

Small documents that every request may consult (clock, faults, runtime clients) are cached in each
process and re-read only when the store's generation number moved, so a request that touches no
token state costs no round trip beyond writing its journal record.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from tokenmock.mockserver.controls.journal import JournalLike

R = TypeVar("R")
# A document update: the current value (None when absent) -> (the new value, what to return).
# It may run more than once (Redis retries on conflict), so it must not have side effects.
Change = Callable[[Any], tuple[Any, R]]

CLIENTS_DOC = "clients"  # {vendor: [client, ...]} registered at runtime
# Revocations kept (families revoked by a replayed refresh token need no admin: login, refresh, replay). Past
# it, the tenth that expire first are forgotten (their tokens have expired, or expire soonest).
MAX_REVOKED = 100_000
HEALTH_KEY = "tokenmock.health"  # the key health reads (or writes) through the store: a real round trip


class RefreshUse(Enum):
    """The outcome of presenting a refresh token."""

    FRESH = "fresh"  # first use: rotate it
    REUSED = "reused"  # already rotated: a replay; the whole family is now revoked
    REVOKED = "revoked"  # its family or itself was revoked
    UNKNOWN = "unknown"  # never issued by this server (or forgotten after a reset)


@dataclass(frozen=True)
class RefreshRecord:
    """What the server remembers of an issued refresh token."""

    family: str
    expires_at: float


class Store(ABC):
    """All mutable state of the mock.

    A store across the network raises `errors.StoreUnavailable` from any operation while it cannot be
    reached (the pipeline turns it into the vendor's 503); the journal drops records meanwhile.
    """

    journal: JournalLike

    # Refresh tokens and revocation.

    @abstractmethod
    def remember_refresh(self, token_id: str, family: str, expires_at: float) -> None:
        """Record an issued refresh token as usable."""

    @abstractmethod
    def use_refresh(self, token_id: str) -> RefreshUse:
        """Atomically consume a refresh token; a second use revokes its whole family."""

    @abstractmethod
    def revoke(self, token_id: str, expires_at: float | None = None) -> None:
        """Revoke one token (access or refresh) by its id, or a whole family by its id; `expires_at` (when
        known) is when the revocation stops mattering: past MAX_REVOKED, those that expire first go."""

    @abstractmethod
    def is_revoked(self, *token_ids: str) -> bool:
        """Whether any of the ids (token id, family id) was revoked."""

    # Shared documents (clock, faults, runtime clients).

    @abstractmethod
    def read(self, name: str) -> Any:
        """A document as of the last `sync()` (None when never written); cheap, no round trip."""

    @abstractmethod
    def update(self, name: str, change: Change[R]) -> R:
        """Apply `change` to a document atomically across every process sharing the store."""

    def sync(self) -> None:  # noqa: B027 - the memory store is always in sync
        """Re-read the documents if another process changed them (once per request)."""

    # Signing keys.

    @abstractmethod
    def shared_key(self, name: str, make: Callable[[], str]) -> str:
        """The key stored under `name`; the first caller's `make()` wins when several start at once."""

    # Life cycle.

    @abstractmethod
    def forget_tokens(self) -> None:
        """Forget refresh tokens and revocations."""

    def reset(self) -> None:
        """Forget refresh tokens, revocations and runtime clients (signing keys stay)."""
        self.forget_tokens()
        self.update(CLIENTS_DOC, lambda _doc: ({}, None))

    def probe(self) -> None:
        """One round trip that shows whether the store can serve (health); raises StoreUnavailable if not."""
        self.shared_key(HEALTH_KEY, lambda: "ok")

    def close(self) -> None:  # noqa: B027 - nothing to release in memory
        """Release this process's connections (they reopen when next needed)."""

    # Runtime clients, a document.

    def add_client(self, vendor: str, client: Mapping[str, Any]) -> None:
        """Register credentials at runtime."""
        record = dict(client)

        def add(doc: Any) -> tuple[dict[str, Any], None]:
            doc = dict(doc or {})
            doc[vendor] = [*doc.get(vendor, []), record]
            return doc, None

        self.update(CLIENTS_DOC, add)

    def clients(self, vendor: str) -> list[dict[str, Any]]:
        """Credentials registered at runtime for a vendor."""
        doc = self.read(CLIENTS_DOC)
        return list(doc.get(vendor, ())) if doc else []


# Signing keys. Vendor settings with these names hold a vendor's keys; when the config leaves one
# unset, the store provides it (made once, then shared by every process and host using the store).


def new_hmac_secret() -> str:
    """A random HS256 / HMAC secret (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


def new_rsa_private_pem() -> str:
    """A fresh 2048-bit RSA private key in PKCS#8 PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


KEY_SETTINGS: dict[str, Callable[[], str]] = {
    "secret": new_hmac_secret,
    "signing_secret": new_hmac_secret,
    "token_secret": new_hmac_secret,
    "private_key_pem": new_rsa_private_pem,
}


def provide_keys(store: Store, vendor: str, defaults: Mapping[str, Any], settings: dict[str, Any]) -> None:
    """Fill the vendor's unset key settings from the store (`<vendor>.<setting>`), in place."""
    for setting, make in KEY_SETTINGS.items():
        if setting in defaults and settings.get(setting) is None:
            settings[setting] = store.shared_key(f"{vendor}.{setting}", make)


class StoreError(ValueError):
    """The store URL is not understood, or the store cannot be reached."""
