"""The settings schema: typos, unknown vendors, wrong types and impossible values stop the start."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tokenmock.mockserver.config import DEFAULTS, ConfigError, load_settings, settings_schema
from tokenmock.mockserver.vendors import vendor_classes


def refusal(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path) + ": ")
    return message


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "typo.toml",
            "validate_respones = true\n",
            "validate_respones: unknown key (did you mean 'validate_responses'?)",
        ),
        ("vendor.toml", "[vendors.clickveiw]\ntoken_lifetime = 5\n", "vendors.clickveiw: unknown vendor"),
        (
            "negative.toml",
            "[vendors.clickview]\ntoken_lifetime = -5\n",
            "vendors.clickview.token_lifetime: must be at least 1",
        ),
        ("words.toml", 'journal_size = "lots"\n', "journal_size: must be integer"),
        (
            "empty.yaml",
            "vendors: {junctiontv: {clients: [{client_id: a, client_secret: ''}]}}\n",
            "client_secret: must not be empty",
        ),
        ("reading.yaml", "readings: {DIVE-99: strict}\n", "readings.DIVE-99: unknown key"),
        ("value.yaml", "readings: {DIVE-01: medium}\n", "readings.DIVE-01: must be one of strict, lenient"),
        ("store.yaml", "store: mysql://db\n", "store: not of the expected form"),
        ("vendorkey.yaml", "vendors: {vision10: {tokn_lifetime: 5}}\n", "did you mean 'token_lifetime'"),
        ("top.yaml", "- a\n- b\n", "must hold a mapping at the top level"),
        ("broken.yaml", "a: [\n", "not valid yaml"),
    ],
)
def test_a_bad_file_is_refused_in_one_line_naming_file_key_and_rule(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    assert expected in refusal(tmp_path, name, text)


def test_the_refusal_never_echoes_the_value(tmp_path: Path) -> None:
    message = refusal(tmp_path, "secret.yaml", "admin_token: 12345678901234567890\n")
    assert "admin_token: must be string or null" in message and "1234567890" not in message


@pytest.mark.parametrize(
    ("variable", "raw", "key", "expected"),
    [
        ("TOKENMOCK__ADMIN_TOKEN", "0123", "admin_token", "0123"),  # a string setting stays the string
        ("TOKENMOCK__ADMIN_TOKEN", "no", "admin_token", "no"),
        ("TOKENMOCK__ADMIN_TOKEN", "1.0e10", "admin_token", "1.0e10"),
        ("TOKENMOCK__JOURNAL_SIZE", "12", "journal_size", 12),
        ("TOKENMOCK__ACCESS_LOG", "false", "access_log", False),
        ("TOKENMOCK__CHAOS", "7", "chaos", 7),
        ("TOKENMOCK__CHAOS", '{"seed": 3, "exclude": ["no_answer"]}', "chaos", {"seed": 3, "exclude": ["no_answer"]}),
    ],
)
def test_environment_values_are_typed_by_the_schema(variable: str, raw: str, key: str, expected: object) -> None:
    assert load_settings(environ={variable: raw})[key] == expected


def test_nested_environment_values_and_upper_case_reading_ids() -> None:
    settings = load_settings(
        environ={"TOKENMOCK__VENDORS__CLICKVIEW__TOKEN_LIFETIME": "60", "TOKENMOCK__READINGS__DIVE-01": "strict"}
    )
    assert settings["vendors"] == {"clickview": {"token_lifetime": 60}}
    assert settings["readings"] == {"DIVE-01": "strict"}


@pytest.mark.parametrize(
    ("variable", "raw", "expected"),
    [
        ("TOKENMOCK__JOURNAL_SIZE", "lots", "environment TOKENMOCK__JOURNAL_SIZE: must be integer"),
        ("TOKENMOCK__VALIDATE_RESPONES", "1", "environment TOKENMOCK__VALIDATE_RESPONES: validate_respones: unknown"),
        ("TOKENMOCK__VENDORS__CLICKVIEW__TOKEN_LIFETIME", "-5", "token_lifetime: must be at least 1"),
    ],
)
def test_a_bad_environment_value_names_the_variable(variable: str, raw: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace(".", r"\.")):
        load_settings(environ={variable: raw})


def test_the_defaults_and_every_vendors_defaults_satisfy_the_schema() -> None:
    validator = jsonschema.Draft202012Validator(settings_schema())
    validator.validate(DEFAULTS)
    validator.validate({"vendors": {name: dict(cls.defaults) for name, cls in vendor_classes().items()}})


def test_every_vendor_setting_has_a_schema_and_the_reverse() -> None:
    for name, cls in vendor_classes().items():
        declared = set(cls.settings_schema["properties"])
        assert declared == set(cls.defaults), name


def test_a_programs_mapping_is_checked_too_and_may_carry_a_clock() -> None:
    from tokenmock.mockserver.controls.clock import Clock

    clock = Clock()
    assert load_settings({"clock": clock}, environ={})["clock"] is clock
    with pytest.raises(ConfigError, match=r"^config: journal_size: must be at least 1$"):
        load_settings({"journal_size": 0}, environ={})


def test_the_published_schema_is_the_one_enforced() -> None:
    from click.testing import CliRunner

    from tokenmock.cli import main

    result = CliRunner().invoke(main, ["config", "--schema"])
    assert result.exit_code == 0
    assert json.loads(result.output) == settings_schema()
    jsonschema.Draft202012Validator.check_schema(settings_schema())


def readme_section() -> str:
    from tests.documentation import section

    return section("Configuration")


def test_the_readme_configuration_example_loads_as_written_and_leaves_chaos_off(tmp_path: Path) -> None:
    section = readme_section()
    example = section.split("```toml\n")[1].split("```")[0]
    config = tmp_path / "mock.toml"
    config.write_text(example, encoding="utf-8")
    settings = load_settings(config, environ={})
    assert settings["chaos"] is None
    assert settings["readings"] == {"DIVE-01": "strict"}
    assert settings["vendors"]["clickview"]["token_lifetime"] == 3600


def test_the_readme_refusal_sample_is_what_the_command_prints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from tokenmock.cli import main

    section = readme_section()
    sample = section.split("```console\n")[1].split("```")[0].splitlines()
    command, printed = sample[0].removeprefix("$ ").split(), sample[1]
    monkeypatch.chdir(tmp_path)
    Path("mock.toml").write_text('[vendors.clickveiw]\ntoken_lifetime = 60\n', encoding="utf-8")
    result = CliRunner().invoke(main, command[1:])
    assert result.exit_code == 1
    assert result.output.strip() == printed
