"""The store for several hosts: one Redis database (`redis://HOST:PORT/DB`, redis-py).

Each operation on token state is one Lua script, so it is atomic and costs one round trip. The shared
documents (clock, faults, runtime clients) sit in one hash with a generation counter beside it; each
request asks Redis whether the generation moved (one GET) and fetches the documents only when it
did. `?prefix=NAME` in the URL keeps several mocks apart in one database.

Outages: every operation has a short socket timeout and no retry inside redis-py, and runs under a
`Breaker`, so a stopped or frozen Redis costs a request at most one timeout and then `StoreUnavailable`
(each vendor's 503). A random epoch, set by the first process to use the database and read with the
generation (one MGET), tells a Redis that came back empty (restarted without persistence, flushed):
its epoch is gone or new. The process then re-publishes what it knows (the signing keys it uses, the
documents it last read) so hosts started afterwards agree with it. Refresh-token records and
revocations are not re-published: no process knows all of them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tokenmock.mockserver.controls import journal_size
from tokenmock.mockserver.controls.journal import selected
from tokenmock.mockserver.errors import StoreUnavailable
from tokenmock.mockserver.stores.base import MAX_REVOKED, Change, R, RefreshUse, Store, StoreError
from tokenmock.mockserver.stores.outage import Breaker
from tokenmock.redaction import mask_url

# What an unreachable, frozen or restarting Redis raises (BusyLoadingError is a ConnectionError).
_OUTAGE = (redis.ConnectionError, redis.TimeoutError, OSError)

log = logging.getLogger("tokenmock.store")

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
# Revocations are a set (what is revoked) and a zset (until when it matters): past ARGV[max], the tenth
# that expire first go. KEYS: revoked set, revoked expiry zset. ARGV[i], ARGV[i+1]: id, expires_at.
_ADD_REVOKED = """
local function num(x)
  if x == '+inf' or x == 'inf' then return math.huge end
  return tonumber(x)
end
local function add_revoked(set, zset, id, expires_at, max)
  redis.call('SADD', set, id)
  local known = redis.call('ZSCORE', zset, id)
  if not known or num(known) < num(expires_at) then redis.call('ZADD', zset, expires_at, id) end
  local count = redis.call('ZCARD', zset)
  if count > max then
    local victims = redis.call('ZPOPMIN', zset, math.max(1, math.floor(count / 10)))
    for i = 1, #victims, 2 do redis.call('SREM', set, victims[i]) end
  end
end
"""
# KEYS: revoked set, revoked expiry zset. ARGV: id, expires_at, max revocations.
_REVOKE = _ADD_REVOKED + """
add_revoked(KEYS[1], KEYS[2], ARGV[1], ARGV[2], tonumber(ARGV[3]))
return 1
"""
# KEYS: refresh hash, revoked set, refresh expiry zset, revoked expiry zset. ARGV: token id, max revocations.
_USE = _ADD_REVOKED + """
local record = redis.call('HGET', KEYS[1], ARGV[1])
if not record then return 'unknown' end
local family = string.sub(record, 3)
if string.sub(record, 1, 1) == '1' then
  add_revoked(KEYS[2], KEYS[4], family, redis.call('ZSCORE', KEYS[3], ARGV[1]) or '+inf', tonumber(ARGV[2]))
  return 'reused'
end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 or redis.call('SISMEMBER', KEYS[2], family) == 1 then
  return 'revoked'
