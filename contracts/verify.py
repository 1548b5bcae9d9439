"""`tokenmock verify`: hold any server (the mock, a vendor sandbox, your own implementation) to a vendor's
contract with every schemathesis check, and say plainly what broke.

    tokenmock verify clickview --base-url http://127.0.0.1:8080/clickview --junit-xml verify.xml

Credentials default to the mock's demo credentials, so verifying `tokenmock serve` needs none.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tokenmock import contracts

if TYPE_CHECKING:  # schemathesis loads only when the command runs, not with every `tokenmock` command
    from tokenmock.contracts.checks import Report

# Credentials by the names the contracts give them; each is also an option and a TOKENMOCK_* variable.
CREDENTIALS = (
    "client_id",
    "client_secret",
    "scope",
    "client_key",
    "username",
    "password",
    "session",
    "profile_id",
    "channel_id",
)
# Demo-mapping keys of the mock that name something else than the contract does.
_DEMO_ALIASES = {"channel": "channel_id", "profiles": "profile_id"}


def demo_credentials(vendor: str) -> dict[str, str]:
    """The mock's demo credentials for a vendor, named as the contract names them."""
    from tokenmock.mockserver.vendors import vendor_classes

    found: dict[str, str] = {}
    for key, value in (vendor_classes()[vendor].defaults.get("demo") or {}).items():
        name = _DEMO_ALIASES.get(key, key)
        if key == "cookie" and isinstance(value, str):  # "session=..." -> the cookie's own name
            cookie, _, cookie_value = value.partition("=")
            found[cookie.strip()] = cookie_value.strip()
        elif isinstance(value, list) and value:
            found[name] = str(value[0])
        elif isinstance(value, str):
            found[name] = value
    return {k: v for k, v in found.items() if k in CREDENTIALS}


def render(report: Report, base_url: str) -> str:
    """The run as text: one block per violation (operation, rule, what, curl), then a verdict."""
    requests = sum(report.responses.values())
    lines = []
    for finding in report.findings:
        status = f" (HTTP {finding.status})" if finding.status is not None else ""
        lines.append(f"FAIL  {finding.operation}  {finding.rule}{status}")
        lines += [f"      {line}" for line in finding.message.strip().splitlines() if line.strip()]
        lines.append("      reproduce:")
        lines += [f"        {line}" for line in finding.curl.strip().splitlines() if line.strip()]
        lines.append("")
    for error in report.errors:
        first, *rest = [line for line in error.strip().splitlines() if line.strip()] or ["?"]
        lines += [f"ERROR {first}", *(f"      {line}" for line in rest[:12]), ""]
    verdict = "PASSED" if report.ok else "FAILED"
    counts = f"{len(report.findings)} violation(s), {len(report.errors)} error(s)"
    lines.append(
        f"{verdict}: {report.vendor} at {base_url}: {counts}; "
        f"{requests} requests, {sum(report.checks_run.values())} checks in {report.elapsed:.1f}s"
    )
    return "\n".join(lines)


def to_junit_xml(report: Report) -> bytes:
    """JUnit XML: one test case per operation and check, failed where the check found a violation."""
    suite = ET.Element("testsuite", name=f"tokenmock verify {report.vendor}", time=f"{report.elapsed:.3f}")
    by_case: dict[tuple[str, str], list[Any]] = {key: [] for key in sorted(report.checks_by_operation)}
    for finding in report.findings:
        by_case.setdefault((finding.operation, finding.check), []).append(finding)
    failures = 0
    for (operation_label, check), findings in by_case.items():
        case = ET.SubElement(suite, "testcase", classname=f"{report.vendor}.{operation_label}", name=check)
        if findings:
            failures += 1
            first = findings[0]
            failure = ET.SubElement(case, "failure", message=f"{first.title}", type=check)
            failure.text = "\n\n".join(f"{f.message}\n\n{f.curl}" for f in findings)
    for error in report.errors:
        case = ET.SubElement(suite, "testcase", classname=report.vendor, name="run")
        ET.SubElement(case, "error", message=error.splitlines()[0]).text = error
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(failures))
    suite.set("errors", str(len(report.errors)))
    return ET.tostring(suite, encoding="utf-8", xml_declaration=True)


def _credentials(vendor: str, given: Mapping[str, str | None], extra: Iterable[str]) -> dict[str, str]:
    found = demo_credentials(vendor)
    found.update({k: v for k, v in given.items() if v is not None})
    for item in extra:
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--credential")
        found[name.strip()] = value
    return found


def _credential_options(command: Any) -> Any:
    for name in reversed(CREDENTIALS):
        envvar = f"TOKENMOCK_{name.upper()}"
        flag = "--" + name.replace("_", "-")
        command = click.option(flag, name, envvar=envvar, help=f"Default: the mock's demo value. [env {envvar}]")(
            command
        )
    return command


@click.command()
@click.argument("vendor", type=click.Choice(contracts.vendors()))
@click.option("--base-url", required=True, envvar="TOKENMOCK_BASE_URL", help="The vendor API's base URL.")
@_credential_options
@click.option("-c", "--credential", "extra", multiple=True, metavar="NAME=VALUE", help="Any other credential.")
@click.option("--max-examples", default=50, show_default=True, type=click.IntRange(1), help="Examples per operation.")
@click.option("--seed", type=int, help="Fix the generation seed (reproducible runs).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1), help="Concurrent requests.")
@click.option(
    "--strict",
    is_flag=True,
    help="Also require every request the contract forbids to be refused (negative_data_rejection); "
    "the mock's default readings and many real servers are more lenient than that.",
)
@click.option(
    "--junit-xml", type=click.Path(dir_okay=False, writable=True, path_type=Path), help="Write JUnit XML here."
)
def verify(
    vendor: str,
    base_url: str,
    extra: tuple[str, ...],
    max_examples: int,
    seed: int | None,
    workers: int,
    strict: bool,
    junit_xml: Path | None,
    **given: str | None,
) -> None:
    """Check a server against VENDOR's contract; exit 1 on any violation.

    Every schemathesis check, with positive and negative data, documented examples, coverage scenarios,
    fuzzing and stateful chains through the contract's links; each violation is printed with its
    operation, the rule it breaks and a curl line that reproduces it (secrets masked).
    """
    from tokenmock.contracts.checks import run

    credentials = _credentials(vendor, given, extra)
    report = run(
        vendor,
        base_url=base_url,
        credentials=credentials,
        max_examples=max_examples,
        seed=seed,
        strict=strict,
        workers=workers,
    )
    click.echo(render(report, base_url))
    if junit_xml is not None:
        junit_xml.write_bytes(to_junit_xml(report))
        click.echo(f"JUnit XML written to {junit_xml}", err=True)
    sys.exit(0 if report.ok else 1)
