"""State files, their folders and key material are private to their owner whatever the umask (issue 14, #4).

The SQLite store holds every signing key the config does not give (the Vision10 RSA private key, the
HMAC secrets), runtime client secrets and revocations; anyone who reads it can forge every vendor's
tokens. The client's token file holds refresh tokens. Each test runs under the common umask 022, which
made all of them 0644 before.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenmock.client import FileTokenStore, Token
from tokenmock.mockserver import create_app
from tokenmock.mockserver.stores import open_store
from tokenmock.mockserver.stores.sqlite import SQLiteStore


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _state_files(folder: Path) -> dict[str, int]:
    return {p.name: mode(p) for p in sorted(folder.iterdir())}


def test_the_sqlite_database_wal_shm_and_lock_file_are_0600(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    app = create_app({"store": f"sqlite://{path}", "access_log": False})  # makes every vendor's keys
    mock = app.extensions["tokenmock"]
    client = app.test_client()
    reply = client.post(
        "/clickview/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "scope": "smartembed.viewkey",
        },
    )
    assert reply.status_code == 200
    mock.store.add_client("clickview", {"client_id": "ci", "client_secret": "ci-secret-0123"})
    files = _state_files(tmp_path)
    try:
        assert {"state.db", "state.db-wal", "state.db-shm", "state.db-gen"} <= set(files)
        assert files == dict.fromkeys(files, 0o600), files
        assert b"PRIVATE KEY" in (tmp_path / "state.db-wal").read_bytes() + path.read_bytes()
    finally:
        mock.store.close()


def test_missing_folders_of_the_sqlite_store_are_made_0700(tmp_path: Path) -> None:
    path = tmp_path / "var" / "lib" / "tokenmock" / "state.db"
    store = open_store(f"sqlite://{path}")
    try:
        store.shared_key("clickview.signing_secret", lambda: "a-secret-of-32-bytes-or-so-0123456")
        assert [mode(p) for p in (tmp_path / "var", path.parent.parent, path.parent)] == [0o700] * 3
        assert set(_state_files(path.parent).values()) == {0o600}
    finally:
        store.close()


def test_a_database_left_world_readable_by_an_older_version_is_narrowed(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SQLiteStore(path).close()
    for name in ("state.db", "state.db-wal", "state.db-shm"):
        (tmp_path / name).touch()
        (tmp_path / name).chmod(0o644)
    store = SQLiteStore(path)
    try:
        store.revoke("some-token-id")
        assert set(_state_files(tmp_path).values()) == {0o600}
    finally:
        store.close()


def test_the_client_token_file_and_the_folders_it_makes_are_private(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "tokenmock" / "tokens.json"
    tmp_path.chmod(0o755)
    FileTokenStore(path).save("k", Token(access_token="a" * 20, refresh_token="r" * 20, expires_at=4e9))
    assert mode(path) == 0o600
    assert [mode(tmp_path / "cache"), mode(path.parent)] == [0o700, 0o700]
    assert mode(tmp_path) == 0o755  # a folder it did not make is not its to change
