"""docs/verify.md held to the code: the counts, the mock-only table, the budgets, the config example and
the one line for refused credentials."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from tests.documentation import section
from tokenmock import contracts
from tokenmock.cli import main
from tokenmock.contracts.verify.behaviour import BEHAVIOUR_CHECKS
from tokenmock.contracts.verify.command import _verify_config
from tokenmock.contracts.verify.guard import EXCHANGE_SECONDS, MAX_BODY, RUN_SECONDS
from tokenmock.pytest_plugin import LiveMock

PAGE = section("Verifying a server: `tokenmock verify`")
NOT_A_MOCK = section("Against a provider that is not a tokenmock")
BUDGETS = section("Budgets against a hostile provider")


def test_the_number_of_behaviour_checks_is_the_registrys() -> None:
    (stated,) = re.findall(r"then (\d+) behaviour checks", PAGE)
    assert int(stated) == len(BEHAVIOUR_CHECKS)


def test_the_mock_only_table_is_the_contracts() -> None:
    rows = dict(re.findall(r"^\| (\w+) \| (.+?) \|$", NOT_A_MOCK, re.M))
    rows.pop("vendor", None)
    assert set(rows) == set(contracts.vendors())
    for vendor, cell in rows.items():
        listed = set(re.findall(r"`([A-Z]+ [^`]+)`", cell))
        expected = {f"{op.method} {op.path}" for op in contracts.operations(vendor) if op.mock_only}
        assert listed == expected, vendor
        assert (cell == "none") == (not expected)


def test_the_resource_checks_named_are_the_resource_role() -> None:
    named = set(re.findall(r"`(\w+)`", NOT_A_MOCK.split("The resource checks (")[1].split(")")[0]))
    bearers = {name for name in BEHAVIOUR_CHECKS if name.endswith("_as_bearer") or name.endswith("bearer_refused")}
    assert len(bearers) == 4 and "the four bearer refusals" in NOT_A_MOCK
    resource_role = {c.name for c in BEHAVIOUR_CHECKS.values() if c.role == "resource"}
    assert named | bearers == resource_role


def test_the_budget_defaults_are_the_codes() -> None:
    rows = {
        option: default for option, default in re.findall(r"^\| [^|]+ \| `(--[\w-]+)` \| ([^|]+) \|$", BUDGETS, re.M)
    }
    assert rows == {
        "--timeout": f"{EXCHANGE_SECONDS:g} s",
        "--run-timeout": f"{RUN_SECONDS:g} s",
        "--max-body": f"{MAX_BODY} bytes",
    }


def test_the_config_example_is_a_config_verify_reads(tmp_path: Path) -> None:
    (block,) = re.findall(r"```text\n(\[vision10\].*?)```", NOT_A_MOCK, re.S)
    path = tmp_path / "verify.toml"
    path.write_text(block, encoding="utf-8")
    assert _verify_config(path, "vision10") == {
        "resource": "https://api.example.com/v1/profile",
        "jwks": "https://api.example.com/.well-known/jwks.json",
    }
    assert _verify_config(path, "divetv") == {"readings": {"DIVE-11": "lenient"}}


def test_the_refused_credentials_line_is_what_verify_prints(tokenmock_server: LiveMock) -> None:
    (line,) = re.findall(r"^tokenmock verify vision10: the provider refused the credentials.*$", PAGE, re.M)
    url = tokenmock_server.url("vision10")
    result = CliRunner().invoke(
        main, ["verify", "vision10", "--base-url", url, "--client-secret", "not-it"], catch_exceptions=False
    )
    assert result.exit_code == 1
    assert result.output.strip() == line.replace("http://127.0.0.1:8080/vision10", url)
