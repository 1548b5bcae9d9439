"""`tokenmock serve --reload`: a changed config file or contract applied without a restart (issue 17).

Why an in-app reload and not gunicorn's HUP: the app is built once in the master and forked
(`preload_app`), so a HUP restarts the workers from the master's old app (the old `token_lifetime`) and,
on the memory store, takes the worker's state with it (the journal, tokens, armed faults). Here each
worker watches the files itself and swaps in an app rebuilt from the new settings around the same store,
clock and metrics, so state and counts carry over; a rebuild that fails (a config the schema refuses, a
contract the mock cannot serve) leaves the running app as it was. The master watches the same files to
say on stderr, once, what changed or why the new version was refused.

Watching is polling `stat()` twice a second: a handful of files, no inotify (which misses edits through
bind mounts and some editors' rename-over), no extra dependency.
"""

from __future__ import annotations

import copy
import functools
import gc
import hashlib
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask

from tokenmock.mockserver.config import ConfigError, deep_merge, load_settings, parse, read_bytes
from tokenmock.mockserver.controls.chaos import CHAOS_DOC

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("tokenmock.reload")
INTERVAL = 0.5
# How far apart the two reads of a changed config file are (`stable_bytes`).
STABLE_GAP = 0.1
# Settings whose values are never printed (credentials, keys, cookies, a store URL with its password); only
# that they changed. Lists and mappings of values are not printed either: they may hold any of those.
_SECRET = re.compile(r"secret|password|pem|(^|_)token$|(^|_)key$|clients|users|session|cookie|demo|store", re.I)
# Settings fixed when the server starts (the bind, the workers, where state lives).
_FIXED = ("store", "exposed")


