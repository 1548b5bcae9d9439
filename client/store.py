"""Where a client keeps its token between calls and restarts (Dive asks for a persistent refresh token)."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Protocol

from tokenmock.client.token import Token


class TokenStore(Protocol):
    """Keeps one token per key (the client's vendor, base URL and identity)."""

    def load(self, key: str) -> Token | None:
        """The stored token, or None."""

    def save(self, key: str, token: Token) -> None:
        """Store (replace) the token."""

    def clear(self, key: str) -> None:
        """Forget the token."""


class MemoryTokenStore:
    """Tokens in a dict: lost when the process ends."""

    def __init__(self) -> None:
        self._tokens: dict[str, Token] = {}
        self._lock = threading.Lock()

    def load(self, key: str) -> Token | None:
        with self._lock:
            return self._tokens.get(key)

    def save(self, key: str, token: Token) -> None:
        with self._lock:
            self._tokens[key] = token

    def clear(self, key: str) -> None:
        with self._lock:
            self._tokens.pop(key, None)


def _private_folders(folder: Path) -> None:
    """Make the missing folders up to `folder` 0700 whatever the umask (existing ones are left alone:
    they may be the user's home or /tmp); a folder of ours others can list names whose tokens it holds."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for created in reversed(missing):
        try:
            created.mkdir(mode=0o700)
        except FileExistsError:  # made meanwhile by another process: not ours to change
            continue
        os.chmod(created, 0o700)


class FileTokenStore:
    """Tokens in one JSON file, readable by its owner only (mode 0600), replaced atomically."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, dict]) -> None:
        _private_folders(self.path.parent)
        fd, tmp = tempfile.mkstemp(prefix=".tokens-", dir=self.path.parent)  # created 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self, key: str) -> Token | None:
        with self._lock:
            entry = self._read().get(key)
        try:
            return Token.from_dict(entry) if entry else None
        except (KeyError, TypeError, ValueError):
            return None

    def save(self, key: str, token: Token) -> None:
        with self._lock:
            data = self._read()
            data[key] = token.to_dict()
            self._write(data)

    def clear(self, key: str) -> None:
        with self._lock:
            data = self._read()
            if data.pop(key, None) is not None:
                self._write(data)
