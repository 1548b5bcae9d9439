"""What `tokenmock verify` writes: findings, curl reproductions, a summary table, JUnit XML; secrets masked,
control characters escaped.

Every credential verify knows is a secret (client secret, password, client key, session cookie and the
tokens the provider issued), and every spelling `tokenmock.redaction` lists for it is masked wherever
verify writes. A curl line is masked before anything is quoted: each form field, JSON member, query
value and header is replaced while its place is still known (whatever the secret's length), and only
then shell-quoted. Whatever follows `Authorization:` or a `Cookie:` header is masked whatever it is; a
URL's userinfo is never printed. Every string a provider controls (messages, titles, bodies) has its
control characters escaped: a provider cannot paint the terminal, nor make the JUnit file unparseable.
"""

from __future__ import annotations

import json
import re
import shlex
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from tokenmock.contracts.checks import SKIPPED_OPERATION, Report
from tokenmock.redaction import MIN_SCRUBBED, basic_forms, digest_forms, secret_forms

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
# C0 and C1 controls (tab and newline apart), DEL, zero-width and bidi controls, line and paragraph
# separators, BOM, XML's non-characters and lone surrogates: what can repaint a terminal or break XML.
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u206f"
    "\ufeff\ufff9-\ufffb\ufffe\uffff\ud800-\udfff]"
)


