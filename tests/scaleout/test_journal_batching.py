"""The SQLite journal writes in batches off the request path, yet a read sees every answered request,
in the order answered, whichever process answered it; nothing queued is lost on a clean exit; the queue is
bounded. Other processes are real ones (`python -c`), so the shared board and the exit flush are too.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tokenmock.mockserver.controls.journal import BatchWriter, PendingBoard
from tokenmock.mockserver.stores.sqlite import SQLiteStore

WRITER = textwrap.dedent(
    """
    import sys, time
    from tokenmock.mockserver.stores.sqlite import SQLiteStore
    store = SQLiteStore(sys.argv[1])
    store.journal._writer.interval = float(sys.argv[3])
    for n in range(int(sys.argv[2])):
        store.journal.record({"vendor": "v", "operation": "child", "n": n})
    print("queued", flush=True)
    if sys.argv[4] == "wait":
        sys.stdin.readline()  # stay alive (records still queued) until the parent has read
    """
)


def rows(path: Path) -> int:
    """Journal rows on disk, read with plain sqlite3 (no flush, no waiting)."""
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM journal").fetchone()[0])


def writer(path: Path, count: int, interval: float, mode: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(count), str(interval), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline() == "queued\n"
    return child


def test_a_record_is_queued_not_written_and_a_read_sees_it(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.db")
    store.journal._writer.interval = 60.0  # the writer thread would not write it for a minute
    store.journal.record({"vendor": "v", "operation": "a", "n": 1})
    assert rows(tmp_path / "state.db") == 0  # off the request's path: nothing written yet
    assert [e["n"] for e in store.journal.entries()] == [1]  # the read flushed it first
    assert rows(tmp_path / "state.db") == 1


def test_a_read_waits_for_what_another_process_answered(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    reader = SQLiteStore(path)
    reader.journal.record({"vendor": "v", "operation": "parent", "n": -1})
    child = writer(path, 5, 0.2, "wait")
    try:
        assert rows(path) <= 1  # the child's five are still queued in the child
        entries = reader.journal.entries()
    finally:
        child.communicate("done\n", timeout=30)
    assert [(e["operation"], e["n"]) for e in entries] == [("parent", -1)] + [("child", n) for n in range(5)]
    assert len({e["id"] for e in entries}) == 6


def test_records_are_listed_in_the_order_answered_not_written(tmp_path: Path) -> None:
    one, two = SQLiteStore(tmp_path / "state.db"), SQLiteStore(tmp_path / "state.db")
    one.journal._writer.interval = 0.5  # `one` writes last...
    one.journal.record({"vendor": "v", "operation": "a", "n": 1})
    two.journal.record({"vendor": "v", "operation": "a", "n": 2})
    two.journal._writer.flush()  # ...`two` first
    entries = two.journal.entries()
    assert [e["n"] for e in entries] == [1, 2]  # ...yet 1 was answered first
    assert all("_answered_ns" not in e for e in entries)  # the ordering stamp stays out of the records


def test_nothing_queued_is_lost_when_a_process_exits_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SQLiteStore(path)  # the schema
    child = writer(path, 50, 3600.0, "exit")  # its thread would wait an hour: only the exit flush writes
    assert child.wait(timeout=30) == 0
    assert rows(path) == 50
    assert [e["n"] for e in SQLiteStore(path).journal.entries()] == list(range(50))


def test_the_queue_is_bounded_the_submitter_writes_when_it_is_full(tmp_path: Path) -> None:
    written: list[list[dict[str, Any]]] = []
    batches = BatchWriter(written.append, PendingBoard(str(tmp_path / "board")), interval=3600.0, max_pending=3)
    for n in range(7):
        batches.submit({"n": n})
    assert [[e["n"] for e in batch] for batch in written] == [[0, 1, 2], [3, 4, 5]]
    batches.close()
    assert [e["n"] for batch in written for e in batch] == list(range(7))


def test_a_failed_batch_is_reported_and_does_not_hold_readers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    def broken(batch: list[dict[str, Any]]) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    board = PendingBoard(str(tmp_path / "board"))
    batches = BatchWriter(broken, board, interval=3600.0)
    batches.submit({"n": 1, "client_secret": "***"})
    batches.flush()
    assert "1 record(s) could not be written: OperationalError" in caplog.text
    other = PendingBoard(str(tmp_path / "board"))
    other.attach()
    assert other.wait_for_others(timeout=0.5)  # nothing left that a reader must wait for
    batches.close()


def test_the_board_file_is_private(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.db")
    store.journal.record({"vendor": "v", "operation": "a"})
    assert (tmp_path / "state.db-pending").stat().st_mode & 0o077 == 0
    store.close()


def test_a_state_file_from_before_the_batching_opens_with_its_journal(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE journal (id INTEGER PRIMARY KEY AUTOINCREMENT, vendor TEXT, operation TEXT,"
            " entry TEXT NOT NULL)"
        )
        db.execute("""INSERT INTO journal (vendor, operation, entry) VALUES ('v', 'a', '{"n": 0}')""")
    store = SQLiteStore(path)
    store.journal.record({"vendor": "v", "operation": "a", "n": 1})
    assert [e["n"] for e in store.journal.entries()] == [0, 1]
