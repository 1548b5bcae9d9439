"""Mock core: start-up drift checks, configuration, the journal, refusals outside any operation."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from flask import Flask

from tokenmock import contracts
from tokenmock.mockserver import ResponseDrift, StartupError, create_app
from tokenmock.mockserver.config import ConfigError, env_overrides, load_settings
from tokenmock.mockserver.controls.journal import Journal
from tokenmock.mockserver.controls.masking import mask_data, mask_headers
from tokenmock.mockserver.pipeline import core as pipeline_core
from tokenmock.mockserver.pipeline.exchange import Call, Reply
from tokenmock.mockserver.vendors import vendor_classes
from tokenmock.mockserver.vendors.base import Vendor, operation
from tokenmock.mockserver.vendors.vision10 import Vision10

TOKEN_PATH = "/v1/api/oauth/token"
DEMO = {
    "grant_type": "client_credentials",
    "scope": "all",
    "client_id": "demo-client",
    "client_secret": "demo-secret",
}
V10_SWITCHES = frozenset({"V10-01", "V10-02", "V10-04", "V10-05", "V10-12", "V10-13"})


@pytest.fixture(autouse=True)
def no_tokenmock_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests here set TOKENMOCK__ variables themselves; none may leak in from the caller's shell."""
    import os

    for name in list(os.environ):
        if name.startswith("TOKENMOCK__"):
            monkeypatch.delenv(name)


@pytest.fixture
def only_vision10(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """All-vendors mode with just Vision10 (the other vendors' modules are written elsewhere)."""
    monkeypatch.setattr(contracts, "vendors", lambda: ("vision10",))
    yield


def with_vendor_class(monkeypatch: pytest.MonkeyPatch, cls: type[Vendor]) -> None:
    monkeypatch.setattr(pipeline_core, "vendor_classes", lambda: {cls.name: cls})


# Start-up drift checks.


class _Base(Vendor):
    """Vision10 settings without its handlers, for building deliberately drifting vendor classes."""

    defaults: ClassVar[dict[str, Any]] = dict(Vision10.defaults)
    switches = V10_SWITCHES

    def render_error(self, error: Any, call: Any, path: str) -> Reply:
        return Reply(error.status, [{"error": error.error}])

    @operation("getJwks")  # present in every variant below: each drifts in one other way only
    def get_jwks(self, call: Call) -> Reply:
        return Reply(200, {"keys": []})


class MissingHandler(_Base):
    name = "vision10"

    @operation("getAccessToken")
    def get_access_token(self, call: Call) -> Reply:
        return Reply(200, {})


class ExtraHandler(_Base):
    name = "vision10"

    @operation("getAccessToken")
    def get_access_token(self, call: Call) -> Reply:
        return Reply(200, {})

    @operation("getProtectedResource")
    def get_protected_resource(self, call: Call) -> Reply:
        return Reply(200, {})

    @operation("revokeToken")
    def revoke_token(self, call: Call) -> Reply:
        return Reply(200, {})


class MissingSwitch(_Base):
    name = "vision10"
    switches = V10_SWITCHES - {"V10-13"}

    @operation("getAccessToken")
    def get_access_token(self, call: Call) -> Reply:
        return Reply(200, {})

    @operation("getProtectedResource")
    def get_protected_resource(self, call: Call) -> Reply:
        return Reply(200, {})


class ExtraSwitch(_Base):
    name = "vision10"
    switches = V10_SWITCHES | {"V10-03"}  # documentation-only entry (mock: none)

    @operation("getAccessToken")
    def get_access_token(self, call: Call) -> Reply:
        return Reply(200, {})

    @operation("getProtectedResource")
    def get_protected_resource(self, call: Call) -> Reply:
        return Reply(200, {})


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (MissingHandler, r"operations without handler \['getProtectedResource'\]"),
        (ExtraHandler, r"handlers without operation \['revokeToken'\]"),
        (MissingSwitch, r"not implemented \['V10-13'\]"),
        (ExtraSwitch, r"unknown switches \['V10-03'\]"),
    ],
)
def test_drift_between_contract_and_module_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, cls: type[Vendor], message: str
) -> None:
    with_vendor_class(monkeypatch, cls)
    with pytest.raises(StartupError, match=message):
        create_app({"vendor": "vision10"})


