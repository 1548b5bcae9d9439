"""`tokenmock verify` against independent providers (tests/providers): every honest provider and every
variation the documents or RFCs allow passes; every one-bug provider fails, naming exactly the checks
that catch its bug; nothing verify writes contains a secret.

The expectations are what verify should do (issue 21), not what it did when this table was written:
a row that fails here is a false alarm or a missed bug of verify, never a reason to edit the row.
"""

from __future__ import annotations

import ast
import base64
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from click.testing import CliRunner

from tests.documentation import section
from tests.providers import VENDORS, catalogue, serve
from tests.providers.hostile import ATTACKS
from tokenmock.cli import main

# The checks issue 21 added to verify, named for the bugs they catch.
JWT_LIFETIME = "expires_in_matches_token"  # exp - iat (or exp - Date) agrees with expires_in
# The documented alg, a signature of that alg's size, and a key of the JWKS where one is published.
SIGNATURE = "token_verifies_with_published_keys"
REFRESH_AS_BEARER = "refresh_token_refused_as_bearer"
ACCESS_AS_REFRESH = "access_token_refused_as_refresh"
NO_SECRET = "no_secret_in_answers"
SCOPE = "scope_not_widened"
ERROR_STATUS = "error_status_matches_http"  # Vision10 error items carry the HTTP status
NO_STORE = "token_answer_not_cached"  # Cache-Control: no-store (a failure under --strict)

REFUSALS = {"wrong_secret_refused", "unknown_client_refused", "missing_credentials_refused", "wrong_grant_refused"}
BEARERS = {"garbage_bearer_refused", "tampered_bearer_refused", "foreign_bearer_refused"}


@dataclass(frozen=True)
class Expect:
    """What verify must say of a provider: the exact set of failed checks (empty: it passes)."""

    fails: frozenset[str] = frozenset()
    args: tuple[str, ...] = ()
    warns: str | None = None  # a check that warns instead of failing


PASS = Expect()


def fails(*checks: str, args: tuple[str, ...] = ()) -> Expect:
    return Expect(frozenset(checks), args)


