"""schemathesis.toml: one source for `st run` from the repository root, `tokenmock verify` and the suites."""

from __future__ import annotations

import tomllib
from pathlib import Path

from schemathesis.config import SchemathesisConfig

from tokenmock import contracts
from tokenmock.contracts import checks

ROOT = Path(__file__).resolve().parents[2]


def test_the_packaged_copy_is_the_root_file() -> None:
    """The wheel ships contracts/schemathesis.toml; it must say what the root file says."""
    assert (ROOT / "contracts" / "schemathesis.toml").read_bytes() == (ROOT / "schemathesis.toml").read_bytes()


def test_schemathesis_accepts_it() -> None:
    config = SchemathesisConfig.from_path(str(ROOT / "schemathesis.toml"))
    for vendor in contracts.vendors():
        project = config.projects.get(contracts.spec(vendor))
        assert project.checks.not_a_server_error.enabled


def test_every_vendor_has_a_project_block() -> None:
    """Blocks are matched by the contract's info.title: a renamed title would silently drop them."""
    titles = {p["title"] for p in tomllib.loads((ROOT / "schemathesis.toml").read_text())["project"]}
    assert titles == {contracts.spec(vendor)["info"]["title"] for vendor in contracts.vendors()}


def test_the_runs_take_their_check_settings_from_it() -> None:
    assert checks.EXCLUDED_CHECKS == {
        "junctiontv": {"unsupported_method": "disabled for junctiontv in schemathesis.toml"}
    }
    assert {"negative_data_rejection"} == checks.STRICT_ONLY_CHECKS
    config = checks.config_for("clickview", strict=False)
    assert config["checks"]["negative_data_rejection"] == {"enabled": False}
    assert checks.config_for("clickview", strict=True)["checks"]["negative_data_rejection"] == {"enabled": True}
    (project,) = config["project"]
    assert "auth" not in project  # a run brings its own credentials
    assert project["operations"][0]["include-operation-id"] == ["requestToken"]


def test_clickview_declares_its_oauth2_client_credentials_scheme() -> None:
    document = contracts.spec("clickview")
    scheme = document["components"]["securitySchemes"]["clientCredentials"]
    flow = scheme["flows"]["clientCredentials"]
    assert scheme["type"] == "oauth2" and flow["tokenUrl"] == "https://auth.clickviewapp.com/connect/token"
    assert flow["scopes"].keys() == {"smartembed.viewkey"}
    assert scheme["x-source"].startswith("001_0e0313c3f1495410.txt § ")
    assert contracts.operation("clickview", "getExample").definition["security"] == [
        {"clientCredentials": ["smartembed.viewkey"]}
    ]
