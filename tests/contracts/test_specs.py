"""The contracts themselves: standard-valid, traced, examples valid, fixed operationIds, register rendered."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from openapi_spec_validator import validate

from tokenmock import contracts
from tokenmock.cli import main
from tokenmock.contracts import audit
from tokenmock.contracts.register import render_markdown

VENDORS = contracts.vendors()
ROOT = Path(__file__).resolve().parents[2]


def test_the_five_vendors_have_contracts() -> None:
    assert set(VENDORS) == {"junctiontv", "clickview", "vision10", "divetv", "aminotv"}


@pytest.mark.parametrize("vendor", VENDORS)
def test_contract_is_valid_openapi_3_1(vendor: str) -> None:
    document = contracts.spec(vendor)
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on any problem


@pytest.mark.parametrize("vendor", VENDORS)
def test_contract_has_no_audit_problems(vendor: str) -> None:
    assert audit.problems(vendor) == []


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_element_is_traced_to_the_document_or_marked_assumed(vendor: str) -> None:
    untraced = [e.where for e in audit.elements(vendor) if e.sourced == e.assumed]
    assert untraced == []
    sourced, assumed = audit.trace_counts(vendor)
    assert sourced > 0 and assumed > 0


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_operation_has_an_id_and_every_response_a_schema(vendor: str) -> None:
    ops = contracts.operations(vendor)
    assert {op.operation_id for op in ops} >= audit.REQUIRED_OPERATIONS[vendor]
    for op in ops:
        assert op.statuses, op.operation_id
        for status in op.statuses:
            response = op.response(status)
            assert response is not None
            for media_type, media in (response.get("content") or {}).items():
                assert media.get("schema"), f"{op.operation_id} {status} {media_type}"


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_embedded_example_validates(vendor: str) -> None:
    examples = [(op.operation_id, *ex) for op in contracts.operations(vendor) for ex in op.examples()]
    assert examples, "a contract without examples"
    for operation_id, _name, status, media_type, value in examples:
        contracts.validate_response(vendor, operation_id, status, value, content_type=media_type)


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_document_example_is_embedded_as_documented(vendor: str) -> None:
    names = {name for op in contracts.operations(vendor) for name, *_ in op.examples()}
    assert "documented" in names


@pytest.mark.parametrize("vendor", ["junctiontv", "vision10", "divetv"])
def test_mock_only_endpoints_are_marked(vendor: str) -> None:
    op = contracts.operation(vendor, "getProtectedResource")
    assert op.mock_only
    assert "x-assumption" in contracts.spec(vendor)["paths"][op.path][op.method.lower()]


def test_register_markdown_is_up_to_date() -> None:
    assert (ROOT / "openapi" / "DISCREPANCIES.md").read_text(encoding="utf-8") == render_markdown()


@pytest.mark.parametrize("vendor", VENDORS)
def test_register_entries_are_complete(vendor: str) -> None:
    entries = contracts.register(vendor)
    assert len(entries) >= 5
    for entry in entries:
        assert entry.id and entry.where and entry.problem and entry.strict and entry.lenient
        assert entry.where.startswith("00"), entry.where  # cites a seed file


def test_specs_command_lists_operations_and_counts() -> None:
    result = CliRunner().invoke(main, ["specs"])
    assert result.exit_code == 0, result.output
    for vendor in VENDORS:
        assert f"{vendor}: " in result.output
    assert "getChannelStreams" in result.output and "sourced" in result.output


def test_specs_check_passes_on_the_shipped_contracts() -> None:
    result = CliRunner().invoke(main, ["specs", "--check"])
    assert result.exit_code == 0, result.output
    assert "all 5 contracts are valid" in result.output


def test_specs_check_fails_on_a_broken_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    original = audit.problems
    monkeypatch.setattr(audit, "problems", lambda v: [*original(v), "planted problem"] if v == "divetv" else [])
    result = CliRunner().invoke(main, ["specs", "--check"])
    assert result.exit_code == 1
    assert "planted problem" in result.output


def test_audit_finds_an_untraced_element(monkeypatch: pytest.MonkeyPatch) -> None:
    document = dict(contracts.spec("clickview"))
    paths = {k: dict(v) for k, v in document["paths"].items()}
    post = dict(paths["/connect/token"]["post"])
    post.pop("x-source", None)
    post.pop("x-assumption", None)
    paths["/connect/token"]["post"] = post
    document["paths"] = paths
    monkeypatch.setattr(audit, "spec", lambda vendor: document)
    assert any("POST /connect/token has neither" in p for p in audit.problems("clickview"))


def test_the_readme_counts_the_register_entries() -> None:
    """The documentation's number of register entries is the register's."""
    import re

    from tests.documentation import TEXT as readme

    (count,) = re.findall(r"lists every such place \((\d+) entries\)", readme)
    assert int(count) == len(contracts.register())


def test_the_audit_looks_at_info_path_items_media_types_and_links(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unmarked text in any of these is an untraced element (issue 15: invented text there used to pass)."""
    document = {
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/token": {
                "description": "a path item that says something",
                "post": {
                    "x-source": "s",
                    "requestBody": {"x-source": "s", "content": {"application/json": {"schema": {}}}},
                    "responses": {
                        "200": {
                            "x-source": "s",
                            "content": {"application/json": {"schema": {}}},
                            "links": {"resource": {"operationId": "x"}},
                        }
                    },
                },
            },
            "/quiet": {"get": {"x-source": "s", "responses": {}}},
        },
    }
    monkeypatch.setattr(audit, "spec", lambda vendor: document)
    untraced = [e.where for e in audit.elements("any") if not (e.sourced or e.assumed)]
    assert untraced == [
        "info",
        "path /token",
        "POST /token request application/json",
        "POST /token 200 application/json",
        "POST /token 200 link resource",
    ]