def test_a_vendor_without_module_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline_core, "vendor_classes", dict)
    with pytest.raises(StartupError, match="no mock module for vendor vision10"):
        create_app({"vendor": "vision10"})


def test_the_real_vision10_module_matches_its_contract() -> None:
    cls = vendor_classes()["vision10"]
    assert set(cls.handlers) == {op.operation_id for op in contracts.operations("vision10")}
    assert create_app({"vendor": "vision10"}).extensions["tokenmock"].vendors["vision10"].name == "vision10"


def test_a_subclass_of_a_vendor_inherits_its_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    class QuietVision10(Vision10):
        name = "vision10"
        realm = "quiet"

    with_vendor_class(monkeypatch, QuietVision10)
    assert create_app({"vendor": "vision10"}).test_client().post(TOKEN_PATH, json=DEMO).status_code == 200


def test_response_drift_fails_loudly(make_app: Callable[..., Flask]) -> None:
    app = make_app(vendor="vision10")
    vendor = app.extensions["tokenmock"].vendors["vision10"]
    vendor.get_access_token = lambda call: Reply.token({"token": "no access_token here"})
    with pytest.raises(ResponseDrift, match="access_token"):
        app.test_client().post(TOKEN_PATH, json=DEMO)


def test_a_crashing_handler_is_a_json_500_when_validation_is_off(make_app: Callable[..., Flask]) -> None:
    app = make_app(vendor="vision10", validate_responses=False)

    def crash(call: Call) -> Reply:
        raise RuntimeError("boom with secret demo-secret")

    app.extensions["tokenmock"].vendors["vision10"].get_access_token = crash
    logging.getLogger("tokenmock").disabled = True
    try:
        response = app.test_client().post(TOKEN_PATH, json=DEMO)
    finally:
        logging.getLogger("tokenmock").disabled = False
    assert response.status_code == 500
    assert response.mimetype == "application/json"
    assert response.get_json()[0]["status"] == 500
    assert "boom" not in response.get_data(as_text=True)


# Configuration: files, environment, readings.


TOML = """
validate_responses = true
access_log = false
vendor = "vision10"
journal_size = 7

[readings]
"V10-05" = "strict"

[vendors.vision10]
token_lifetime = 60
"""

YAML = """
validate_responses: true
access_log: false
vendor: vision10
journal_size: 7
readings:
  V10-05: strict
vendors:
  vision10:
    token_lifetime: 60
"""


@pytest.mark.parametrize(("suffix", "text"), [(".toml", TOML), (".yaml", YAML), (".yml", YAML)])
def test_config_from_file(tmp_path: Path, suffix: str, text: str) -> None:
    path = tmp_path / f"mock{suffix}"
    path.write_text(text, encoding="utf-8")
    app = create_app(str(path))
    mock = app.extensions["tokenmock"]
    assert mock.mounted == {"vision10": ""}
    assert mock.vendors["vision10"].readings["V10-05"] == "strict"
    assert mock.journal._entries.maxlen == 7
    http = app.test_client()
    assert http.post(TOKEN_PATH, json=DEMO).get_json()["expires_in"] == 60
    assert http.post(TOKEN_PATH, json={**DEMO, "extra": 1}).get_json()[0]["errorCode"] == "240010"


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mock.toml"
    path.write_text(TOML, encoding="utf-8")
    monkeypatch.setenv("TOKENMOCK__VENDORS__VISION10__TOKEN_LIFETIME", "120")
    monkeypatch.setenv("TOKENMOCK__READINGS__v10-05", "lenient")  # ids are upper-cased
    monkeypatch.setenv("TOKENMOCK__READINGS__V10-12", "lenient")
    http = create_app(str(path)).test_client()
    assert http.post(TOKEN_PATH, json=DEMO).get_json()["expires_in"] == 120
    assert http.post(TOKEN_PATH, json={**DEMO, "extra": 1, "grant_type": "other"}).status_code == 200


def test_environment_overrides_a_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENMOCK__VENDOR", "vision10")
    monkeypatch.setenv("TOKENMOCK__MAX_BODY_BYTES", "300")
    app = create_app({"validate_responses": True, "access_log": False})
    assert app.extensions["tokenmock"].mounted == {"vision10": ""}
    response = app.test_client().post(TOKEN_PATH, json={**DEMO, "pad": "p" * 400})
    assert response.status_code == 413 and response.get_json()[0]["errorCode"] == "240007"