EXPECTED: dict[str, Expect] = {
    # ClickView
    "clickview/honest": PASS,
    "clickview/invalid_client_401": PASS,
    "clickview/empty_challenge_body": PASS,
    "clickview/token_type_lowercase": PASS,
    "clickview/lifetime_3600": PASS,
    "clickview/extra_members": PASS,
    "clickview/duende_discovery": PASS,
    "clickview/extra_resource": PASS,
    "clickview/bug-any_secret": fails("wrong_secret_refused"),
    "clickview/bug-undocumented_refusal": fails("content_type_conformance", *REFUSALS),
    "clickview/bug-any_bearer": fails(*BEARERS),
    "clickview/bug-lying_expires_in": fails(JWT_LIFETIME),
    "clickview/bug-echo_secret": fails(NO_SECRET),
    "clickview/bug-any_scope": fails(SCOPE),
    "clickview/bug-cacheable": fails(NO_STORE, args=("--strict",)),
    # Vision10
    "vision10/honest": PASS,
    "vision10/token_type_lowercase": PASS,
    "vision10/lifetime_3600": PASS,
    "vision10/extra_members": PASS,
    "vision10/jwks": PASS,
    "vision10/extra_resource": PASS,
    "vision10/empty_challenge_body": PASS,
    "vision10/bug-any_secret": fails("wrong_secret_refused"),
    "vision10/bug-undocumented_refusal": fails("content_type_conformance", *REFUSALS),
    "vision10/bug-any_bearer": fails(*BEARERS),
    "vision10/bug-lying_expires_in": fails(JWT_LIFETIME),
    "vision10/bug-unpublished_key": fails(SIGNATURE),
    "vision10/bug-hmac_as_rs256": fails(SIGNATURE),
    "vision10/bug-hmac_as_rs256_unpublished": fails(SIGNATURE),
    "vision10/bug-hs256": fails(SIGNATURE),
    "vision10/bug-echo_secret": fails(NO_SECRET),
    "vision10/bug-error_status_differs": fails(ERROR_STATUS),
    "vision10/bug-cacheable": fails(NO_STORE, args=("--strict",)),
    # Dive
    "divetv/honest": PASS,
    "divetv/token_type_capitalised": PASS,
    "divetv/lifetime_3600": PASS,
    "divetv/extra_members": PASS,
    "divetv/no_scope": PASS,
    # RFC 6749 §6 lets a refresh token stay valid (Spring's default); DIVE-11's lenient reading says so.
    "divetv/refresh_reusable": Expect(args=("--reading", "DIVE-11=lenient")),
    "divetv/extra_resource": PASS,
    "divetv/empty_challenge_body": PASS,
    "divetv/bug-any_secret": fails("wrong_secret_refused"),
    "divetv/bug-undocumented_refusal": fails(
        "content_type_conformance", *REFUSALS, "reused_refresh_refused", ACCESS_AS_REFRESH
    ),
    "divetv/bug-any_bearer": fails(*BEARERS, REFRESH_AS_BEARER),
    "divetv/bug-lying_expires_in": fails(JWT_LIFETIME),
    "divetv/bug-refresh_as_bearer": fails(REFRESH_AS_BEARER),
    "divetv/bug-access_as_refresh": fails(ACCESS_AS_REFRESH),
    "divetv/bug-echo_secret": fails(NO_SECRET),
    # Since Dive's contract pairs request examples (issue 24), the seeded five-example run no longer draws the
    # schema-violating member (a non-string refresh_token beside username and password) that --strict also
    # flagged here; the cacheable answer is the bug under test.
    "divetv/bug-cacheable": fails(NO_STORE, args=("--strict",)),
    # AminoTV
    "aminotv/honest": PASS,
    "aminotv/lifetime_3600": PASS,
    "aminotv/extra_members": PASS,
    "aminotv/non_uuid_id": PASS,
    "aminotv/empty_challenge_body": PASS,
    "aminotv/bug-any_secret": fails("wrong_secret_refused"),
    "aminotv/bug-undocumented_refusal": fails(
        "content_type_conformance",
        *REFUSALS - {"wrong_grant_refused"},
        *BEARERS,
        "reused_refresh_refused",
        REFRESH_AS_BEARER,
        ACCESS_AS_REFRESH,
    ),
    "aminotv/bug-any_bearer": fails("ignored_auth", *BEARERS, REFRESH_AS_BEARER),
    "aminotv/bug-refresh_as_bearer": fails(REFRESH_AS_BEARER),
    "aminotv/bug-access_as_refresh": fails(ACCESS_AS_REFRESH),
    "aminotv/bug-echo_secret": fails(NO_SECRET),
    "aminotv/bug-cacheable": fails(NO_STORE, args=("--strict",)),
    # "MUST use the refresh token obtained from the previous authentication", read as rotation (AMINO-10).
    "aminotv/bug-refresh_reusable": fails("reused_refresh_refused", args=("--reading", "AMINO-10=strict")),
    # JunctionTV
    "junctiontv/honest": PASS,
    # RFC 6749 §2.3.1's form-encoding inside Basic: JTV-02's lenient reading sends it.
    "junctiontv/basic_form_encoded": Expect(args=("--reading", "JTV-02=lenient")),
    "junctiontv/html_404": PASS,
    "junctiontv/lifetime_7200": PASS,
    "junctiontv/extra_members": PASS,
    "junctiontv/extra_resource": PASS,
    "junctiontv/empty_challenge_body": PASS,
    "junctiontv/bug-any_secret": fails("wrong_secret_refused"),
    "junctiontv/bug-undocumented_refusal": fails("content_type_conformance", *REFUSALS - {"wrong_grant_refused"}),
    "junctiontv/bug-any_bearer": fails(*BEARERS),
    "junctiontv/bug-echo_secret": fails(NO_SECRET),
    "junctiontv/bug-cacheable": fails(NO_STORE, args=("--strict",)),
}
# Without --strict a missing no-store is a warning, not a failure.
EXPECTED.update({f"{name}-lenient": Expect(warns=NO_STORE) for name in EXPECTED if name.endswith("/bug-cacheable")})


def provider_of(row: str) -> str:
    return row.removesuffix("-lenient")


def junit_failures(path: Path) -> set[str]:
    """The names of the failed test cases (checks) in verify's JUnit XML."""
    return {
        str(case.get("name")) for case in ET.parse(path).getroot().iter("testcase") if case.find("failure") is not None
    }


