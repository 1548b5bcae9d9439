"""Issue 22, items 1, 4 and 5 and the certificate finding: files the mock reads and tightens.

- Config files: at most MAX_CONFIG_BYTES; YAML aliases refused (a 440-byte alias bomb made `GET /`
  answer 46 MB); an empty file is an error, not "the defaults".
- `--reload` applies a file only once it parses, passes the schema and reads the same twice.
- TLS: a CA folder the mock did not create is never chmod-ed, one others can write is refused, and a
  planted symlink is never followed when tightening or reading (`ca-key.pem`, the SQLite files).
- `serve --certfile/--keyfile` with files that are not PEM refuses to start with one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.ports import free_port
from tokenmock.mockserver.app import create_app
from tokenmock.mockserver.config import MAX_CONFIG_BYTES, ConfigError, load_settings
from tokenmock.mockserver.serving import reload
from tokenmock.mockserver.serving.reload import ReloadingApp
from tokenmock.mockserver.serving.tls import TlsError, prepare
from tokenmock.mockserver.stores import StoreError, open_store

ROOT = Path(__file__).resolve().parents[2]
ALIAS_BOMB = """
vendors:
  clickview:
    demo:
      a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
      b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
      c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
      d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
      e: [*d,*d,*d,*d,*d,*d,*d,*d,*d]
