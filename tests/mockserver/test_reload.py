"""`serve --reload` in-process: the rebuilt app keeps the store's state; a bad file leaves the old one serving;
what changed is said without secrets (the end-to-end run is tests/e2e/test_reload_metrics.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenmock.mockserver import create_app
from tokenmock.mockserver.config import ConfigError
from tokenmock.mockserver.serving.reload import ReloadingApp, changes, watched_files

TOKEN = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"}


def reloading(tmp_path: Path, text: str) -> tuple[ReloadingApp, Path]:
    config = tmp_path / "mock.yaml"
    config.write_text(text)
    overrides = {"access_log": False, "vendor": "clickview"}
    return ReloadingApp(create_app({**overrides, **_file(config)}), str(config), overrides), config


def _file(config: Path) -> dict[str, object]:
    import yaml

    return yaml.safe_load(config.read_text())


def test_a_rebuild_applies_new_settings_and_keeps_the_state(tmp_path: Path) -> None:
    served, config = reloading(tmp_path, "vendors: {clickview: {token_lifetime: 60}}\n")
    http = served.current.test_client()
    assert http.post("/connect/token", data=TOKEN).json["expires_in"] == 60
    http.post("/__mock/faults", json={"kind": "latency", "times": 3, "params": {"ms": 0}})
    old_store = served.current.extensions["tokenmock"].store

    config.write_text("vendors: {clickview: {token_lifetime: 120}}\n")
    before, after = served.rebuild()
    assert before["vendors"]["clickview"]["token_lifetime"] == 60
    assert after["vendors"]["clickview"]["token_lifetime"] == 120
    http = served.current.test_client()
    assert served.current.extensions["tokenmock"].store is old_store
    assert http.post("/connect/token", data=TOKEN).json["expires_in"] == 120
    journal = http.get("/__mock/requests").json["requests"]
    assert [e["fault"] for e in journal] == [None, "latency"]  # the request before the rebuild is still there
    assert http.get("/__mock/faults").json["faults"][0]["remaining"] == 2


def test_a_bad_file_raises_and_the_old_app_keeps_serving(tmp_path: Path) -> None:
    served, config = reloading(tmp_path, "vendors: {clickview: {token_lifetime: 60}}\n")
    running = served.current
    config.write_text("vendors: {clickview: {token_lifetime: -1}}\n")
    with pytest.raises(ConfigError, match="token_lifetime"):
        served.rebuild()
    assert served.current is running
    assert running.test_client().post("/connect/token", data=TOKEN).json["expires_in"] == 60


def test_changes_name_secrets_without_showing_them() -> None:
    old = {"vendors": {"clickview": {"token_lifetime": 60, "clients": [{"client_secret": "one"}]}},
           "admin_token": "first-admin", "store": "redis://:pw@host/0", "journal_size": 10}
    new = {"vendors": {"clickview": {"token_lifetime": 120, "clients": [{"client_secret": "two"}]}},
           "admin_token": "second-admin", "store": "redis://:pw2@host/0", "journal_size": 10}
    lines = changes(old, new)
    assert lines == [
        "admin_token changed (value not shown)",
        "store changed (value not shown)",
        "vendors.clickview.clients changed (value not shown)",
        "vendors.clickview.token_lifetime: 60 -> 120",
    ]
    assert not any(secret in "\n".join(lines) for secret in ("one", "two", "first-admin", "second-admin", "pw"))


def test_the_contracts_are_watched_too(tmp_path: Path) -> None:
    names = {path.name for path in watched_files(str(tmp_path / "mock.yaml"))}
    assert {"mock.yaml", "clickview.yaml", "admin.yaml"} <= names


def test_a_worker_forked_after_a_change_catches_up_at_once(tmp_path: Path) -> None:
    """gunicorn forks replacement workers from the master, whose app is the first one."""
    from tokenmock.mockserver.serving.reload import watch_in_worker

    served, config = reloading(tmp_path, "vendors: {clickview: {token_lifetime: 60}}\n")
    config.write_text("vendors: {clickview: {token_lifetime: 90}}\n")  # changed before this "worker" started
    watcher = watch_in_worker(served)
    try:
        deadline = 200  # polls of 0.05 s: a bound that reports, not a wait for expiry
        while served.current.extensions["tokenmock"].settings["vendors"]["clickview"].get("token_lifetime") != 90:
            deadline -= 1
            assert deadline, "the worker did not catch up with the changed file"
            watcher.stopped.wait(0.05)
    finally:
        watcher.stopped.set()
    assert served.current.test_client().post("/connect/token", data=TOKEN).json["expires_in"] == 90
