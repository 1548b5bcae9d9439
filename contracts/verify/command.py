"""`tokenmock verify`: hold any server (the mock, a vendor sandbox, your own implementation) to a vendor's
contract and documented behaviour: the command, its options and how a run is put together.

    tokenmock verify clickview --base-url http://127.0.0.1:8080/clickview --junit-xml verify.xml

Credentials default to the mock's demo credentials, so verifying `tokenmock serve` needs none.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tokenmock import contracts
from tokenmock.contracts.verify.profiles import CREDENTIALS

if TYPE_CHECKING:  # schemathesis and requests load only when the command runs, not with every `tokenmock` command
    from tokenmock.contracts.checks import Report
    from tokenmock.contracts.verify.report import Masker
    from tokenmock.contracts.verify.target import Target


class VendorChoice(click.Choice):
    """A vendor id, one of those with a contract, read when a value is checked or help is shown: building
    the command line (`tokenmock --help`) does not parse the contracts."""

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        return contracts.vendors()

    @choices.setter
    def choices(self, value: object) -> None:
        pass  # click.Choice.__init__ sets it; the contracts decide


def _credentials(vendor: str, given: Mapping[str, str | None], extra: Iterable[str]) -> dict[str, str]:
    from tokenmock.contracts.verify.target import demo_credentials

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


def _readings(vendor: str, items: Iterable[str]) -> dict[str, str]:
    known = {e.id for e in contracts.register(vendor) if e.switchable}
    found: dict[str, str] = {}
    for item in items:
        entry, eq, reading = item.partition("=")
        entry, reading = entry.strip().upper(), reading.strip().lower()
        if not eq or reading not in ("strict", "lenient"):
            raise click.BadParameter(f"{item!r} is not ID=strict|lenient", param_hint="--reading")
        if entry not in known:
            raise click.BadParameter(f"{entry} is no switchable entry of {vendor}'s register", param_hint="--reading")
        found[entry] = reading
    return found


def run_behaviour(target: Target, report: Report, mask: Masker) -> int:
    """Run every behaviour check, adding failures and skips to the report; returns how many ran."""
    from tokenmock.contracts.checks import Finding
    from tokenmock.contracts.verify.behaviour import checks_for, operation_of
    from tokenmock.contracts.verify.report import curl_of
    from tokenmock.contracts.verify.target import CheckFailed, CheckSkipped

    ran = 0
    for check in checks_for(target.vendor):
        operation = target.label(operation_of(target, check.role))
        target.last = None
        try:
            check.run(target)
        except CheckSkipped as skip:
            report.skipped.append((operation, check.name, str(skip)))
        except CheckFailed as failure:
            report.findings.append(
                Finding(
                    vendor=target.vendor,
                    operation=operation,
                    check=check.name,
                    title=failure.title,
                    message=failure.message,
                    status=failure.status,
                    curl=curl_of(target.last, mask),
                    phase="behaviour",
                )
            )
        except Exception as exc:  # the provider broke the connection mid-check, answered garbage...
            report.findings.append(
                Finding(
                    target.vendor,
                    operation,
                    check.name,
                    "check could not complete",
                    f"{type(exc).__name__}: {exc}",
                    None,
                    curl_of(target.last, mask),
                    "behaviour",
                )
            )
        ran += 1
        report.checks_by_operation[(operation, check.name)] += 1
    return ran


class _Progress:
    """Per-phase progress lines on a terminal (stderr); silent when stderr is not one (CI logs)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.perf_counter()

    shown = ("examples", "coverage", "fuzzing", "stateful", "behaviour")  # not schemathesis' own set-up steps

    def __call__(self, phase: str, state: str, report: Report) -> None:
        if not self.enabled or phase not in self.shown:
            return
        if state == "started":
            self.started = time.perf_counter()
            click.echo(f"  {phase:<10} ...", err=True, nl=False)
        else:
            checks = report.checks_by_phase.get(phase, 0)
            click.echo(f" {checks} checks, {time.perf_counter() - self.started:.1f}s", err=True)


@click.command()
@click.argument("vendor", type=VendorChoice())
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
    "--reading",
    "reading_items",
    multiple=True,
    metavar="ID=strict|lenient",
    help="The reading a provider follows for a register entry (default: a tokenmock's own, else the contract's).",
)
@click.option("--admin-token", envvar="TOKENMOCK_ADMIN_TOKEN", help="A tokenmock's admin token (for the clock checks).")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(min=0.1), help="Seconds per request.")
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
    reading_items: tuple[str, ...],
    admin_token: str | None,
    timeout: float,
    junit_xml: Path | None,
    **given: str | None,
) -> None:
    """Check a server against VENDOR's contract and documented behaviour; exit 1 on any violation.

    Every schemathesis check (documented examples, coverage, fuzzing, stateful chains through the
    contract's links), then the behaviour checks: the documented flow works and its token opens the
    resource; wrong secret, unknown client, missing credentials and a wrong grant are refused as
    documented; garbage, tampered and foreign bearers are refused; refresh and reuse; a sane expires_in;
    expiry (against a tokenmock, through its admin API). Each failure is printed with its operation, the
    rule it breaks and a curl line that reproduces it; secrets are masked in everything verify writes.
    """
    from tokenmock.contracts.checks import run
    from tokenmock.contracts.verify.diagnostics import preflight
    from tokenmock.contracts.verify.report import Masker, render, to_junit_xml
    from tokenmock.contracts.verify.target import Target

    if not base_url.startswith(("http://", "https://")):
        raise click.BadParameter(f"{base_url!r} is not an http:// or https:// URL", param_hint="--base-url")
    credentials = _credentials(vendor, given, extra)
    readings = _readings(vendor, reading_items)
    target = Target(vendor, base_url, credentials, readings=readings, admin_token=admin_token, timeout=timeout)
    problem = preflight(target)
    if problem is not None:
        click.echo(Masker(credentials)(f"tokenmock verify {vendor}: {problem}"), err=True)
        sys.exit(1)
    _, token = target.token_answer()
    mask = Masker(credentials, [token] if token else [])
    interactive = sys.stderr.isatty()
    if interactive:
        click.echo(f"verifying {vendor} at {base_url} ({target.readings_source} readings)", err=True)
    report = run(
        vendor,
        base_url=base_url,
        credentials=credentials,
        max_examples=max_examples,
        seed=seed,
        strict=strict,
        workers=workers,
        progress=_Progress(interactive),
        narrower=target.narrower_than_contract(),
    )
    started = time.perf_counter()
    progress = _Progress(interactive)
    progress("behaviour", "started", report)
    behaviour_checks = run_behaviour(target, report, mask)
    report.checks_by_phase["behaviour"] = behaviour_checks
    progress("behaviour", "finished", report)
    report.elapsed += time.perf_counter() - started
    click.echo(render(report, base_url, mask, behaviour_checks))
    if junit_xml is not None:
        junit_xml.write_bytes(to_junit_xml(report, mask))
        click.echo(f"JUnit XML written to {junit_xml}", err=True)
    sys.exit(0 if report.ok else 1)
