"""What `tokenmock verify` writes: findings, curl reproductions, a summary table, JUnit XML; secrets masked.

Every credential verify knows is a secret (client secret, password, client key, session cookie and the
tokens the provider issued), and every form it can take on the wire is masked wherever verify writes:
as sent, URL-encoded (form bodies, query strings), JSON-escaped, MD5-hashed (Dive), inside a Basic
header's Base64; and whatever follows `Authorization:` or a `Cookie:` header is masked whatever it is.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shlex
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import requests

from tokenmock.contracts.checks import Report
from tokenmock.redaction import MIN_SCRUBBED, secret_forms

MASK = "***"
# Credential names whose values are secrets (ids and scopes are not).
SECRET_CREDENTIALS = ("client_secret", "password", "client_key", "session")
_HEADER = re.compile(r"(?i)((?:-H|--header)\s+['\"]?(?:Authorization|Cookie|Proxy-Authorization):\s*)([^'\"]*)")
_HEADER_LINE = re.compile(r"(?im)^(\s*(?:Authorization|Cookie|Proxy-Authorization):\s*)(.*)$")
_USERINFO = re.compile(r"//[^/@\s'\"]+@")  # credentials in a URL (https://user:secret@host)
_CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")
_USER = re.compile(r"((?:-u|--user)\s+)(\S+)")
# Token-shaped values: three Base64url segments (JWTs), whatever verify knew about them.
_JWT = re.compile(r"eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*")


class Masker:
    """Masks known secrets, in every encoding they travel in, and credential headers."""

    def __init__(self, credentials: Mapping[str, str], extra: Iterable[str] = ()) -> None:
        self.secrets: set[str] = set()
        for name in SECRET_CREDENTIALS:
            if credentials.get(name):
                self.add(credentials[name])
        password = credentials.get("password")
        if password:
            self.add(hashlib.md5(password.encode()).hexdigest())  # noqa: S324 - Dive's wire form of it
        user_names = [credentials.get(k, "") for k in ("client_id", "client_key", "username")]
        for user in user_names:
            for secret in [credentials.get(k, "") for k in SECRET_CREDENTIALS] + [""]:
                if user or secret:
                    self.secrets.add(base64.b64encode(f"{user}:{secret}".encode()).decode())
        for value in extra:
            self.add(value)

    def add(self, secret: str) -> None:
        """Mask this value, raw and in each encoding it travels in."""
        if len(secret) >= MIN_SCRUBBED:  # masking "a" would mangle every line
            self.secrets |= secret_forms(secret)

    def __call__(self, text: str) -> str:
        text = _USERINFO.sub("//" + MASK + "@", text)
        text = _HEADER.sub(lambda m: m.group(1) + MASK, text)
        text = _HEADER_LINE.sub(lambda m: m.group(1) + MASK, text)
        text = _USER.sub(lambda m: m.group(1) + MASK, text)
        for secret in sorted((s for s in self.secrets if s), key=len, reverse=True):
            text = text.replace(secret, MASK)
        return _JWT.sub(MASK, text)


def curl_of(request: requests.PreparedRequest | None, mask: Masker) -> str:
    """A curl line that reproduces a request (secrets masked)."""
    if request is None:
        return ""
    parts = ["curl", "-X", str(request.method), shlex.quote(str(request.url))]
    for name, value in request.headers.items():
        if name.lower() in ("content-length", "accept-encoding", "connection", "user-agent", "accept"):
            continue
        if name.lower() in _CREDENTIAL_HEADERS:
            value = f"{str(value).partition(' ')[0]} {MASK}" if " " in str(value) else MASK
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    body = request.body
    if body:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        parts += ["--data-raw", shlex.quote(text)]
    return mask(" ".join(parts))


def summary_table(report: Report, behaviour_checks: int) -> list[str]:
    """One row per phase: checks run, failed, skipped."""
    failed = Counter(f.phase for f in report.findings)
    skipped = Counter("behaviour" for _ in report.skipped)
    rows = [(phase, count) for phase, count in report.checks_by_phase.items() if phase != "behaviour"]
    rows.append(("behaviour", behaviour_checks))
    lines = [f"  {'phase':<10} {'checks':>7} {'failed':>7} {'skipped':>8}"]
    for phase, count in rows:
        lines.append(f"  {phase:<10} {count:>7} {failed[phase]:>7} {skipped[phase]:>8}")
    return lines


def render(report: Report, base_url: str, mask: Masker, behaviour_checks: int = 0) -> str:
    """The run as text: one block per violation (operation, rule, what, curl), skips, a table, a verdict."""
    requests_sent = sum(report.responses.values())
    lines = []
    for finding in report.findings:
        status = f" (HTTP {finding.status})" if finding.status is not None else ""
        lines.append(f"FAIL  {finding.operation}  {finding.rule}{status}")
        lines += [f"      {line}" for line in finding.message.strip().splitlines() if line.strip()]
        if finding.curl.strip():
            lines.append("      reproduce:")
            lines += [f"        {line}" for line in finding.curl.strip().splitlines() if line.strip()]
        lines.append("")
    for operation, check, reason in report.skipped:
        lines.append(f"SKIP  {operation}  {check}: {reason}")
    if report.skipped:
        lines.append("")
    for error in report.errors:
        first, *rest = [line for line in error.strip().splitlines() if line.strip()] or ["?"]
        lines += [f"ERROR {first}", *(f"      {line}" for line in rest[:12]), ""]
    lines += summary_table(report, behaviour_checks)
    verdict = "PASSED" if report.ok else "FAILED"
    counts = f"{len(report.findings)} violation(s), {len(report.errors)} error(s)"
    checks = sum(report.checks_run.values()) + behaviour_checks
    lines.append(
        f"{verdict}: {report.vendor} at {base_url}: {counts}; "
        f"{requests_sent} requests, {checks} checks in {report.elapsed:.1f}s"
    )
    return mask("\n".join(lines))


def to_junit_xml(report: Report, mask: Masker) -> bytes:
    """JUnit XML: one test case per operation and check, failed where the check found a violation,
    skipped (with the reason) where it could not run."""
    suite = ET.Element("testsuite", name=f"tokenmock verify {report.vendor}", time=f"{report.elapsed:.3f}")
    by_case: dict[tuple[str, str], list[Any]] = {key: [] for key in sorted(report.checks_by_operation)}
    for finding in report.findings:
        by_case.setdefault((finding.operation, finding.check), []).append(finding)
    skips = {(operation, check): reason for operation, check, reason in report.skipped}
    failures = 0
    for (operation_label, check), findings in by_case.items():
        case = ET.SubElement(suite, "testcase", classname=f"{report.vendor}.{operation_label}", name=check)
        if findings:
            failures += 1
            failure = ET.SubElement(case, "failure", message=mask(findings[0].title), type=check)
            failure.text = mask("\n\n".join(f"{f.message}\n\n{f.curl}" for f in findings))
        elif (operation_label, check) in skips:
            ET.SubElement(case, "skipped", message=mask(skips[(operation_label, check)]))
    for error in report.errors:
        case = ET.SubElement(suite, "testcase", classname=report.vendor, name="run")
        ET.SubElement(case, "error", message=mask(error.splitlines()[0])).text = mask(error)
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(failures))
    suite.set("errors", str(len(report.errors)))
    suite.set("skipped", str(len(report.skipped)))
    return ET.tostring(suite, encoding="utf-8", xml_declaration=True)