def test_env_overrides_parse_yaml_scalars_and_nest() -> None:
    parsed = env_overrides(
        {
            "TOKENMOCK__VALIDATE_RESPONSES": "true",
            "TOKENMOCK__VENDORS__VISION10__TOKEN_LIFETIME": "60",
            "TOKENMOCK__READINGS__v10-01": "lenient",
            "OTHER__VENDOR": "ignored",
            "TOKENMOCK__": "ignored",
        }
    )
    assert parsed == {
        "validate_responses": True,
        "vendors": {"vision10": {"token_lifetime": 60}},
        "readings": {"V10-01": "lenient"},
    }
    with pytest.raises(ConfigError, match="TOKENMOCK__ADMIN_TOKEN: admin_token: must not be empty"):
        env_overrides({"TOKENMOCK__ADMIN_TOKEN": ""})  # an empty secret would open nothing and protect nothing


def test_load_settings_layers_defaults_mapping_environment() -> None:
    settings = load_settings(
        {"journal_size": 5, "vendors": {"vision10": {"token_lifetime": 7}}},
        environ={"TOKENMOCK__VENDORS__VISION10__DEMO": '{"client_id": "x"}'},
    )
    assert settings["journal_size"] == 5
    assert settings["vendors"] == {"vision10": {"token_lifetime": 7, "demo": {"client_id": "x"}}}
    assert settings["max_body_bytes"] == 64 * 1024  # default kept


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"vendor": "vision10", "readings": {"V10-99": "strict"}}, "readings.V10-99: unknown key"),
        ({"vendor": "vision10", "readings": {"v10-01": "strict"}}, "readings.v10-01: unknown key"),
        ({"vendor": "vision10", "readings": {"V10-01": "loose"}}, "readings.V10-01: must be one of strict, lenient"),
        ({"vendor": "vision11"}, "vendor: must be one of null, aminotv"),
    ],
)
def test_bad_settings_are_config_errors(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        create_app(config)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.toml", "vendor = [", "not valid toml"),
        ("bad.yaml", "vendor: [", "not valid yaml"),
        ("list.yaml", "- a\n- b\n", "mapping at the top level"),
    ],
)
def test_bad_config_files_are_config_errors(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        create_app(str(path))


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        create_app(str(tmp_path / "absent.toml"))


def test_an_empty_config_file_is_an_error_and_an_empty_mapping_means_defaults(tmp_path: Path) -> None:
    """Issue 22: a file caught empty (truncated before being written) must not mean "the defaults"."""
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="empty"):
        load_settings(str(path), environ={})
    path.write_text("{}\n", encoding="utf-8")
    assert load_settings(str(path), environ={})["journal_size"] == 1000


# The journal: masked and bounded.

SECRETS = {
    "secret": "cs-SECRET-1",
    "password": "pw-SECRET-2",
    "token": "tk-SECRET-3",
    "refresh_token": "rt-SECRET-4",
    "user_password": "up-SECRET-5",
}