def escape_controls(text: str, *, newlines: bool = True) -> str:
    """`text` with every control character spelt out (`\\x1b`, `\\u202e`); newlines kept when
    `newlines`, else spelt out too (a one-line field cannot start a forged line)."""

    def spell(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    text = _CONTROL.sub(spell, text)
    return text if newlines else text.replace("\n", "\\n").replace("\t", "\\t")


def safe_url(url: str) -> str:
    """A URL as verify prints it: no userinfo, no query (either may carry a credential)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if ":" in (parts.hostname or ""):
        host = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class Masker:
    """Masks known secrets, in every spelling they travel in, and credential headers."""

    def __init__(self, credentials: Mapping[str, str], extra: Iterable[str] = ()) -> None:
        self.values: set[str] = set()  # the secrets as given: replaced wherever their place is known
        self.secrets: set[str] = set()  # their spellings, replaced anywhere in free text
        self.short: set[str] = set()  # spellings too short for free text: replaced as whole words only
        for name in SECRET_CREDENTIALS:
            if credentials.get(name):
                self.add(credentials[name])
        password = credentials.get("password")
        if password:
            for digest in digest_forms(password):  # Dive's wire form of it, itself a credential
                self.add(digest)
        user_names = [credentials.get(k, "") for k in ("client_id", "client_key", "username")]
        for user in user_names:
            for secret in [credentials.get(k, "") for k in SECRET_CREDENTIALS] + [""]:
                if user or secret:
                    self.secrets |= {form for form in basic_forms(user, secret) if len(form) >= MIN_SCRUBBED}
        for value in extra:
            self.add(value)

    def add(self, secret: str) -> None:
        """Mask this value, raw and in each spelling it travels in; whatever its length."""
        if not secret:
            return
        self.values.add(secret)
        self.secrets |= secret_forms(secret)
        if len(secret) < MIN_SCRUBBED:
            self.short |= secret_forms(secret, minimum=1) - self.secrets

    def value(self, text: str) -> str:
        """One field's value: all of it when it is a secret, else what `__call__` masks in it."""
        return MASK if text in self.values else self(text)

    def __call__(self, text: str) -> str:
        text = _USERINFO.sub("//" + MASK + "@", text)
        text = _HEADER.sub(lambda m: m.group(1) + MASK, text)
        text = _HEADER_LINE.sub(lambda m: m.group(1) + MASK, text)
        text = _USER.sub(lambda m: m.group(1) + MASK, text)
        for secret in sorted((s for s in self.secrets if s), key=len, reverse=True):
            text = text.replace(secret, MASK)
        for secret in sorted(self.short, key=len, reverse=True):
            text = re.sub(r"(?<![A-Za-z0-9])" + re.escape(secret) + r"(?![A-Za-z0-9])", MASK, text)
        return _JWT.sub(MASK, text)


def _masked_url(url: str, mask: Masker) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    query = urlencode([(k, mask.value(v)) for k, v in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    return mask(urlunsplit((parts.scheme, host, parts.path, query, "")))


def _masked_json(node: Any, mask: Masker) -> Any:
    if isinstance(node, str):
        return mask.value(node)
    if isinstance(node, dict):
        return {mask(str(k)): _masked_json(v, mask) for k, v in node.items()}
    if isinstance(node, list):
        return [_masked_json(v, mask) for v in node]
    return node


def _masked_body(text: str, content_type: str, mask: Masker) -> str:
    if "json" in content_type:
        try:
            return json.dumps(_masked_json(json.loads(text), mask), ensure_ascii=False)
        except ValueError:
            return mask(text)
    if "x-www-form-urlencoded" in content_type:
        pairs = parse_qsl(text, keep_blank_values=True)
        return urlencode([(mask(k), mask.value(v)) for k, v in pairs], safe="*")
    return mask(text)


def curl_of(request: requests.PreparedRequest | None, mask: Masker) -> str:
    """A curl line that reproduces a request, every secret masked before anything is shell-quoted."""
    if request is None:
        return ""
    parts = ["curl", "-X", str(request.method), shlex.quote(_masked_url(str(request.url), mask))]
    content_type = ""
    for name, value in request.headers.items():
        if name.lower() in ("content-length", "accept-encoding", "connection", "user-agent", "accept"):
            continue
        if name.lower() == "content-type":
            content_type = str(value).lower()
        if name.lower() in _CREDENTIAL_HEADERS:
            value = f"{str(value).partition(' ')[0]} {MASK}" if " " in str(value) else MASK
        parts += ["-H", shlex.quote(f"{name}: {mask.value(str(value))}")]
    body = request.body
    if body:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        parts += ["--data-raw", shlex.quote(_masked_body(text, content_type, mask))]
    return escape_controls(mask(" ".join(parts)), newlines=False)


def summary_table(report: Report, behaviour_checks: int) -> list[str]:
    """One row per phase: checks run, failed, skipped."""
    failed = Counter(f.phase for f in report.findings)
    skipped = Counter("behaviour" for _, check, _ in report.skipped if check != SKIPPED_OPERATION)
    rows = [(phase, count) for phase, count in report.checks_by_phase.items() if phase != "behaviour"]
    rows.append(("behaviour", behaviour_checks))
    lines = [f"  {'phase':<10} {'checks':>7} {'failed':>7} {'skipped':>8}"]
    for phase, count in rows:
        lines.append(f"  {phase:<10} {count:>7} {failed[phase]:>7} {skipped[phase]:>8}")
    return lines


def _one_line(text: str, mask: Masker) -> str:
    return escape_controls(mask(text), newlines=False)


def _lines(text: str, mask: Masker) -> list[str]:
    """A provider-controlled text as lines: split at newlines only, every other control spelt out."""
    return [escape_controls(line) for line in mask(text).strip().split("\n") if line.strip()]


def render(report: Report, base_url: str, mask: Masker, behaviour_checks: int = 0) -> str:
    """The run as text: one block per violation (operation, rule, what, curl), skips, warnings, a table,
    a verdict. Every provider-controlled string is masked and has its control characters escaped."""
    requests_sent = sum(report.responses.values())
    lines = []
    for finding in report.findings:
        status = f" (HTTP {finding.status})" if finding.status is not None else ""
        lines.append(f"FAIL  {_one_line(finding.operation, mask)}  {_one_line(finding.rule, mask)}{status}")
        lines += [f"      {line}" for line in _lines(finding.message, mask)]
        if finding.curl.strip():
            lines.append("      reproduce:")
            lines += [f"        {line}" for line in _lines(finding.curl, mask)]
        lines.append("")
    for operation, check, reason in report.skipped:
        lines.append(f"SKIP  {_one_line(operation, mask)}  {check}: {_one_line(reason, mask)}")
    for operation, check, message in report.warnings:
        lines.append(f"WARN  {_one_line(operation, mask)}  {check}: {_one_line(message, mask)}")
    if report.skipped or report.warnings:
        lines.append("")
    for error in report.errors:
        first, *rest = _lines(error, mask) or ["?"]
        lines += [f"ERROR {first}", *(f"      {line}" for line in rest[:12]), ""]
    lines += summary_table(report, behaviour_checks)
    verdict = "PASSED" if report.ok else "FAILED"
    counts = f"{len(report.findings)} violation(s), {len(report.errors)} error(s)"
    if report.warnings:
        counts += f", {len(report.warnings)} warning(s)"
    checks = sum(report.checks_run.values()) + behaviour_checks
    lines.append(
        f"{verdict}: {report.vendor} at {_one_line(safe_url(base_url), mask)}: {counts}; "
        f"{requests_sent} requests, {checks} checks in {report.elapsed:.1f}s"
    )
    return "\n".join(lines)


def _xml_text(text: str, mask: Masker) -> str:
    return escape_controls(mask(text))


def to_junit_xml(report: Report, mask: Masker) -> bytes:
    """JUnit XML: one test case per operation and check, failed where the check found a violation,
    skipped (with the reason) where it could not run. Always well-formed: every string is masked and
    has the characters XML 1.0 cannot carry escaped."""
    suite = ET.Element("testsuite", name=f"tokenmock verify {report.vendor}", time=f"{report.elapsed:.3f}")
    by_case: dict[tuple[str, str], list[Any]] = {key: [] for key in sorted(report.checks_by_operation)}
    for finding in report.findings:
        by_case.setdefault((finding.operation, finding.check), []).append(finding)
    skips = {(operation, check): reason for operation, check, reason in report.skipped}
    warnings = {(operation, check): message for operation, check, message in report.warnings}
    failures = 0
    for (operation_label, check), findings in by_case.items():
        case = ET.SubElement(
            suite,
            "testcase",
            classname=_one_line(f"{report.vendor}.{operation_label}", mask),
            name=_one_line(check, mask),
        )
        if findings:
            failures += 1
            failure = ET.SubElement(
                case, "failure", message=_one_line(findings[0].title, mask), type=_one_line(check, mask)
            )
            failure.text = _xml_text("\n\n".join(f"{f.message}\n\n{f.curl}" for f in findings), mask)
        elif (operation_label, check) in skips:
            ET.SubElement(case, "skipped", message=_one_line(skips[(operation_label, check)], mask))
        if (operation_label, check) in warnings:
            ET.SubElement(case, "system-out").text = "warning: " + _xml_text(warnings[(operation_label, check)], mask)
    for error in report.errors:
        case = ET.SubElement(suite, "testcase", classname=report.vendor, name="run")
        first = (error.splitlines() or ["?"])[0]
        ET.SubElement(case, "error", message=_one_line(first, mask)).text = _xml_text(error, mask)
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(failures))
    suite.set("errors", str(len(report.errors)))
    suite.set("skipped", str(len(report.skipped)))
    return ET.tostring(suite, encoding="utf-8", xml_declaration=True)