"""
BAD_FILES: tuple[tuple[str, str | bytes], ...] = (
    ("bomb.yaml", ALIAS_BOMB),
    ("merge.yaml", "vendors: {clickview: {demo: {base: &base {x: 1}, more: {<<: *base}}}}\n"),
    ("empty.yaml", ""),
    ("comments.yaml", "# nothing but a comment\n"),
    ("empty.toml", ""),
    ("huge.yaml", b"# " + b"x" * (MAX_CONFIG_BYTES + 10) + b"\n"),
)
RELOADS = ("empty", "cut short", "changing", "schema")
PEM_PAIRS = ("garbage", "key as cert", "empty")
# Cases: the bad files, the reloads, the CA folders and links, the SQLite links, the not-PEM pairs.
CASE_COUNT = len(BAD_FILES) + len(RELOADS) + 4 + 2 + len(PEM_PAIRS)


@pytest.mark.parametrize(("name", "content"), BAD_FILES, ids=[name for name, _ in BAD_FILES])
def test_config_files_that_are_refused(tmp_path: Path, name: str, content: str | bytes) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ConfigError) as refused:
        load_settings(path, environ={})
    message = str(refused.value)
    assert message.startswith(str(path)) and "\n" not in message, message


def test_an_anchor_without_alias_and_comment_only_toml_still_load(tmp_path: Path) -> None:
    yaml_file, toml_file = tmp_path / "ok.yaml", tmp_path / "ok.toml"
    yaml_file.write_text("journal_size: &n 50\n")
    toml_file.write_text("# the defaults\n")
    assert load_settings(yaml_file, environ={})["journal_size"] == 50
    assert load_settings(toml_file, environ={})["journal_size"] == 1000


@pytest.fixture
def reloading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ReloadingApp, Path]:
    monkeypatch.setattr(reload, "STABLE_GAP", 0.0)
    config = tmp_path / "mock.yaml"
    config.write_text("admin_token: s3cret-admin\nvendors: {clickview: {token_lifetime: 60}}\n")
    app = ReloadingApp(create_app(load_settings(config, environ={})), str(config), {})
    return app, config


def _admin_token(app: ReloadingApp) -> Any:
    current: Flask = app.current
    return current.extensions["tokenmock"].settings["admin_token"]


@pytest.mark.parametrize("case", RELOADS)
def test_reload_applies_only_a_whole_valid_settled_file(
    reloading: tuple[ReloadingApp, Path], monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    app, config = reloading
    if case == "empty":
        config.write_text("")
    elif case == "cut short":  # valid YAML, caught before its last line (admin_token) was written
        config.write_text("vendors: {clickview: {token_lifetime: 60}}\n")
        whole = "vendors: {clickview: {token_lifetime: 60}}\nadmin_token: s3cret-admin\n"
        monkeypatch.setattr(reload.time, "sleep", lambda _s: config.write_text(whole))
    elif case == "schema":
        config.write_text("admin_token: 5\n")
    else:  # a writer still at it: the second read differs from the first
        config.write_text("vendors: {clickview: {token_lifetime: 61}}\n")
        monkeypatch.setattr(reload.time, "sleep", lambda _s: config.write_text("admin_token: other-admin\n"))
    with pytest.raises(ConfigError):
        app.rebuild()
    assert _admin_token(app) == "s3cret-admin"


def test_reload_applies_a_settled_valid_file(reloading: tuple[ReloadingApp, Path]) -> None:
    app, config = reloading
    config.write_text("admin_token: new-admin\n")
    app.rebuild()
    assert _admin_token(app) == "new-admin"


def _tls(directory: Path) -> dict[str, Any]:
    return {"tls": {"enabled": True, "ca_dir": str(directory)}}


def test_a_ca_folder_others_can_write_is_refused_and_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(TlsError) as refused:
        prepare(_tls(shared), "127.0.0.1")
    assert "others can write" in str(refused.value)
    assert shared.stat().st_mode & 0o777 == 0o777 and list(shared.iterdir()) == []


def test_a_ca_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("making a folder of another user needs root")
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    os.chown(other, 65534, 65534)
    with pytest.raises(TlsError) as refused:
        prepare(_tls(other), "127.0.0.1")
    assert "another user" in str(refused.value) and other.stat().st_mode & 0o777 == 0o700


def test_a_planted_key_symlink_is_not_followed(tmp_path: Path) -> None:
    directory = tmp_path / "ca"
    prepare(_tls(directory), "127.0.0.1")
    victim = tmp_path / "victim.txt"
    victim.write_text("not a key")
    os.chmod(victim, 0o644)
    (directory / "ca-key.pem").unlink()
    (directory / "ca-key.pem").symlink_to(victim)
    with pytest.raises(TlsError) as refused:
        prepare(_tls(directory), "127.0.0.1")
    assert "symbolic link" in str(refused.value)
    assert victim.stat().st_mode & 0o777 == 0o644  # never chmod-ed through the link


def test_a_planted_lock_symlink_is_not_followed(tmp_path: Path) -> None:
    directory = tmp_path / "ca"
    directory.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_text("x")
    (directory / ".lock").symlink_to(victim)
    with pytest.raises(TlsError):
        prepare(_tls(directory), "127.0.0.1")
    assert victim.read_text() == "x"


@pytest.mark.parametrize("suffix", ["", "-gen"])
def test_a_planted_sqlite_symlink_is_not_followed(tmp_path: Path, suffix: str) -> None:
    victim = tmp_path / "victim.db"
    victim.write_bytes(b"")
    os.chmod(victim, 0o644)
    database = tmp_path / "state.db"
    Path(str(database) + suffix).symlink_to(victim)
    with pytest.raises((StoreError, OSError)):
        open_store(f"sqlite://{database}").close()
    assert victim.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("pair", PEM_PAIRS)
def test_serve_refuses_certificate_files_that_are_not_pem(tmp_path: Path, pair: str) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    if pair == "garbage":
        cert.write_text("not a certificate")
        key.write_text("not a key")
    elif pair == "empty":
        cert.write_text("")
        key.write_text("")
    else:
        files = prepare(_tls(tmp_path / "ca"), "127.0.0.1")
        cert.write_bytes(Path(files.keyfile).read_bytes())
        key.write_bytes(Path(files.keyfile).read_bytes())
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tokenmock",
            "serve",
            "--port",
            str(free_port()),
            "--certfile",
            str(cert),
            "--keyfile",
            str(key),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ready" not in result.stderr and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "not a PEM certificate" in lines[0], result.stderr