def test_journal_and_log_mask_every_secret(make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(vendor="vision10", access_log=True, readings={"V10-01": "lenient"})
    http = app.test_client()
    caplog.set_level(logging.INFO, logger="tokenmock.access")
    body = {**DEMO, **SECRETS, "nested": {"client_secret": "nested-SECRET-6"}}
    http.post(
        TOKEN_PATH,
        json=body,
        headers={"Authorization": "Bearer hdr-SECRET-7", "Cookie": "session=ck-SECRET-8"},
    )
    http.post(
        f"{TOKEN_PATH}?client_secret=demo-secret&access_token=q-SECRET-10",
        json={k: v for k, v in DEMO.items() if k != "client_secret"},
    )
    http.post(TOKEN_PATH, data={"client_secret": "form-SECRET-11"})  # refused before parsing (415)
    issued = http.post(TOKEN_PATH, json=DEMO).get_json()["access_token"]
    http.get("/v1/api/resource", headers={"Authorization": f"Bearer {issued}"})
    http.get("/v1/api/resource", headers={"Authorization": "Basic ZGVtbzpiYXNpYy1TRUNSRVQ="})

    entries = app.extensions["tokenmock"].journal.entries()
    assert [e["status"] for e in entries] == [200, 200, 415, 200, 200, 401]
    dumped = json.dumps(entries) + caplog.text
    assert "SECRET" not in dumped
    assert "demo-secret" not in dumped
    assert issued not in dumped and issued.split(".")[2] not in dumped
    assert "ZGVtbzpiYXNpYy1TRUNSRVQ=" not in dumped
    assert entries[0]["body"]["client_secret"] == "***"
    assert entries[0]["body"]["client_id"] == "demo-client"  # not everything is masked
    assert entries[0]["headers"]["Authorization"] == "Bearer ***"
    assert entries[1]["query"]["client_secret"] == "***"
    assert entries[5]["headers"]["Authorization"] == "Basic ***"
    assert len(caplog.records) == 6


def test_journal_is_bounded(make_app: Callable[..., Flask]) -> None:
    app = make_app(vendor="vision10", journal_size=3)
    http = app.test_client()
    for _ in range(10):
        http.post(TOKEN_PATH, json=DEMO)
    entries = app.extensions["tokenmock"].journal.entries()
    assert len(entries) == 3
    assert [e["id"] for e in entries] == [8, 9, 10]


def test_journal_ring_buffer_unit() -> None:
    journal = Journal(2)
    for n in range(5):
        journal.record({"vendor": "v", "operation": "a" if n % 2 else "b", "n": n})
    assert [e["n"] for e in journal.entries()] == [3, 4]
    assert [e["n"] for e in journal.entries(operation="a")] == [3]
    assert len(Journal(0)) == 0  # a size of 0 still keeps one entry rather than failing
    journal.clear()
    assert journal.entries() == []


@pytest.mark.parametrize(
    ("data", "masked"),
    [
        ({"client_secret": "x", "client_id": "y"}, {"client_secret": "***", "client_id": "y"}),
        ({"a": [{"password": "x"}, 1]}, {"a": [{"password": "***"}, 1]}),
        ({"X_API_TOKEN": "x"}, {"X_API_TOKEN": "***"}),
        ("plain", "plain"),
    ],
)
def test_mask_data(data: Any, masked: Any) -> None:
    assert mask_data(data) == masked


def test_mask_headers() -> None:
    assert mask_headers(
        {
            "authorization": "Bearer abc",
            "Cookie": "s=1",
            "X-Refresh-Token": "r",
            "Accept": "a",
            "Authorization": "abc",
        }
    ) == {
        "authorization": "Bearer ***",
        "Cookie": "***",
        "X-Refresh-Token": "***",
        "Accept": "a",
        "Authorization": "***",
    }


# Requests that match no operation.


@pytest.mark.usefixtures("only_vision10")
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nowhere", 404),
        ("POST", "/v1/api/oauth/token", 404),
        ("GET", "/vision10x/v1", 404),
        ("POST", "/", 405),
    ],
)
def test_paths_outside_vendors_get_json_not_html(
    make_app: Callable[..., Flask], method: str, path: str, status: int
) -> None:
    response = make_app().test_client().open(path, method=method, json={"client_secret": "x"})
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert not response.get_data(as_text=True).lstrip().startswith("<")
    body = response.get_json()
    assert body["vendors"] == ["vision10"]
    assert body["error"] in ("not_found", "method_not_allowed")


@pytest.mark.usefixtures("only_vision10")
def test_paths_under_a_vendor_get_the_vendor_shape(make_app: Callable[..., Flask]) -> None:
    http = make_app().test_client()
    missing = http.get("/vision10/nowhere")
    assert missing.status_code == 404 and missing.get_json()[0]["errorCode"] == "240009"
    assert http.post("/vision10" + TOKEN_PATH, json=DEMO).status_code == 200
    index = http.get("/").get_json()
    assert index["vendors"]["vision10"]["base_url"].endswith("/vision10")
    assert index["vendors"]["vision10"]["demo_credentials"]["client_id"] == "demo-client"
    contract = http.get("/vision10/openapi.yaml")
    assert contract.status_code == 200 and b"operationId: getAccessToken" in contract.data


def test_single_vendor_mode_answers_unknown_paths_in_the_vendor_shape(make_app: Callable[..., Flask]) -> None:
    response = make_app(vendor="vision10").test_client().get("/favicon.ico")
    assert response.status_code == 404 and response.mimetype == "application/json"
    assert response.get_json()[0]["errorCode"] == "240009"
