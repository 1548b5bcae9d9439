"""The `tokenmock` command: serve the mock, inspect and check the contracts, fetch a token, verify a server."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

import contracts


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tokenmock")
def main() -> None:
    """Contracts, a mock server and a reference client for five vendors' access-token endpoints."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="TOKENMOCK_HOST", help="Address to bind.")
@click.option("--port", default=8080, show_default=True, type=int, envvar="TOKENMOCK_PORT", help="Port to bind.")
@click.option("--vendor", type=click.Choice(contracts.vendors()), help="Serve one vendor alone, at the root.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), envvar="TOKENMOCK_CONFIG",
              help="Settings file (TOML or YAML).")
@click.option("--threads", default=8, show_default=True, type=int, help="Request threads.")
def serve(host: str, port: int, vendor: str | None, config_file: str | None, threads: int) -> None:
    """Run the mock of every vendor (or one) on a production WSGI server until Ctrl-C or SIGTERM."""
    from mockserver import create_app
    from mockserver.config import ConfigError, load_settings
    from tokenmock.server import configure_logging, is_loopback
    from tokenmock.server import serve as run

    started = time.perf_counter()
    try:
        settings = load_settings(config_file)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if vendor:
        settings["vendor"] = vendor
    if not is_loopback(host):
        click.echo(
            f"warning: binding {host} exposes the mock (and its demo credentials) beyond this machine",
            err=True,
        )
    configure_logging(bool(settings.get("access_log", True)))
    try:
        app = create_app(settings)
    except Exception as exc:  # a broken config or contract: say so, without a traceback
        raise click.ClickException(f"cannot start: {exc}") from None
    mock = app.extensions["tokenmock"]
    shown = "[" + host + "]" if ":" in host else host

    def ready() -> None:
        base = f"http://{shown}:{port}"
        click.echo(f"tokenmock ready in {time.perf_counter() - started:.2f}s at {base} (GET / lists vendors and demo credentials)", err=True)
        for name, prefix in mock.mounted.items():
            click.echo(f"  {name:<11} {base}{prefix}", err=True)

    run(lambda: app, host=host, port=port, threads=threads, on_ready=ready)


@main.command()
@click.option("--check", is_flag=True, help="Validate every contract; exit 1 on any problem.")
@click.option("--register", "show_register", is_flag=True, help="Print the discrepancy register as Markdown.")
def specs(check: bool, show_register: bool) -> None:
    """List each vendor's operations and statuses, with counts of sourced and assumed elements."""
    from contracts import audit
    from contracts.register import render_markdown

    if show_register:
        click.echo(render_markdown(), nl=False)
        return
    failures = 0
    for vendor in contracts.vendors():
        sourced, assumed = audit.trace_counts(vendor)
        entries = contracts.register(vendor)
        click.echo(f"{vendor}: {sourced} sourced, {assumed} assumed elements; {len(entries)} discrepancies")
        for op in contracts.operations(vendor):
            mark = " (mock-only)" if op.mock_only else ""
            statuses = " ".join(map(str, op.statuses))
            click.echo(f"  {op.operation_id:<24} {op.method:<5} {op.path}  [{statuses}]{mark}")
        if check:
            for problem in audit.problems(vendor):
                failures += 1
                click.echo(f"  PROBLEM {problem}", err=True)
    if check:
        if failures:
            raise click.ClickException(f"{failures} problem(s) in the contracts")
        click.echo(f"all {len(contracts.vendors())} contracts are valid")


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":  # pragma: no cover
    main()
