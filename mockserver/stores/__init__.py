"""The state stores (memory, SQLite, Redis) behind one interface, and the factory that opens one by URL.

The SQLite and Redis implementations are imported only when a URL names them, so a process on the
memory store never loads the redis client.
"""

from __future__ import annotations

from tokenmock.mockserver.stores.base import (
    CLIENTS_DOC,
    KEY_SETTINGS,
    RefreshRecord,
    RefreshUse,
    Store,
    StoreError,
    new_hmac_secret,
    new_rsa_private_pem,
    provide_keys,
)
from tokenmock.mockserver.stores.memory import MemoryStore
from tokenmock.redaction import mask_url

__all__ = [
    "CLIENTS_DOC",
    "KEY_SETTINGS",
    "MemoryStore",
    "RefreshRecord",
    "RefreshUse",
    "Store",
    "StoreError",
    "is_shared",
    "new_hmac_secret",
    "new_rsa_private_pem",
    "open_store",
    "provide_keys",
]


def open_store(url: str | None, *, journal_size: int = 1000, timeout: float = 0.5) -> Store:
    """The store a URL names: `memory` (default), `sqlite:///path/to/state.db`, `redis://HOST:PORT/DB`.

    `timeout` bounds each Redis operation (seconds): past it the request is answered 503.
    """
    if url is None or url in ("memory", "memory://"):
        return MemoryStore(journal_size=journal_size)
    if url.startswith("sqlite://"):
        from tokenmock.mockserver.stores.sqlite import SQLiteStore

        path = url.removeprefix("sqlite://")
        if not path:
            raise StoreError("a SQLite store needs a file: sqlite:///path/to/state.db")
        return SQLiteStore(path, journal_size=journal_size)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from tokenmock.mockserver.stores.redis import RedisStore

        return RedisStore(url, journal_size=journal_size, timeout=timeout)
    raise StoreError(
        f"unknown store {mask_url(url)!r}; use memory, sqlite:///path/to/state.db or redis://host:port/db"
    )


def is_shared(url: str | None) -> bool:
    """Whether a store URL names state that several processes can share."""
    return url not in (None, "memory", "memory://")
