"""The mock's log lines (one masked access line per request, warnings) off the request's thread.

A `QueueHandler` puts records, unformatted, on a bounded queue; a `QueueListener` thread formats them
and writes what has gathered every LOG_INTERVAL in one write. Measured in benchmarks/: a line written
and flushed by the request's thread cost a fifth of a token's CPU, and a `queue.Queue` that wakes the
listener on every line cost as much again in GIL hand-offs.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import logging.handlers
import os
import queue
import sys
import time
from collections import deque
from typing import Any

__all__ = ["LOG_INTERVAL", "LogPump", "configure_logging", "stop_logging"]


class _LineBuffer(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """stderr lines gathered and written together when the log queue runs empty (one write per
    batch instead of a write and a flush per line)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self._lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record) + self.terminator)
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        lines, self._lines = self._lines, []
        if lines:
            with contextlib.suppress(OSError, ValueError):  # stderr closed or gone
                self.stream.write("".join(lines))
                self.stream.flush()


class _LogQueue(deque[Any]):
    """A bounded queue that never wakes its reader: `put_nowait` is one `append` (a `queue.Queue`
    notifies the waiting listener on every line, and that GIL hand-off cost more than the line);
    the listener polls it every LOG_INTERVAL instead. Full, it drops the line."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put_nowait(self, record: Any) -> None:
        if len(self) < self.size:
            self.append(record)


# How often the log listener writes what has gathered.
LOG_INTERVAL = 0.05


class _QueueHandler(logging.handlers.QueueHandler):
    """Puts records on the log queue as they are: their arguments are plain values, formatted later by
    the listener's thread (the stock `prepare()` formats in the request's thread)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return super().prepare(record) if record.exc_info or record.stack_info else record


class _Listener(logging.handlers.QueueListener):
    def enqueue_sentinel(self) -> None:
        self.queue.append(self._sentinel)  # type: ignore[attr-defined] # even when full: stop must end the thread

    def dequeue(self, block: bool) -> logging.LogRecord:
        pending: _LogQueue = self.queue  # type: ignore[assignment]
        while True:
            try:
                return pending.popleft()  # type: ignore[no-any-return,unused-ignore]
            except IndexError:
                for handler in self.handlers:
                    handler.flush()  # the queue ran dry: write the gathered lines
                if not block:
                    raise queue.Empty from None
                time.sleep(LOG_INTERVAL)


class LogPump:
    """The mock's log lines (one masked line per request, warnings) leave the request thread through
    a bounded queue; a listener thread formats and writes them every LOG_INTERVAL. One per process:
    restarted in each forked worker (threads do not survive a fork), drained on the worker's exit."""

    QUEUE_SIZE = 10_000

    def __init__(self, formatter: logging.Formatter) -> None:
        self.sink = _LineBuffer()
        self.sink.setFormatter(formatter)
        self.handler = _QueueHandler(_LogQueue(self.QUEUE_SIZE))  # type: ignore[arg-type]
        self.listener: _Listener | None = None

    def start(self) -> None:
        """Start the listener in this process (on a fresh queue: a forked child must not share one)."""
        self.handler.queue = _LogQueue(self.QUEUE_SIZE)  # type: ignore[assignment]
        self.sink._lines = []  # lines the parent had gathered are the parent's to write
        self.listener = _Listener(self.handler.queue, self.sink)
        self.listener.start()

    def stop(self) -> None:
        """Write every queued line, then end the listener."""
        listener, self.listener = self.listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                listener.stop()
        self.sink.flush()


_pump: LogPump | None = None


def configure_logging(access_log: bool) -> None:
    """One masked line per request on stderr (the mock writes it itself; gunicorn's access log is off),
    through a queue so that the request's thread neither formats nor writes it."""
    global _pump
    if _pump is not None:
        _pump.stop()
    _pump = LogPump(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    root = logging.getLogger("tokenmock")
    root.handlers[:] = [_pump.handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    logging.getLogger("tokenmock.access").disabled = not access_log
    # What no line of the server shows, not gathered per record (the logging HOWTO's "Optimization"):
    # the caller's frame (a stack walk) and the multiprocessing process name. Thread and process ids
    # stay: gunicorn's own format prints `%(process)d`, and a record it cannot format makes logging
    # print a traceback, with the exception being logged (a refused request line) in it.
    logging._srcfile = None  # type: ignore[attr-defined,unused-ignore]
    logging.logMultiprocessing = False
    _pump.start()


def _restart_pump() -> None:
    if _pump is not None:
        _pump.start()


def stop_logging() -> None:
    """Write the log lines still queued in this process (a worker's or the master's exit)."""
    if _pump is not None:
        _pump.stop()


os.register_at_fork(after_in_child=_restart_pump)
atexit.register(stop_logging)
