"""The store for the worker processes of one host: one SQLite file in WAL mode.

Readers never block (WAL). Writers take an exclusive `flock` on a small companion file before their
transaction, so they queue in the kernel and wake at once instead of polling SQLite's busy handler.
The same file holds the generation number (8 bytes, memory-mapped): bumped after every change to a
shared document, read by each request for the price of a memory load, so a worker re-reads the
documents only when another one changed them.
"""

from __future__ import annotations

import fcntl
import json
import mmap
import os
import sqlite3
import stat
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from tokenmock.mockserver.controls import journal_size
from tokenmock.mockserver.controls.journal import ANSWERED, BatchWriter, PendingBoard, selected
from tokenmock.mockserver.errors import StoreUnavailable
from tokenmock.mockserver.stores.base import HEALTH_KEY, MAX_REVOKED, Change, R, RefreshUse, Store, StoreError
from tokenmock.mockserver.stores.outage import Breaker

SCHEMA = """
CREATE TABLE IF NOT EXISTS refresh (
    token_id TEXT PRIMARY KEY, family TEXT NOT NULL, expires_at REAL NOT NULL, used INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refresh_expiry ON refresh (expires_at);
CREATE TABLE IF NOT EXISTS revoked (id TEXT PRIMARY KEY, expires_at REAL NOT NULL DEFAULT 1e308) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS docs (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS keys (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT, vendor TEXT, operation TEXT, entry TEXT NOT NULL,
    answered INTEGER NOT NULL DEFAULT 0
);
"""
_GEN = struct.Struct("<Q")
# Journal rows past the newest `size` are deleted every this many inserts (reads never see them).
_TRIM_EVERY = 64
# Files beside the database that hold (or once held) its pages: signing keys and client secrets included.
_COMPANIONS = ("-wal", "-shm", "-journal", "-gen", "-pending")


