"""The register and the contracts agree with the documents and with each other (issue 21 item 7): each
correction an independent reader asked for, held to the files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tokenmock import contracts
from tokenmock.contracts.errors import Violation

ROOT = Path(__file__).resolve().parents[2]
SEEDS = Path("/work/shared/seeds")


def entry(entry_id: str) -> Any:
    return next(e for e in contracts.register() if e.id == entry_id)


def documented(vendor: str, operation_id: str, name: str = "documented") -> dict[str, Any]:
    op = contracts.operation(vendor, operation_id)
    media = next(iter(op.responses["200"]["content"].values()))
    return dict(media["examples"][name]["value"])


def valid(vendor: str, operation_id: str, status: int, body: Any, headers: dict[str, str] | None = None) -> bool:
    try:
        contracts.validate_response(vendor, operation_id, status, body, headers)
    except Violation:
        return False
    return True


def test_jtv_15_quotes_the_document_right() -> None:
    """The `"XXXX"` of the example is its client_id; the access token is a run of `x`s."""
    problem = entry("JTV-15").problem
    assert 'access_token is "XXXX"' not in problem
    assert "client_id" in problem and "39 `x`" in problem
    if SEEDS.is_dir():
        text = (SEEDS / "000_5dbfd55030ae46b2.txt").read_text(encoding="utf-8")
        assert 'client_id: "XXXX"' in text
        (token,) = re.findall(r'access_token: "(x+)"', text)
        assert len(token) == 39


def test_the_junctiontv_contract_claims_no_token_format_the_document_lacks() -> None:
    text = (ROOT / "openapi" / "junctiontv.yaml").read_text(encoding="utf-8")
    assert "(not a JWT)" not in text


def test_cv_11_a_401_after_body_credentials_owes_no_challenge() -> None:
    """RFC 6749 §5.2: a server MAY answer invalid_client 401 whatever the client used; a challenge is owed
    only after Authorization-header authentication."""
    assert "MAY" in entry("CV-11").problem
    body = {"error": "invalid_client", "error_description": "Client authentication failed."}
    assert valid("clickview", "requestToken", 401, body, {"Content-Type": "application/json"})


@pytest.mark.parametrize("spelling", ["bearer", "Bearer", "BEARER"])
def test_dive_token_type_in_any_case(spelling: str) -> None:
    """RFC 6749 §5.1 makes token_type case-insensitive; the contract used to demand `bearer` exactly."""
    assert valid("divetv", "issueToken", 200, {**documented("divetv", "issueToken"), "token_type": spelling})
    assert not valid("divetv", "issueToken", 200, {**documented("divetv", "issueToken"), "token_type": "mac"})


def test_dive_16_scope_is_optional_as_the_register_says() -> None:
    assert entry("DIVE-16").spec == "lenient"
    answer = {k: v for k, v in documented("divetv", "issueToken").items() if k != "scope"}
    assert valid("divetv", "issueToken", 200, answer)


def test_amino_14_any_id_as_the_register_says() -> None:
    assert entry("AMINO-14").spec == "lenient"
    answer = documented("aminotv", "loginUser")
    answer["data"][0] = {**answer["data"][0], "id": "login-1234"}
    assert valid("aminotv", "loginUser", 200, answer)


def test_jtv_10_a_404_may_be_tomcats_html_page() -> None:
    assert entry("JTV-10").spec == "lenient"
    page = "<html><head><title>HTTP Status 404</title></head><body></body></html>"
    for operation_id in ("getAccessToken", "getProtectedResource"):
        assert valid("junctiontv", operation_id, 404, page, {"Content-Type": "text/html;charset=utf-8"})


def test_cv_10_the_resource_challenge_is_the_contract_not_a_json_body() -> None:
    assert entry("CV-10").spec == "strict"
    description = contracts.operation("clickview", "getExample").responses["401"]["description"]
    assert "the body may be empty" in description


NEW = {
    "DIVE-18": "device_credentials",
    "DIVE-19": "In order to obtain a newly issued token",
    "DIVE-20": "180 days",
    "DIVE-21": "MD5",
    "DIVE-22": "If client key is correct",
    "JTV-16": "specific to the API and operations",
    "AMINO-15": "Refresh token will have expiration time",
}


@pytest.mark.parametrize("entry_id", NEW)
def test_the_missing_document_defects_are_recorded(entry_id: str) -> None:
    found = entry(entry_id)
    assert NEW[entry_id] in found.problem
    assert found.mock == "none"
    if SEEDS.is_dir():
        seed = found.where.split(" § ")[0].strip('"')
        quoted = NEW[entry_id]
        if quoted[0].isupper():  # a quotation of the document
            assert quoted in (SEEDS / seed).read_text(encoding="utf-8")


def test_the_register_files_are_plain_yaml_lists() -> None:
    for path in sorted((ROOT / "openapi" / "discrepancies").glob("*.yaml")):
        entries = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert isinstance(entries, list) and all("id" in e for e in entries)
        ids = [e["id"] for e in entries]
        assert len(ids) == len(set(ids)), path.name
