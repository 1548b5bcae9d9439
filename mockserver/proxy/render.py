"""The proxy's report as a terminal table, JUnit XML and a mock config of the observed readings.

Every string an upstream controls passes through `masking.printable` before it is shown or written: no
escape sequence reaches the terminal, and the JUnit file stays well-formed XML whatever the upstream sent.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from typing import Any

import yaml

from tokenmock import contracts
from tokenmock.mockserver.controls.masking import printable
from tokenmock.mockserver.proxy.drift import DriftReport, Finding
from tokenmock.mockserver.proxy.readings import Observations


def readings_report(observations: Observations) -> dict[str, Any]:
    """Every switchable register entry of the vendor: the reading seen, the exchanges that show it, how."""
    report: dict[str, Any] = {}
    for entry in contracts.register(observations.observers.vendor):
        if not entry.switchable:
            continue
        observer = observations.observers.by_entry.get(entry.id)
        report[entry.id] = {
            "title": entry.title,
            "reading": observations.reading(entry.id),
            "evidence": observations.evidence.get(entry.id, {}),
            "shown_by": observer.shows if observer else None,
            "mock_default": entry.mock,
        }
    return report


def _table(rows: Sequence[tuple[str, ...]], headings: tuple[str, ...]) -> list[str]:
    widths = [max(len(row[i]) for row in [headings, *rows]) for i in range(len(headings))]
    line = "  ".join(h.ljust(w) for h, w in zip(headings, widths, strict=True)).rstrip()
    lines = [line, "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return lines


def text_report(report: DriftReport, observations: Observations) -> str:
    """The terminal report: drift grouped with counts, requests outside the contract, readings observed."""
    out = [f"tokenmock proxy {report.vendor} -> {printable(report.upstream)}: {report.exchanges} exchange(s)"]
    for title, findings in (("drift", report.drift()), ("requests outside the contract", report.outside())):
        counts: Counter[tuple[str, str, int, str, str]] = Counter(f.key() for f in findings)
        messages = {f.key(): f.message for f in findings}
        out += ["", f"{title}: {len(findings)}"]
        if counts:
            rows = [
                (
                    op,
                    str(status),
                    rule,
                    printable(field) or "-",
                    str(n),
                    printable(messages[(side, op, status, rule, field)])[:70],
                )
                for (side, op, status, rule, field), n in sorted(counts.items())
            ]
            out += ["  " + line for line in _table(rows, ("operation", "status", "rule", "field", "seen", "message"))]
    readings: list[tuple[str, ...]] = [
        (entry, str(value["reading"]), _ids(value["evidence"]), str(value["title"])[:60])
        for entry, value in readings_report(observations).items()
    ]
    out += ["", "readings observed:"] + [
        "  " + line for line in _table(readings, ("entry", "reading", "exchanges", "title"))
    ]
    lifetime = observations.token_lifetime()
    if lifetime is not None:
        out.append(f"  token lifetime: {lifetime} s ({_lifetime_ids(observations)})")
    if report.dropped:
        out.append(f"({report.dropped} finding(s) past the first {len(report.findings)} counted, not kept)")
    return "\n".join(out) + "\n"


def _ids(evidence: dict[str, list[int]]) -> str:
    return "; ".join(f"{reading} #{','.join(map(str, ids[:5]))}" for reading, ids in sorted(evidence.items())) or "-"


def junit(report: DriftReport, path: str) -> None:
    """JUnit XML: one test case per operation seen, failing with every drift finding of that operation."""
    by_operation: dict[str, list[Finding]] = {name: [] for name in report.operations}
    for finding in report.drift():
        by_operation.setdefault(finding.operation or "-", []).append(finding)
    failures = sum(1 for found in by_operation.values() if found)
    suite = ET.Element(
        "testsuite",
        name=f"tokenmock proxy {report.vendor}",
        tests=str(len(by_operation)),
        failures=str(failures),
        errors="0",
    )
    for name, found in sorted(by_operation.items()):
        case = ET.SubElement(suite, "testcase", classname=f"proxy.{report.vendor}", name=name)
        if not found:
            continue
        lines = []
        for finding in found:
            evidence = report.evidence.get(finding.exchange, {})
            lines.append(
                f"#{finding.exchange} {finding.status} {finding.rule} {finding.field or '-'}: {finding.message}"
                + (f"\n  {evidence['curl']}" if evidence.get("curl") else "")
            )
        failure = ET.SubElement(case, "failure", message=printable(f"{len(found)} contract violation(s)"))
        failure.text = "\n".join(printable(part) for line in lines for part in line.split("\n"))
    tree = ET.ElementTree(suite)
    _private(path, lambda out: tree.write(out, encoding="utf-8", xml_declaration=True))


def readings_config(observations: Observations, upstream: str) -> str:
    """A mock config (YAML) selecting every reading observed one way; `tokenmock serve --config` loads it."""
    observed = observations.observed()
    lines = [
        f"# Readings tokenmock proxy observed at {upstream} ({observations.observers.vendor}).",
        "# Entries not observed (or observed both ways) keep the mock's default reading.",
    ]
    for entry, value in readings_report(observations).items():
        lines.append(f"#   {entry}: {value['reading']} ({_ids(value['evidence'])})")
    config: dict[str, Any] = {"readings": dict(sorted(observed.items()))}
    lifetime = observations.token_lifetime()
    if lifetime is not None:
        lines.append(f"#   token_lifetime: {lifetime} s ({_lifetime_ids(observations)})")
        config["vendors"] = {observations.observers.vendor: {"token_lifetime": lifetime}}
    body = yaml.safe_dump(config, sort_keys=False)
    return "\n".join(printable(line) for line in lines) + "\n" + body


def _lifetime_ids(observations: Observations) -> str:
    return "; ".join(
        f"{value} s #{','.join(map(str, ids[:5]))}" for value, ids in sorted(observations.lifetimes.items())
    )


def write_private(path: str, text: str) -> None:
    """Write a report file readable by this user only."""
    _private(path, lambda out: out.write(text.encode("utf-8")))


def _private(path: str, write: Any) -> None:
    if os.path.islink(path):
        raise OSError(f"{path} is a symbolic link; not writing through it")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as out:
        write(out)