def secret_spellings(secret: str, user: str) -> list[str]:
    """How a secret can appear on the wire or in a report: raw, form- and URL-encoded, JSON-escaped, in
    Basic credentials with and without RFC 6749 §2.3.1 form-encoding, and shell-quoted."""
    basic = [
        base64.b64encode(f"{u}:{s}".encode()).decode()
        for u, s in ((user, secret), (quote_plus(user), quote_plus(secret)))
    ]
    return [
        secret,
        quote_plus(secret),
        quote(secret, safe=""),
        json.dumps(secret)[1:-1],
        secret.replace("'", "'\\''"),
        *basic,
    ]


def test_every_provider_has_an_expectation() -> None:
    """The table names every provider in the catalogue, and nothing else."""
    assert {provider_of(row) for row in EXPECTED} == set(catalogue())


@pytest.mark.parametrize("row", sorted(EXPECTED))
def test_verify_judges_the_provider_as_expected(row: str, tmp_path: Path) -> None:
    vendor, knobs = catalogue()[provider_of(row)]
    expected = EXPECTED[row]
    served = serve(vendor, knobs)
    credentials = VENDORS[vendor].CREDENTIALS
    junit = tmp_path / "verify.xml"
    args = ["verify", vendor, "--base-url", served.url, "--max-examples", "5", "--seed", "1", "--junit-xml", str(junit)]
    for name, value in credentials.items():
        args += ["--" + name.replace("_", "-"), value]
    if knobs.resource_path:
        args += ["--resource", served.url + knobs.resource_path]
    if knobs.jwks:  # where a vendor without discovery publishes its keys, verify is told
        args += ["--jwks", served.url + "/.well-known/jwks.json"]
    try:
        result = CliRunner().invoke(main, [*args, *expected.args], catch_exceptions=False)
    finally:
        served.stop()
    failed = junit_failures(junit) if junit.exists() else {"(no JUnit file)"}
    summary = [line for line in result.output.splitlines() if line.startswith(("FAIL ", "PASSED", "FAILED", "Usage"))]
    outcome = f"verify failed {sorted(failed)}, exit {result.exit_code}; expected {sorted(expected.fails)}"
    assert (failed, result.exit_code) == (set(expected.fails), 1 if expected.fails else 0), "\n".join(
        [outcome, *summary]
    )
    if expected.warns:
        assert any(line.startswith("WARN ") and f" {expected.warns}: " in line for line in result.output.splitlines())
    written = result.output + junit.read_text(encoding="utf-8")
    for name in ("client_secret", "password", "client_key"):
        if name in credentials:
            user = credentials.get("client_id") or credentials.get("username") or ""
            leaked = [s for s in secret_spellings(credentials[name], user) if s in written]
            assert not leaked, f"{name} written by verify as {leaked}"


def test_loading_the_providers_loads_no_part_of_tokenmock() -> None:
    """The same, at run time: a fresh interpreter that builds every provider has no tokenmock module."""
    code = (
        "import sys\n"
        "from tests.providers import catalogue, VENDORS\n"
        "for vendor, knobs in catalogue().values(): VENDORS[vendor].app(knobs)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tokenmock', 'flask', 'werkzeug')))"
    )
    root = Path(__file__).resolve().parents[2]
    found = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]", found.stdout


def test_no_provider_imports_the_mock() -> None:
    """The providers are a second implementation: no module of tests/providers imports tokenmock.mockserver
    (or tokenmock at all, or Flask, the mock's framework)."""
    folder = Path(__file__).resolve().parents[1] / "providers"
    modules = sorted(folder.glob("*.py"))
    assert {m.stem for m in modules} >= {"__init__", "base", *VENDORS}
    for module in modules:
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert not name.startswith(("tokenmock", "flask", "werkzeug")), f"{module.name} imports {name}"


def test_the_docs_count_the_providers() -> None:
    """docs/verify.md's table and counts are the catalogue's."""
    text = section("Independent providers")
    rows = re.findall(r"^\| (\w+) \| (\d+) \| (\d+) \| (\d+) \|$", text, re.M)
    documented = {vendor: (int(h), int(v), int(b)) for vendor, h, v, b in rows}
    assert documented == {vendor: (1, len(m.VARIATIONS), len(m.BUGS)) for vendor, m in VENDORS.items()}
    assert f"each of these {len(catalogue())} providers" in text
    attacks = text.split(f"adds {len(ATTACKS)} attacks on verify itself:")[1].split(";")[0]
    assert tuple(re.findall(r"`(\w+)` \(", attacks)) == ATTACKS
