"""Masking you can trust (issue 21 item 5): secrets are replaced before anything is quoted or encoded, in
every spelling `tokenmock.redaction` lists, whatever their length; a base URL's userinfo and query never
appear in what verify writes."""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import requests
from click.testing import CliRunner

from tokenmock.cli import main
from tokenmock.contracts.checks import Finding, Report
from tokenmock.contracts.verify.report import Masker, curl_of, render, to_junit_xml
from tokenmock.pytest_plugin import LiveMock
from tokenmock.redaction import basic_forms, digest_forms, secret_forms

QUOTED = "it's-a'secret"  # a `'` is what shell quoting rewrites
SHORT = "pw"  # under redaction.MIN_SCRUBBED


def spellings(secret: str, user: str = "demo-client") -> set[str]:
    """How the secret could leak into a curl line or a report, computed here without redaction.py."""
    forms = {
        secret,
        quote_plus(secret),
        quote(secret, safe=""),
        json.dumps(secret)[1:-1],
        shlex.quote(secret),
        secret.replace("'", "'\"'\"'"),
        base64.b64encode(f"{user}:{secret}".encode()).decode(),
    }
    return {form for form in forms if form}


REQUESTS = {
    "json": lambda s: requests.Request("POST", "http://h/t", json={"client_id": "demo-client", "client_secret": s}),
    "form": lambda s: requests.Request("POST", "http://h/t", data={"client_id": "demo-client", "client_secret": s}),
    "query": lambda s: requests.Request("GET", "http://h/t", params={"client_secret": s, "x": "1"}),
    "basic": lambda s: requests.Request("POST", "http://h/t", auth=("demo-client", s)),
    "header": lambda s: requests.Request("GET", "http://h/t", headers={"X-Api-Key": s}),
}


@pytest.mark.parametrize("secret", [QUOTED, SHORT, "p", 'a"b\\c/d+e%f g'], ids=["quote", "short", "one", "escapes"])
@pytest.mark.parametrize("kind", REQUESTS)
def test_the_curl_line_masks_before_it_quotes(kind: str, secret: str) -> None:
    """Issue 21: a `'` in a JSON-body secret leaked through the curl line (masking ran after shlex.quote),
    and a secret under 4 characters was never masked."""
    prepared = REQUESTS[kind](secret).prepare()
    line = curl_of(prepared, Masker({"client_id": "demo-client", "client_secret": secret}))
    assert "***" in line, line
    words = shlex.split(line)  # still a valid shell line
    assert words[0] == "curl"
    leaked = [
        form for form in spellings(secret) if any(form == w or f"={form}" in w or f'"{form}"' in w for w in words)
    ]
    assert not leaked, line
    if len(secret) > 2:
        assert not [form for form in spellings(secret) if form in line], line


def test_a_short_secret_is_masked_as_a_whole_word_in_free_text() -> None:
    mask = Masker({"client_secret": SHORT})
    assert (
        mask("the secret pw was refused; pwned and upward stay") == "the secret *** was refused; pwned and upward stay"
    )


def test_the_spellings_are_the_redaction_lists() -> None:
    """redaction.py is the one list: shell-quoted, Basic with and without §2.3.1 form-encoding, MD5."""
    assert {shlex.quote(QUOTED), QUOTED.replace("'", "'\"'\"'")} <= secret_forms(QUOTED)
    assert base64.b64encode(b"id:a+b").decode() in basic_forms("id", "a+b")
    assert base64.b64encode(b"id:a%2Bb").decode() in basic_forms("id", "a+b")
    assert hashlib.md5(b"pw").hexdigest() in digest_forms("pw")


def test_junit_and_text_carry_no_secret_and_no_base_query() -> None:
    secret = QUOTED
    prepared = REQUESTS["json"](secret).prepare()
    mask = Masker({"client_id": "demo-client", "client_secret": secret})
    mask.values.add("api-key-value")
    report = Report("clickview")
    report.findings.append(
        Finding(
            "clickview",
            "POST /connect/token",
            "wrong_secret_refused",
            f"echoed {secret}",
            f"the body said {json.dumps(secret)} and {shlex.quote(secret)}",
            400,
            curl_of(prepared, mask),
            "behaviour",
        )
    )
    text = (
        render(report, "https://ci:hunter2@h.example/base?key=api-key-value", mask)
        + to_junit_xml(report, mask).decode()
    )
    assert not [form for form in spellings(secret) if form in text]
    assert "api-key-value" not in text and "hunter2" not in text and "ci:" not in text
    assert "https://h.example/base:" in text  # the verdict line names the host and path only


def test_a_base_url_query_is_sent_but_never_printed(tokenmock_server: LiveMock, tmp_path: Path) -> None:
    """A base URL carrying a key in its query (`?apikey=...`): every request still gets it, no output shows it."""
    url = tokenmock_server.url("clickview") + "?apikey=base-query-value-123"
    junit = tmp_path / "verify.xml"
    result = CliRunner().invoke(
        main,
        ["verify", "clickview", "--base-url", url, "--max-examples", "2", "--seed", "1", "--junit-xml", str(junit)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "base-query-value-123" not in result.output + junit.read_text(encoding="utf-8")
    assert f"PASSED: clickview at {tokenmock_server.url('clickview')}: " in result.output
    ET.parse(junit)
