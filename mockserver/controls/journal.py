"""The request journal: what clients sent (secrets masked), what the mock answered, in bounded memory.

`Journal` is the in-process ring of the memory store; the SQLite and Redis stores keep the same
records in the shared store behind the same three methods (`JournalLike`).
"""

from __future__ import annotations

import atexit
import fcntl
import itertools
import logging
import mmap
import os
import struct
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from tokenmock.mockserver.controls import journal_size


class JournalLike(Protocol):
    """What the pipeline and the admin API need of a journal."""

    def record(self, entry: dict[str, Any]) -> None:
        """Append one (already masked) record, giving it the next `id`."""

    def entries(self, vendor: str | None = None, operation: str | None = None) -> list[dict[str, Any]]:
        """The last `size` records, oldest first, optionally one vendor's and/or one operation's."""

    def clear(self) -> None:
        """Forget every record."""

    def __len__(self) -> int: ...


def selected(entry: dict[str, Any], vendor: str | None, operation: str | None) -> bool:
    """Whether a record passes the journal's vendor and operation filters."""
    return (vendor is None or entry.get("vendor") == vendor) and (
        operation is None or entry.get("operation") == operation
    )


# A journal writer thread with nothing to write for this long ends (the next record starts another).
IDLE_EXIT = 5.0
# The key under which `BatchWriter.submit()` stamps a record with the time it was answered (ns since
# the epoch): the journal lists records in that order, whichever process writes its batch first. The
# writer removes it before storing the record.
ANSWERED = "_answered_ns"


class PendingBoard:
    """What the processes of one host sharing a journal have queued and written, in a small shared file.

    A reader in one process waits on it until every record another process answered before the read
    has been written. Layout: per writer (pid, records queued, records written), each field written
    by its writer alone, so nothing on a request's path takes a lock across processes (a `flock` per
    record was tried: its system calls hand the GIL to another thread twice per request).
    """

    SLOTS = 64
    _HEAD = struct.Struct("<q")  # (reserved)
    _SLOT = struct.Struct("<qqq")

    def __init__(self, path: str) -> None:
        self.path = path
        self._pid = 0
        self._fd = -1
        self._map: mmap.mmap | None = None
        self._slot: int | None = None

    def _offset(self, slot: int) -> int:
        return self._HEAD.size + slot * self._SLOT.size

    def attach(self) -> bool:
        """Claim a slot for this writer in this process (again after a fork); False when all are taken."""
        if self._pid == os.getpid():
            return self._slot is not None
        self._pid = os.getpid()
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        if os.fstat(self._fd).st_uid == os.geteuid():
            os.fchmod(self._fd, 0o600)  # whatever the umask gave it (it names the processes of the mock)
        size = self._offset(self.SLOTS)
        if os.fstat(self._fd).st_size < size:
            os.ftruncate(self._fd, size)
        self._map = mmap.mmap(self._fd, size)
        self._slot = None
        with self._locked():  # once per writer and process: claiming a slot
            for slot in range(self.SLOTS):
                pid = self._SLOT.unpack_from(self._map, self._offset(slot))[0]
                if pid == 0 or not _alive(pid):
                    self._SLOT.pack_into(self._map, self._offset(slot), self._pid, 0, 0)
                    self._slot = slot
                    break
        return self._slot is not None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def queued(self, count: int) -> None:
        """This writer has queued `count` records so far."""
        if self._map is not None and self._slot is not None:
            struct.pack_into("<q", self._map, self._offset(self._slot) + 8, count)

    def written(self, count: int) -> None:
        """The first `count` records this writer queued are written."""
        if self._map is not None and self._slot is not None and self._pid == os.getpid():
            struct.pack_into("<q", self._map, self._offset(self._slot) + 16, count)

    def release(self) -> None:
        """Give the slot back and close the file (on close; `attach()` claims one again)."""
        if self._pid != os.getpid():
            return
        if self._map is not None:
            if self._slot is not None:
                self._SLOT.pack_into(self._map, self._offset(self._slot), 0, 0, 0)
            self._map.close()
            os.close(self._fd)
        self._map, self._slot, self._fd, self._pid = None, None, -1, 0

    def wait_for_others(self, timeout: float) -> bool:
        """Wait until the other writers have written what they had queued when called; False on timeout
        (a writer stuck or killed: its queued records are then missing from the read)."""
        self.attach()  # a reader that has written nothing yet still reads the board
        if self._map is None:
            return True
        snapshot = []
        for slot in range(self.SLOTS):
            pid, queued, written = self._SLOT.unpack_from(self._map, self._offset(slot))
            if pid and slot != self._slot and queued > written:
                snapshot.append((slot, pid, queued))
        deadline = time.monotonic() + timeout
        while snapshot:
            snapshot = [each for each in snapshot if self._still_pending(*each)]
            if not snapshot:
                break
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)  # the writers flush within BatchWriter.interval
        return True

    def _still_pending(self, slot: int, pid: int, queued: int) -> bool:
        assert self._map is not None
        now_pid, _, written = self._SLOT.unpack_from(self._map, self._offset(slot))
        return now_pid == pid and written < queued and _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class BatchWriter:
    """Journal records written by a background thread, in batches, off the request's critical path.

    `submit()` only queues the record, stamped with the time it was answered (`ANSWERED`, for the
    journal's order); the thread writes what has gathered at most `interval` seconds
    after the first of it, in one transaction (one commit instead of one per request). Bounded: past
    `max_pending` queued records the submitting thread writes them itself. Nothing is lost on a clean
    exit: `flush()` (called on worker exit, and at interpreter exit) writes what is left. Readers call
    `flush()` and then `board.wait_for_others()`, so a read sees every request answered before it,
    whichever process answered it.
    """

    def __init__(
        self,
        write_batch: Callable[[list[dict[str, Any]]], None],
        board: PendingBoard,
        *,
        interval: float = 0.01,
        max_pending: int = 10_000,
    ) -> None:
        self._write_batch = write_batch
        self.board = board
        self.interval = interval
        self.max_pending = max_pending
        self._reset()
        _WRITERS.add(self)
        weakref.finalize(self, board.release)

    def _reset(self) -> None:
        """Fresh locks, queue and thread (at creation and in a forked child)."""
        self._lock = threading.Lock()  # the queue and the ids
        self._ready = threading.Condition(self._lock)
        self._writing = threading.Lock()  # one batch at a time, in id order
        self._pending: list[tuple[int, dict[str, Any]]] = []  # (number, record)
        self._queued = 0
        self._thread: threading.Thread | None = None
        self._closing = False
        self._idle = False  # the thread waits to be notified (else it looks every `interval`)

    def submit(self, entry: dict[str, Any]) -> None:
        """Stamp the record and queue it; returns at once (unless the queue is full)."""
        entry[ANSWERED] = time.time_ns()
        with self._lock:
            batched = self.board.attach()
            if not batched:  # no slot left on the board: write synchronously
                batch = [entry]
            else:
                self._queued += 1
                self._pending.append((self._queued, entry))
                self.board.queued(self._queued)
                if self._thread is None:
                    self._start()
                if self._idle:
                    self._ready.notify()
                if len(self._pending) < self.max_pending:
                    return
                batch = []
        if batch:
            with self._writing:
                self._write_batch(batch)
        else:
            self.flush()  # back-pressure: the writer thread cannot keep up

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tokenmock-journal", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._pending and not self._closing:
                    # Nothing came during a whole interval: wait to be woken (under load the thread only
                    # sleeps and looks, so `submit()` wakes nobody: waking a thread costs a GIL hand-off).
                    self._idle = True
                    woken = self._ready.wait_for(lambda: self._pending or self._closing, timeout=IDLE_EXIT)
                    self._idle = False
                    if not woken:
                        self._thread = None  # idle for long: end; the next record starts another
                        return
                if self._closing:
                    self._thread = None
                    return
            time.sleep(self.interval)  # let a batch gather
            self.flush()

    def flush(self) -> None:
        """Write every queued record now."""
        with self._writing:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return
            try:
                self._write_batch([entry for _, entry in batch])
            except Exception as exc:
                logging.getLogger("tokenmock").error(
                    "journal: %d record(s) could not be written: %s", len(batch), type(exc).__name__
                )
            self.board.written(batch[-1][0])

    def close(self) -> None:
        """Flush, stop the thread and give the board slot back (a later record starts afresh)."""
        with self._lock:
            thread, self._closing = self._thread, True
            self._ready.notify()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self.flush()
        with self._lock:
            self._closing = False
            self.board.release()