def make_private(path: str) -> None:
    """Make the database file readable by its owner only before SQLite opens it, whatever the umask.

    The file holds every signing key the config does not give and the runtime clients' secrets. SQLite
    creates its WAL, SHM and rollback-journal files with the permissions of the database file, so a
    0600 database keeps them 0600 too. Missing parent folders are made 0700; files of ours left wider
    by an older version are narrowed (another account's files are its owner's business).
    """
    missing = [p for p in Path(path).absolute().parents if not p.exists()]
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # made meanwhile by another process: not ours to change
            continue
        os.chmod(folder, 0o700)  # mkdir's mode passes through the umask
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)  # a planted symlink is refused
    try:
        _narrow(fd)
    finally:
        os.close(fd)
    for suffix in _COMPANIONS:
        try:
            fd = os.open(path + suffix, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            continue
        try:
            _narrow(fd)
        finally:
            os.close(fd)


def _narrow(fd: int) -> None:
    """Mode 0600 for an open regular file of ours, whatever the umask gave it (opened without following a
    symlink: tightening never reaches a file a link points at)."""
    info = os.fstat(fd)
    if info.st_uid == os.geteuid() and stat.S_ISREG(info.st_mode):
        os.fchmod(fd, 0o600)


class _Process:
    """What one process holds: the generation file (its own descriptor, so `flock` excludes the other
    processes) and a lock that serialises this process's writers."""

    def __init__(self, gen_path: str) -> None:
        self.pid = os.getpid()
        self.fd = os.open(gen_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        _narrow(self.fd)  # a umask may not widen it, nor narrow it below what this process needs
        if os.fstat(self.fd).st_size < _GEN.size:
            os.ftruncate(self.fd, _GEN.size)
        self.generation = mmap.mmap(self.fd, _GEN.size)
        self.lock = threading.Lock()
        self.local = threading.local()


class SQLiteStore(Store):
    """Every piece of mutable state in one SQLite database, shared by the processes that open it."""

    # How long a write waits for a lock another program holds on the database before the store counts as
    # down (the mock's own writers queue on a flock first, so they never wait here for each other).
    BUSY_TIMEOUT = 5.0

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        journal_size: int = 1000,
        max_refresh: int = 200_000,
        max_revoked: int = MAX_REVOKED,
    ) -> None:
        self.path = str(path)
        self._journal_size = max(1, int(journal_size))
        self._max_refresh = max_refresh
        self._prune_every = 1024  # inserts between two looks at the table's size
        self._max_revoked = max_revoked
        self._prune_revoked_every = 256
        self._revocations = 0
        self._process: _Process | None = None
        self._docs: dict[str, Any] = {}
        self._seen = -1
        self._inserts = 0
        self._breaker = Breaker(
            f"sqlite://{self.path}", (sqlite3.OperationalError, OSError), describe=_reason, state="cannot be written"
        )
        try:
            make_private(self.path)
        except OSError as exc:
            raise StoreError(f"cannot use the SQLite store at {self.path}: {exc.strerror}") from None
        with self._locked():
            db = self._db()
            db.executescript(SCHEMA)
            if "answered" not in {row[1] for row in db.execute("PRAGMA table_info(journal)")}:  # an older file
                db.execute("ALTER TABLE journal ADD COLUMN answered INTEGER NOT NULL DEFAULT 0")
            if "expires_at" not in {row[1] for row in db.execute("PRAGMA table_info(revoked)")}:
                db.execute("ALTER TABLE revoked ADD COLUMN expires_at REAL NOT NULL DEFAULT 1e308")
        self.sync()
        self.journal = self._journal = SQLiteJournal(self)

    # Connections and locks, opened afresh in each process (gunicorn forks after building the app).

    def _proc(self) -> _Process:
        process = self._process
        if process is None or process.pid != os.getpid():
            process = self._process = _Process(self.path + "-gen")
        return process

    def _db(self) -> sqlite3.Connection:
        local = self._proc().local
        db: sqlite3.Connection | None = getattr(local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=self.BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; a power cut may lose the last commits
            local.db = db
        return db

    @contextmanager
    def _locked(self) -> Iterator[_Process]:
        """The writers' lock: this process's threads, then the other processes (kernel queue)."""
        process = self._proc()
        with process.lock:
            fcntl.flock(process.fd, fcntl.LOCK_EX)
            try:
                yield process
            finally:
                fcntl.flock(process.fd, fcntl.LOCK_UN)

    @contextmanager
    def _write(self, *, bump: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction, serialised across processes; `bump` announces a document change.

        A write SQLite refuses (disk full, a read-only file, a database another program keeps locked)
        raises StoreUnavailable, as a Redis outage does: the vendor's 503 with Retry-After, health 503, one
        log line per outage (the breaker), no traceback. Reads are not refused meanwhile: they still work.
        """
        with self._breaker.guard():
            db = self._db()
            with self._locked() as process:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    with suppress(sqlite3.Error):  # a failed statement may have ended the transaction
                        db.execute("ROLLBACK")
                    raise
                try:
                    db.execute("COMMIT")
                except sqlite3.Error:
                    with suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                    raise
                if bump:  # after the commit: whoever sees the new number finds the new documents
                    _GEN.pack_into(process.generation, 0, _GEN.unpack_from(process.generation)[0] + 1)

    def probe(self) -> None:
        """A write through the breaker (health): reads work on a full disk, so only a write tells."""
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO keys (name, value) VALUES (?, ?)", (HEALTH_KEY, os.urandom(8).hex()))

    # Refresh tokens and revocation.

    def remember_refresh(self, token_id: str, family: str, expires_at: float) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO refresh (token_id, family, expires_at) VALUES (?, ?, ?)",
                (token_id, family, expires_at),
            )
            self._inserts += 1
            if self._inserts % self._prune_every == 0:
                (count,) = db.execute("SELECT count(*) FROM refresh").fetchone()
                if count >= self._max_refresh:  # bound the file as the memory store bounds its dicts
                    db.execute(
                        "DELETE FROM refresh WHERE token_id IN "
                        "(SELECT token_id FROM refresh ORDER BY expires_at LIMIT ?)",
                        (max(1, count // 10),),
                    )

    def use_refresh(self, token_id: str) -> RefreshUse:
        with self._write() as db:
            row = db.execute("SELECT family, used, expires_at FROM refresh WHERE token_id = ?", (token_id,)).fetchone()
            if row is None:
                return RefreshUse.UNKNOWN
            family, used, expires_at = row
            if used:
                self._add_revoked(db, family, expires_at)
                return RefreshUse.REUSED
            if db.execute("SELECT 1 FROM revoked WHERE id IN (?, ?)", (token_id, family)).fetchone():
                return RefreshUse.REVOKED
            db.execute("UPDATE refresh SET used = 1 WHERE token_id = ?", (token_id,))
            return RefreshUse.FRESH

    def revoke(self, token_id: str, expires_at: float | None = None) -> None:
        with self._write() as db:
            self._add_revoked(db, token_id, 1e308 if expires_at is None else expires_at)

    def _add_revoked(self, db: sqlite3.Connection, token_id: str, expires_at: float) -> None:
        """Record a revocation; every _prune_every of them, past MAX_REVOKED, drop the tenth expiring first."""
        db.execute(
            "INSERT INTO revoked (id, expires_at) VALUES (?, ?) "
            "ON CONFLICT (id) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
            (token_id, expires_at),
        )
        self._revocations += 1
        if self._revocations % self._prune_revoked_every == 0:
            (count,) = db.execute("SELECT count(*) FROM revoked").fetchone()
            if count > self._max_revoked:
                db.execute(
                    "DELETE FROM revoked WHERE id IN (SELECT id FROM revoked ORDER BY expires_at LIMIT ?)",
                    (max(1, count // 10),),
                )

    def is_revoked(self, *token_ids: str) -> bool:
        ids = [t for t in token_ids if t]
        if not ids:
            return False
        query = f"SELECT 1 FROM revoked WHERE id IN ({','.join('?' * len(ids))}) LIMIT 1"  # noqa: S608 - only marks
        return self._db().execute(query, ids).fetchone() is not None

    def forget_tokens(self) -> None:
        with self._write() as db:
            db.execute("DELETE FROM refresh")
            db.execute("DELETE FROM revoked")

    # Documents, cached per process and re-read when the generation moves.

    def sync(self) -> None:
        generation = _GEN.unpack_from(self._proc().generation)[0]
        if generation != self._seen:
            rows = self._db().execute("SELECT name, value FROM docs").fetchall()
            self._docs = {name: json.loads(value) for name, value in rows}
            self._seen = generation

    def read(self, name: str) -> Any:
        return self._docs.get(name)

    def update(self, name: str, change: Change[R]) -> R:
        with self._write(bump=True) as db:
            row = db.execute("SELECT value FROM docs WHERE name = ?", (name,)).fetchone()
            value, result = change(json.loads(row[0]) if row else None)
            db.execute("INSERT OR REPLACE INTO docs (name, value) VALUES (?, ?)", (name, json.dumps(value)))
        self._docs = {**self._docs, name: value}  # this process sees its own change at once
        return result

    # Keys.

    def shared_key(self, name: str, make: Callable[[], str]) -> str:
        found = self._db().execute("SELECT value FROM keys WHERE name = ?", (name,)).fetchone()
        if found is not None:
            return str(found[0])
        made = make()  # outside the lock: an RSA key takes a while
        with self._write() as db:
            db.execute("INSERT OR IGNORE INTO keys (name, value) VALUES (?, ?)", (name, made))
            (value,) = db.execute("SELECT value FROM keys WHERE name = ?", (name,)).fetchone()
        return str(value)

    def close(self) -> None:
        """Close this thread's connection and the generation file; they reopen when next needed.

        `tokenmock serve` calls it in the master before forking workers: SQLite connections must not
        cross a fork.
        """
        self._journal.close()
        process, self._process = self._process, None
        if process is not None and process.pid == os.getpid():
            db = getattr(process.local, "db", None)
            if db is not None:
                db.close()
            process.generation.close()
            os.close(process.fd)


# Rows older than the newest TOTAL_BYTES of records (run with the count trim, every _TRIM_EVERY inserts).
_TRIM_BYTES = """
DELETE FROM journal WHERE id <= (
    SELECT id FROM (SELECT id, SUM(length(entry)) OVER (ORDER BY id DESC) AS newer FROM journal)
    WHERE newer > ? ORDER BY id DESC LIMIT 1
)
"""


def _reason(exc: BaseException) -> str:
    """SQLite's own words for a failure ("database or disk is full"): no secret, and they say what to fix."""
    return f"{type(exc).__name__}: {exc}" if isinstance(exc, sqlite3.Error) else type(exc).__name__


def _within_budget(rows: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The newest of `rows` (oldest first) that fit TOTAL_BYTES together: between two trims a read
    never returns more."""
    total, start = 0, len(rows)
    for index in range(len(rows) - 1, -1, -1):
        total += len(rows[index][1])
        if total > journal_size.TOTAL_BYTES:
            break
        start = index
    return rows[start:]


class SQLiteJournal:
    """The request journal as rows of the shared database.

    Records are written in batches by a background thread (`BatchWriter`): a commit per request was
    the largest cost of the SQLite store. Ids come from a board shared by the processes (`-pending`
    file beside the database), in the order requests were answered; a read first waits for what every
    process has answered (read-your-writes across workers).
    """

    # How long a read waits for another process's unwritten records before answering without them.
    READ_WAIT = 2.0

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self._writer = BatchWriter(self._insert, PendingBoard(store.path + "-pending"))

    def record(self, entry: dict[str, Any]) -> None:
        """Queue one (already masked) record; it is written within `BatchWriter.interval`."""
        self._writer.submit(entry)

    def flush(self) -> None:
        """Write this process's queued records, then wait (bounded) for the other processes'."""
        self._writer.flush()
        self._writer.board.wait_for_others(self.READ_WAIT)

    def close(self) -> None:
        """Write what is queued and stop the writer thread (a worker's exit)."""
        self._writer.close()

    def _insert(self, batch: list[dict[str, Any]]) -> None:
        rows = []
        for entry in batch:
            answered = entry.pop(ANSWERED, 0)
            entry, text = journal_size.fit(entry)
            rows.append((entry.get("vendor"), entry.get("operation"), text, answered))
        store = self._store
        with suppress(StoreUnavailable), store._write() as db:  # dropped while the store is down (logged once)
            db.executemany("INSERT INTO journal (vendor, operation, entry, answered) VALUES (?, ?, ?, ?)", rows)
            (last,) = db.execute("SELECT last_insert_rowid()").fetchone()
            if last // _TRIM_EVERY != (last - len(rows)) // _TRIM_EVERY:
                db.execute("DELETE FROM journal WHERE id <= ?", (last - store._journal_size,))
                db.execute(_TRIM_BYTES, (journal_size.TOTAL_BYTES,))

    def _newest(self) -> list[tuple[int, str]]:
        """The newest `journal_size` records, oldest first (in the order they were answered)."""
        self.flush()
        rows = self._store._db().execute(
            "SELECT id, entry FROM (SELECT id, entry, answered FROM journal ORDER BY id DESC LIMIT ?) "
            "ORDER BY answered, id",
            (self._store._journal_size,),
        )
        return _within_budget(list(rows))

    def entries(self, vendor: str | None = None, operation: str | None = None) -> list[dict[str, Any]]:
        """The last `journal_size` records, oldest first, optionally filtered."""
        found = [{**json.loads(text), "id": row_id} for row_id, text in self._newest()]
        return [e for e in found if selected(e, vendor, operation)]

    def clear(self) -> None:
        """Forget every record answered so far (ids keep counting up)."""
        self.flush()
        with self._store._write() as db:
            db.execute("DELETE FROM journal")

    def __len__(self) -> int:
        return len(self._newest())