end
redis.call('HSET', KEYS[1], ARGV[1], '1|' .. family)
return 'fresh'
"""
# KEYS: journal list, id counter, bytes held. ARGV: entry JSON, size, total bytes. The oldest records go
# until the list holds at most `size` records of at most `total bytes` together.
_RECORD = """
local id = redis.call('INCR', KEYS[2])
local item = id .. '|' .. ARGV[1]
redis.call('RPUSH', KEYS[1], item)
local held = redis.call('INCRBY', KEYS[3], #item)
local size, budget = tonumber(ARGV[2]), tonumber(ARGV[3])
while redis.call('LLEN', KEYS[1]) > size or held > budget do
  local oldest = redis.call('LPOP', KEYS[1])
  if not oldest then break end
  held = redis.call('DECRBY', KEYS[3], #oldest)
end
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

    def __init__(
        self,
        url: str,
        *,
        journal_size: int = 1000,
        max_refresh: int = 200_000,
        timeout: float = 0.5,
        max_revoked: int = MAX_REVOKED,
    ) -> None:
        address, prefix = _split_prefix(url)
        # One bounded try per operation: the breaker, not redis-py, decides when to try again.
        self.redis = redis.Redis.from_url(
            address,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        shown = mask_url(address)  # never a password in a message
        self._breaker = Breaker(shown, _OUTAGE)
        self._key = {
            name: f"{prefix}:{name}"
            for name in (
                "refresh", "expiry", "revoked", "docs", "generation", "epoch", "keys", "journal", "journal_id",
                "journal_bytes", "revoked_expiry",
            )
        }
        self._journal_size = max(1, int(journal_size))
        self._max_refresh = max_refresh
        self._remember = self.redis.register_script(_REMEMBER)
        self._use = self.redis.register_script(_USE)
        self._revoke = self.redis.register_script(_REVOKE)
        self._max_revoked = max_revoked
        self._record = self.redis.register_script(_RECORD)
        self._docs: dict[str, Any] = {}
        self._seen: str | None = "never"
        self._epoch: str | None = None  # the database's epoch as this process first saw it
        self._known_keys: dict[str, str] = {}  # every key this process signs or checks with
        self.republished = 0  # how often this process found Redis empty and re-published its state
        self.key_conflicts: list[str] = []  # keys another process re-made before this one re-published
        try:
            self.sync()
        except (redis.RedisError, StoreUnavailable) as exc:
            raise StoreError(f"cannot use the Redis store at {shown}: {exc}") from None
        self.journal = RedisJournal(self)

    def _guard(self) -> AbstractContextManager[None]:
        """Around every operation: StoreUnavailable at once during an outage, or after one timeout."""
        return self._breaker.guard()

    # Refresh tokens and revocation.

    def remember_refresh(self, token_id: str, family: str, expires_at: float) -> None:
        with self._guard():
            self._remember(
                keys=[self._key["refresh"], self._key["expiry"]],
                args=[token_id, family, expires_at, self._max_refresh],
            )

    def use_refresh(self, token_id: str) -> RefreshUse:
        keys = [self._key[name] for name in ("refresh", "revoked", "expiry", "revoked_expiry")]
        with self._guard():
            return RefreshUse(self._use(keys=keys, args=[token_id, self._max_revoked]))

    def revoke(self, token_id: str, expires_at: float | None = None) -> None:
        until = "+inf" if expires_at is None else repr(float(expires_at))
        with self._guard():
            self._revoke(
                keys=[self._key["revoked"], self._key["revoked_expiry"]], args=[token_id, until, self._max_revoked]
            )

    def is_revoked(self, *token_ids: str) -> bool:
        ids = [t for t in token_ids if t]
        if not ids:
            return False
        with self._guard():
            return any(self.redis.smismember(self._key["revoked"], ids))

    def forget_tokens(self) -> None:
        with self._guard():
            self.redis.delete(
                self._key["refresh"], self._key["expiry"], self._key["revoked"], self._key["revoked_expiry"]
            )

    # Documents, cached per process and re-read when the generation moves.

    def sync(self) -> None:
        with self._guard():
            generation, epoch = self.redis.mget(self._key["generation"], self._key["epoch"])
            if generation == self._seen and epoch == self._epoch:  # the usual case: one short MGET
                return
            if epoch != self._epoch or epoch is None:
                if self._epoch is not None:  # Redis came back empty (or was flushed): it lost our state
                    self._republish()
                self.redis.set(self._key["epoch"], uuid.uuid4().hex, nx=True)  # the first claim wins
                claimed = self.redis.get(self._key["epoch"])
                self._epoch = None if claimed is None else str(claimed)
            with self.redis.pipeline(transaction=True) as pipe:  # the documents and their generation, together
                pipe.get(self._key["generation"])
                pipe.hgetall(self._key["docs"])
                generation, docs = pipe.execute()
            self._docs = {name: json.loads(value) for name, value in docs.items()}
            self._seen = generation

    def _republish(self) -> None:
        """Write back the keys and documents this process knows, without overwriting what another
        process re-published first (HSETNX), and announce them with a new generation.

        A host started in between (before any running process noticed) has made keys of its own: they
        stay, and the keys this process signs with are named in a warning, since tokens it issues are
        refused there until it restarts."""
        with self.redis.pipeline(transaction=True) as pipe:
            for name, value in self._known_keys.items():
                pipe.hsetnx(self._key["keys"], name, value)
            for name, doc in self._docs.items():
                pipe.hsetnx(self._key["docs"], name, json.dumps(doc))
            pipe.incr(self._key["generation"])
            pipe.hgetall(self._key["keys"])
            *_, stored = pipe.execute()
        self.republished += 1
        log.warning(
            "store %s came back empty; re-published %d key(s) and %d document(s)",
            self._breaker.where,
            len(self._known_keys),
            len(self._docs),
        )
        self.key_conflicts = sorted(name for name, value in self._known_keys.items() if stored.get(name) != value)
        if self.key_conflicts:
            log.warning(
                "store %s: another process made new keys after it came back empty (%s); tokens this process"
                " issues are refused there until it restarts",
                self._breaker.where,
                ", ".join(self.key_conflicts),
            )

    def read(self, name: str) -> Any:
        return self._docs.get(name)

    def update(self, name: str, change: Change[R]) -> R:
        docs = self._key["docs"]
        with self._guard(), self.redis.pipeline() as pipe:
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
        with self._guard():
            found = self.redis.hget(self._key["keys"], name)
            if found is None:
                self.redis.hsetnx(self._key["keys"], name, make())
                found = self.redis.hget(self._key["keys"], name)
        self._known_keys[name] = str(found)
        return str(found)

    def close(self) -> None:
        """Drop the connections."""
        self.redis.close()


class RedisJournal:
    """The request journal as a capped Redis list of `id|json` (ids from one counter)."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store

    def record(self, entry: dict[str, Any]) -> None:
        """Append one (already masked) record; dropped while the store is down (the answer still goes out,
        and the outage was logged once)."""
        store = self._store
        entry, text = journal_size.fit(entry)
        keys = [store._key["journal"], store._key["journal_id"], store._key["journal_bytes"]]
        with contextlib.suppress(StoreUnavailable), store._guard():
            entry["id"] = int(store._record(keys=keys, args=[text, store._journal_size, journal_size.TOTAL_BYTES]))

    def _newest(self) -> list[str]:
        store = self._store
        with store._guard():
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
        with self._store._guard():
            self._store.redis.delete(self._store._key["journal"], self._store._key["journal_bytes"])

    def __len__(self) -> int:
        with self._store._guard():
            return min(int(self._store.redis.llen(self._store._key["journal"])), self._store._journal_size)