class ReloadingApp:
    """The WSGI app gunicorn serves: the current Flask app, swapped whole on a reload."""

    def __init__(self, app: Flask, config_file: str | None, overrides: Mapping[str, Any]) -> None:
        self.current = app
        self.config_file = config_file
        self.overrides = dict(overrides)  # what the command line set over the file (vendor, chaos, store...)
        self._lock = threading.Lock()
        # The files as `current` was built from them: a worker forked later (gunicorn replacing one that
        # died, or a HUP) starts from the master's first app and catches up at its watcher's first look.
        self.built_from = fingerprint(watched_files(config_file))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        return self.current(environ, start_response)

    def settings(self) -> dict[str, Any]:
        """The running app's settings."""
        return dict(self.current.extensions["tokenmock"].settings)

    def rebuild(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Build an app from the files as they are now and swap it in: (old settings, new settings).

        Raises what loading or building raised (ConfigError, StartupError...); the old app keeps serving.
        """
        from tokenmock.mockserver.app import create_app

        with self._lock:
            old_mock = self.current.extensions["tokenmock"]
            files = fingerprint(watched_files(self.config_file))
            new = candidate_settings(self.config_file, self.overrides)
            clear_contract_caches()
            chaos_before = old_mock.store.read(CHAOS_DOC)
            kept = {"store": old_mock.store, "clock": old_mock.clock, "running_metrics": old_mock.metrics}
            app = create_app({**new, **kept})
            if new.get("chaos") == old_mock.settings.get("chaos"):  # same chaos: keep counting its draws
                old_mock.store.update(CHAOS_DOC, lambda _doc: (chaos_before, None))
            old = dict(old_mock.settings)
            self.current, self.built_from = app, files
            return old, dict(app.extensions["tokenmock"].settings)


def candidate_settings(config_file: str | None, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Settings as `serve` makes them: defaults, the file, the environment, then the command line's.

    The file is applied only as it is once it has stopped changing (`stable_bytes`), and only when it
    parses and passes the schema; an empty file is an error (an editor or `>` redirection truncates before
    writing, and a reload caught in between used to drop admin_token and bring the demo clients back).
    """
    if config_file is None:
        return deep_merge(load_settings(None), overrides)
    path = Path(config_file)
    return deep_merge(load_settings(parse(path, stable_bytes(path))), overrides)


def stable_bytes(path: Path) -> bytes:
    """The file's content, read twice STABLE_GAP apart; ConfigError when the two differ (still being written:
    the watcher sees the next change and tries again)."""
    first = read_bytes(path)
    time.sleep(STABLE_GAP)  # a moment for a writer still at it
    if read_bytes(path) != first:
        raise ConfigError(f"{path}: changed while being read (still being written?); waiting for it to settle")
    return first


def clear_contract_caches() -> None:
    """Forget every cached contract, validator and strategy, so changed contracts are read afresh."""
    for obj in gc.get_objects():
        if isinstance(obj, functools._lru_cache_wrapper) and getattr(obj, "__module__", "").startswith("tokenmock."):
            obj.cache_clear()


def watched_files(config_file: str | None) -> list[Path]:
    """The config file and every contract file (the vendors', the admin API's, the registers)."""
    openapi = Path(str(resources.files("tokenmock.openapi")))
    files = sorted(openapi.glob("*.yaml")) + sorted(openapi.glob("discrepancies/*.yaml"))
    return ([Path(config_file)] if config_file else []) + files


def fingerprint(files: Iterable[Path]) -> dict[Path, str]:
    """A digest of each file's content ("" when it cannot be read): an edit that keeps the mtime counts too."""
    found = {}
    for file in files:
        try:
            found[file] = hashlib.sha256(file.read_bytes()).hexdigest()
        except OSError:
            found[file] = ""
    return found


def changes(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """What differs between two settings mappings, one line per key; secret values are not shown."""
    lines = []
    for key in sorted(set(old) | set(new), key=str):
        name = f"{prefix}{key}"
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if isinstance(before, Mapping) and isinstance(after, Mapping) and not _SECRET.search(str(key)):
            lines.extend(changes(before, after, f"{name}."))
        elif _SECRET.search(str(key)) or isinstance(before, list | dict) or isinstance(after, list | dict):
            lines.append(f"{name} changed (value not shown)")
        else:
            lines.append(f"{name}: {before!r} -> {after!r}")
    return lines


class Watcher(threading.Thread):
    """Polls the watched files and calls `on_change(changed paths)` when their content changes."""

    def __init__(
        self,
        files: list[Path],
        on_change: Callable[[list[Path]], None],
        interval: float = INTERVAL,
        seen: dict[Path, str] | None = None,
    ) -> None:
        super().__init__(name="tokenmock-reload", daemon=True)
        self.files, self.on_change, self.interval = files, on_change, interval
        self.seen = dict(seen) if seen is not None else fingerprint(files)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            now = fingerprint(self.files)
            changed = [f for f in self.files if now[f] != self.seen[f]]
            if changed:
                self.seen = now
                try:
                    self.on_change(changed)
                except Exception:  # a watcher that dies would silently stop reloading
                    log.exception("reload failed")


def watch_in_worker(app: ReloadingApp) -> Watcher:
    """Rebuild the worker's app on every change; silent (the master reports)."""

    def apply(_changed: list[Path]) -> None:
        try:
            app.rebuild()
        except Exception as exc:
            log.debug("kept the running settings: %s", exc)

    watcher = Watcher(watched_files(app.config_file), apply, seen=app.built_from)
    watcher.start()
    return watcher


def watch_in_master(app: ReloadingApp, say: Callable[[str], None] | None = None) -> Watcher:
    """Check each change the way the workers will apply it, and say on stderr what changed or why not."""
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    running = {"settings": candidate_settings(app.config_file, app.overrides)}

    def report(changed: list[Path]) -> None:
        names = ", ".join(path.name for path in changed)
        try:
            new = candidate_settings(app.config_file, app.overrides)
            # Building an app checks what loading does not (contracts, vendor settings) without serving it.
            clear_contract_caches()
            from tokenmock.mockserver.app import create_app

            create_app({**new, "store": "memory", "metrics": False, "access_log": False})
        except Exception as exc:
            say(f"reload: refused {names}, still serving the previous settings: {exc}")
            return
        lines = changes(running["settings"], new)
        running["settings"] = copy.deepcopy(new)
        fixed = [line for line in lines if line.split(":")[0].split(" ")[0] in _FIXED]
        say(f"reload: applied {names}: " + ("; ".join(lines) if lines else "no setting changed (contracts re-read)"))
        if fixed:
            say("reload: store and bind settings take effect at the next start")

    watcher = Watcher(watched_files(app.config_file), report)
    watcher.start()
    return watcher
