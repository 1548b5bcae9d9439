"""The store for several hosts: one Redis database (`redis://HOST:PORT/DB`, redis-py).

Each operation on token state is one Lua script, so it is atomic and costs one round trip. The shared
documents (clock, faults, runtime clients) sit in one hash with a generation counter beside it; each
request asks Redis whether the generation moved (one GET) and fetches the documents only when it
did. `?prefix=NAME` in the URL keeps several mocks apart in one database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis

from tokenmock.mockserver.controls.journal import selected
from tokenmock.mockserver.stores.base import Change, R, RefreshUse, Store, StoreError

# KEYS: refresh hash, expiry zset. ARGV: token id, family, expires_at, max records.
_REMEMBER = """
redis.call('HSET', KEYS[1], ARGV[1], '0|' .. ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local count = redis.call('ZCARD', KEYS[2])
if count >= tonumber(ARGV[4]) then
  local victims = redis.call('ZPOPMIN', KEYS[2], math.max(1, math.floor(count / 10)))
  for i = 1, #victims, 2 do redis.call('HDEL', KEYS[1], victims[i]) end
end
return 1
"""
# KEYS: refresh hash, revoked set. ARGV: token id.
_USE = """
local record = redis.call('HGET', KEYS[1], ARGV[1])
if not record then return 'unknown' end
local family = string.sub(record, 3)
if string.sub(record, 1, 1) == '1' then
  redis.call('SADD', KEYS[2], family)
  return 'reused'
end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 or redis.call('SISMEMBER', KEYS[2], family) == 1 then
  return 'revoked'
end
redis.call('HSET', KEYS[1], ARGV[1], '1|' .. family)
return 'fresh'
"""
# KEYS: journal list, id counter. ARGV: entry JSON, size.
_RECORD = """
local id = redis.call('INCR', KEYS[2])
redis.call('RPUSH', KEYS[1], id .. '|' .. ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
return id
"""


def _split_prefix(url: str) -> tuple[str, str]:
    """The URL without `prefix=`, and the key prefix (default `tokenmock`)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    prefix = next((v for k, v in query if k == "prefix"), "tokenmock")
    rest = urlencode([(k, v) for k, v in query if k != "prefix"])
    return urlunsplit(parts._replace(query=rest)), prefix


class RedisStore(Store):
    """Every piece of mutable state in one Redis database, shared by every process of every host."""

    def __init__(self, url: str, *, journal_size: int = 1000, max_refresh: int = 200_000) -> None:
        address, prefix = _split_prefix(url)
        self.redis = redis.Redis.from_url(address, decode_responses=True, socket_timeout=10, socket_connect_timeout=5)
        self._key = {
            name: f"{prefix}:{name}"
            for name in ("refresh", "expiry", "revoked", "docs", "generation", "keys", "journal", "journal_id")
        }
        self._journal_size = max(1, int(journal_size))
        self._max_refresh = max_refresh
        self._remember = self.redis.register_script(_REMEMBER)
        self._use = self.redis.register_script(_USE)
        self._record = self.redis.register_script(_RECORD)
        self._docs: dict[str, Any] = {}
        self._seen: str | None = "never"
        try:
            self.sync()
        except redis.RedisError as exc:
            shown = re.sub(r"//[^/@]*@", "//", address)  # never a password in a message
            raise StoreError(f"cannot use the Redis store at {shown}: {exc}") from None
        self.journal = RedisJournal(self)

    # Refresh tokens and revocation.

    def remember_refresh(self, token_id: str, family: str, expires_at: float) -> None:
        self._remember(
            keys=[self._key["refresh"], self._key["expiry"]], args=[token_id, family, expires_at, self._max_refresh]
        )

    def use_refresh(self, token_id: str) -> RefreshUse:
        return RefreshUse(self._use(keys=[self._key["refresh"], self._key["revoked"]], args=[token_id]))

    def revoke(self, token_id: str) -> None:
        self.redis.sadd(self._key["revoked"], token_id)

    def is_revoked(self, *token_ids: str) -> bool:
        ids = [t for t in token_ids if t]
        return bool(ids) and any(self.redis.smismember(self._key["revoked"], ids))

    def forget_tokens(self) -> None:
        self.redis.delete(self._key["refresh"], self._key["expiry"], self._key["revoked"])

    # Documents, cached per process and re-read when the generation moves.

    def sync(self) -> None:
        if self.redis.get(self._key["generation"]) == self._seen:  # the usual case: one short GET
            return
        with self.redis.pipeline(transaction=True) as pipe:  # the documents and their generation, together
            pipe.get(self._key["generation"])
            pipe.hgetall(self._key["docs"])
            generation, docs = pipe.execute()
        self._docs = {name: json.loads(value) for name, value in docs.items()}
        self._seen = generation

    def read(self, name: str) -> Any:
        return self._docs.get(name)

    def update(self, name: str, change: Change[R]) -> R:
        docs = self._key["docs"]
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(docs)
                    raw = pipe.hget(docs, name)
                    value, result = change(json.loads(raw) if raw else None)
                    pipe.multi()
                    pipe.hset(docs, name, json.dumps(value))
                    pipe.incr(self._key["generation"])
                    pipe.execute()
                    break
                except redis.WatchError:  # another process changed a document first: start again
                    continue
        self._docs = {**self._docs, name: value}  # this process sees its own change at once
        return result

    # Keys.

    def shared_key(self, name: str, make: Callable[[], str]) -> str:
        found = self.redis.hget(self._key["keys"], name)
        if found is None:
            self.redis.hsetnx(self._key["keys"], name, make())
            found = self.redis.hget(self._key["keys"], name)
        return str(found)

    def close(self) -> None:
        """Drop the connections."""
        self.redis.close()


class RedisJournal:
    """The request journal as a capped Redis list of `id|json` (ids from one counter)."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store

    def record(self, entry: dict[str, Any]) -> None:
        """Append one (already masked) record."""
        store = self._store
        text = json.dumps(entry, separators=(",", ":"), default=str)
        entry["id"] = int(
            store._record(keys=[store._key["journal"], store._key["journal_id"]], args=[text, store._journal_size])
        )

    def _newest(self) -> list[str]:
        store = self._store
        return [str(item) for item in store.redis.lrange(store._key["journal"], -store._journal_size, -1)]

    def entries(self, vendor: str | None = None, operation: str | None = None) -> list[dict[str, Any]]:
        """The last `journal_size` records, oldest first, optionally filtered."""
        found = []
        for item in self._newest():
            row_id, _, text = item.partition("|")
            found.append({**json.loads(text), "id": int(row_id)})
        return [e for e in found if selected(e, vendor, operation)]

    def clear(self) -> None:
        """Forget every record (ids keep counting up)."""
        self._store.redis.delete(self._store._key["journal"])

    def __len__(self) -> int:
        return min(int(self._store.redis.llen(self._store._key["journal"])), self._store._journal_size)