# Every live BatchWriter: flushed at interpreter exit, reset in a forked child (threads do not fork).
_WRITERS: weakref.WeakSet[BatchWriter] = weakref.WeakSet()


def flush_all() -> None:
    """Write what every journal of this process still holds (a worker's exit)."""
    for writer in list(_WRITERS):
        writer.flush()


def _after_fork() -> None:
    for writer in list(_WRITERS):
        writer._reset()


atexit.register(flush_all)
os.register_at_fork(after_in_child=_after_fork)


class Journal:
    """A ring buffer of request records, newest last; old records drop off when it is full (`size`
    records, or journal_size.TOTAL_BYTES of them, each cut to journal_size.ENTRY_BYTES)."""

    def __init__(self, size: int = 1000) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=max(1, size))
        self._sizes: deque[int] = deque()  # each record's bytes, beside it
        self._bytes = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        """Append one (already masked) record, cut to its byte budget; O(1) amortised."""
        entry, text = journal_size.fit(entry)
        with self._lock:
            entry["id"] = next(self._ids)
            while self._entries and (
                len(self._entries) == self._entries.maxlen or self._bytes + len(text) > journal_size.TOTAL_BYTES
            ):
                self._entries.popleft()
                self._bytes -= self._sizes.popleft()
            self._entries.append(entry)
            self._sizes.append(len(text))
            self._bytes += len(text)

    def entries(self, vendor: str | None = None, operation: str | None = None) -> list[dict[str, Any]]:
        """Records, oldest first, optionally only one vendor's and/or one operation's."""
        with self._lock:
            snapshot = list(self._entries)
        return [e for e in snapshot if selected(e, vendor, operation)]

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._entries.clear()
            self._sizes.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)
