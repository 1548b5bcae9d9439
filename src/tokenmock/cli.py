"""The `tokenmock` command: serve the mock, inspect and check the contracts, fetch a token, verify a server."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

# The command line loads what a command needs when it runs: `tokenmock --help` and `tokenmock token` start
# without the mock (flask, gunicorn), the contract suites (schemathesis, hypothesis) or the validators
# (jsonschema); tests/test_startup.py holds the line, benchmarks/startup.py measures it.
from tokenmock.contracts.verify.command import VendorChoice, verify


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tokenmock")
def main() -> None:
    """Contracts, a mock server and a reference client for five vendors' access-token endpoints."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="TOKENMOCK_HOST", help="Address to bind.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(1, 65535),
    envvar="TOKENMOCK_PORT",
    help="Port to bind.",
)
@click.option("--vendor", type=VendorChoice(), help="Serve one vendor alone, at the root.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    envvar="TOKENMOCK_CONFIG",
    help="Settings file (TOML or YAML).",
)
@click.option(
    "--threads", default=8, show_default=True, type=click.IntRange(1, 256), help="Request threads per worker."
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    envvar="TOKENMOCK_WORKERS",
    help="Worker processes sharing one state.  [default: the number of cores]",
)
@click.option(
    "--store",
    "store_url",
    envvar="TOKENMOCK_STORE",
    help="Where state lives: memory (one worker), sqlite[:///path/to/state.db], redis://HOST:PORT/DB."
    "  [default: memory for one worker, else a SQLite file in a temporary directory]",
)
@click.option(
    "--chaos",
    "chaos_seed",
    type=int,
    envvar="TOKENMOCK_CHAOS",
    help="Chaos mode: answer every request with draw n of this seed (valid, documented error or hostile).",
)
@click.option(
    "--chaos-exclude",
    metavar="KIND,...",
    help="Chaos kinds never to draw, e.g. stalled_body,dripping_body,no_answer (GET /__mock/chaos lists them).",
)
@click.option(
    "--reload",
    "reload_files",
    is_flag=True,
    envvar="TOKENMOCK_RELOAD",
    help="Apply changes to the config file and the contracts while serving, keeping the store's state.",
)
@click.option("--tls", is_flag=True, help="Serve HTTPS with a certificate from the mock's local CA (made once).")
@click.option("--certfile", type=click.Path(dir_okay=False), help="Serve HTTPS with this certificate (PEM).")
@click.option("--keyfile", type=click.Path(dir_okay=False), help="The private key of --certfile (PEM).")
def serve(
    host: str,
    port: int,
    vendor: str | None,
    config_file: str | None,
    threads: int,
    workers: int | None,
    store_url: str | None,
    chaos_seed: int | None,
    chaos_exclude: str | None,
    reload_files: bool,
    tls: bool,
    certfile: str | None,
    keyfile: str | None,
) -> None:
    """Run the mock of every vendor (or one) on a production WSGI server until Ctrl-C or SIGTERM."""
    import os
    import shutil
    import tempfile

    from tokenmock.mockserver import create_app
    from tokenmock.mockserver.config import ConfigError, load_settings
    from tokenmock.mockserver.controls.metrics import enable_multiprocess
    from tokenmock.mockserver.serving.server import bind_problem, configure_logging, is_loopback
    from tokenmock.mockserver.serving.server import serve as run
    from tokenmock.mockserver.serving.tls import TlsError, prepare
    from tokenmock.mockserver.stores import is_shared
    from tokenmock.redaction import mask_url

    started = time.perf_counter()
    try:
        settings = load_settings(config_file)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if vendor:
        settings["vendor"] = vendor
    if chaos_seed is not None:
        excluded = [kind.strip() for kind in (chaos_exclude or "").split(",") if kind.strip()]
        settings["chaos"] = {"seed": chaos_seed, "exclude": excluded}
    elif chaos_exclude:
        raise click.UsageError("--chaos-exclude goes with --chaos SEED")
    workers = workers or os.cpu_count() or 1
    store_url = store_url or settings.get("store") or ("sqlite" if workers > 1 else "memory")
    if workers > 1 and not is_shared(store_url):
        raise click.UsageError(f"{workers} workers need a shared store (sqlite or redis), not {store_url}")
    if problem := bind_problem(host, port):
        raise click.ClickException(problem)
    scratch = None
    if store_url == "sqlite":  # a fresh file for this run (in memory-backed /dev/shm where there is one)
        shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None  # noqa: S108 - a private mkdtemp inside
        scratch = tempfile.mkdtemp(prefix="tokenmock-", dir=shm)
        store_url = f"sqlite://{scratch}/state.db"
    settings["store"] = store_url
    settings["exposed"] = not is_loopback(host)  # the admin API then asks every client for admin_token
    if not is_loopback(host):
        click.echo(
            f"warning: binding {host} exposes the mock (and its demo credentials) beyond this machine",
            err=True,
        )
        # Said at start because a container or a farm binds 0.0.0.0 and an admin call would only get a 403.
        if settings.get("admin_token"):
            click.echo("  the admin API (/__mock/) asks every client for admin_token as a bearer token", err=True)
        else:
            click.echo(
                "  the admin API (/__mock/) is closed: set admin_token (TOKENMOCK__ADMIN_TOKEN=...) to use it",
                err=True,
            )
    tls_settings = settings["tls"] = dict(settings.get("tls") or {})
    if certfile or keyfile:
        tls_settings.update(certfile=certfile, keyfile=keyfile)
    if tls or tls_settings.get("certfile") or tls_settings.get("keyfile"):
        tls_settings["enabled"] = True
    tls_files = None
    if tls_settings.get("enabled"):
        try:
            tls_files = prepare(settings, host)
        except TlsError as exc:
            raise click.ClickException(str(exc)) from None
    configure_logging(bool(settings.get("access_log", True)))
    master = os.getpid()
    # Prometheus counts of every worker, in files only this user can read; set before prometheus_client loads.
    metrics_dir = tempfile.mkdtemp(prefix="tokenmock-metrics-")
    enable_multiprocess(metrics_dir)
    # What the command line sets over the config file, applied again on every reload.
    overrides: dict[str, Any] = {k: settings[k] for k in ("vendor", "chaos", "store", "exposed") if k in settings}
    try:
        try:
            app = create_app(settings)
        except Exception as exc:  # a broken config or contract: say so, without a traceback
            raise click.ClickException(f"cannot start: {exc}") from None
        mock = app.extensions["tokenmock"]
        mock.store.close()  # connections must not cross the fork into the workers
        shown = "[" + host + "]" if ":" in host else host

        def ready() -> None:
            base = f"{'https' if tls_files else 'http'}://{shown}:{port}"
            click.echo(
                f"tokenmock ready in {time.perf_counter() - started:.2f}s at {base}"
                " (GET / lists vendors and demo credentials)",
                err=True,
            )
            where = mask_url(store_url)  # no password in the log
            click.echo(f"  {workers} worker(s) x {threads} threads, store {where}", err=True)
            if mock.chaos.configured:
                click.echo(f"  chaos mode, seed {mock.chaos.configured['seed']}: every answer is a draw", err=True)
            if tls_files is not None and tls_files.ca_file:
                click.echo(f"  TLS: trust the CA {tls_files.ca_file} (also at {base}/__mock/ca.pem)", err=True)
            for name, prefix in mock.mounted.items():
                click.echo(f"  {name:<11} {base}{prefix}", err=True)

        served: Any = app
        worker_start, when_ready = None, ready
        if reload_files:
            from tokenmock.mockserver.serving import reload

            served = reload.ReloadingApp(app, config_file, overrides)

            def worker_start() -> None:
                reload.watch_in_worker(served)

            def when_ready() -> None:  # the master's watcher starts once the first workers are forked
                ready()
                reload.watch_in_master(served, lambda line: click.echo(line, err=True))

        run(
            lambda: served,
            on_worker_start=worker_start,
            host=host,
            port=port,
            workers=workers,
            threads=threads,
            max_body_bytes=int(settings["max_body_bytes"]),
            on_ready=when_ready,
            certfile=tls_files.certfile if tls_files else None,
            keyfile=tls_files.keyfile if tls_files else None,
        )
    finally:
        if os.getpid() == master:  # workers leave through here too
            shutil.rmtree(metrics_dir, ignore_errors=True)
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)


@main.command()
@click.option("--check", is_flag=True, help="Validate every contract; exit 1 on any problem.")
@click.option("--register", "show_register", is_flag=True, help="Print the discrepancy register as Markdown.")
def specs(check: bool, show_register: bool) -> None:
    """List each vendor's operations and statuses, with counts of sourced and assumed elements."""
    from tokenmock import contracts
    from tokenmock.contracts import audit
    from tokenmock.contracts.register import render_markdown

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


@main.command("config")
@click.option("--schema", "show_schema", is_flag=True, help="Print the settings' JSON Schema.")
@click.option(
    "--check", "check_file", type=click.Path(dir_okay=False), help="Check a settings file; exit 1 if invalid."
)
def config_command(show_schema: bool, check_file: str | None) -> None:
    """The settings' schema, and a check of a settings file against it (with TOKENMOCK__* overrides)."""
    from tokenmock.mockserver.config import ConfigError, load_settings, settings_schema

    if not (show_schema or check_file):
        raise click.UsageError("give --schema or --check FILE")
    if show_schema:
        _print_json(settings_schema())
    if check_file:
        try:
            load_settings(check_file)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{check_file}: valid")


# Credential options of `tokenmock token`; each fills the client constructor parameter of the same name.
_CREDENTIALS = ("client_id", "client_secret", "scope", "client_key", "username", "password")


def _credential_options(command: Any) -> Any:
    for name in reversed(_CREDENTIALS):
        flag = "--" + name.replace("_", "-")
        envvar = "TOKENMOCK_" + name.upper()
        command = click.option(flag, name, envvar=envvar, help=f"[env {envvar}]")(command)
    return command


def _claims_option(text: str | None) -> dict[str, Any] | None:
    """`--claims` as a JSON object, or a usage error saying what is wrong with it."""
    if text is None:
        return None
    try:
        claims = json.loads(text)
    except ValueError as exc:
        raise click.UsageError(f"--claims must be a JSON object: {exc}") from None
    if not isinstance(claims, dict):
        raise click.UsageError("--claims must be a JSON object, e.g. '{\"tenant\": \"acme\"}'")
    return claims


def _arm_claims(vendor: str, base_url: str | None, claims: dict[str, Any], client: str | None, **options: Any) -> None:
    """Arm `claims` for the next token of `client` at the mock serving `base_url` (its admin API)."""
    from tokenmock.mockserver import ControlError, MockController

    if not base_url:
        raise click.UsageError("--claims shapes a token of a tokenmock server: give its --base-url")
    root = base_url.rstrip("/")
    root = root.removesuffix("/" + vendor)  # the server root, where /__mock lives (or a one-vendor root)
    try:
        MockController(root, **options).claims(vendor, claims, client_id=client, times=1)
    except (ControlError, OSError) as exc:  # requests' errors are OSErrors
        raise click.ClickException(f"cannot arm the claims: {exc}") from None


@main.command()
@click.argument("vendor", type=VendorChoice())
@click.option("--base-url", envvar="TOKENMOCK_BASE_URL", help="Where the vendor's token endpoint lives.")
@click.option("--timeout", default=10.0, show_default=True, type=float, help="Seconds per request.")
@click.option(
    "--claims",
    "claims_json",
    help="A JSON object of claims the token carries over the vendor's own (a tokenmock server only; "
    "iss, aud, exp... override the standard ones on purpose).",
)
@click.option("--admin-token", envvar="TOKENMOCK_ADMIN_TOKEN", help="The mock's admin token, if it has one.")
@_credential_options
def token(
    vendor: str,
    base_url: str | None,
    timeout: float,
    claims_json: str | None,
    admin_token: str | None,
    **credentials: str | None,
) -> None:
    """Fetch a token with the reference client and print it as JSON (for scripting with curl).

    With --claims, the claims are first armed for this one token through the mock's admin API."""
    import inspect

    from tokenmock.client import CLIENTS, TokenError

    claims = _claims_option(claims_json)

    cls: Any = CLIENTS[vendor]  # each vendor's constructor takes its own credential names
    wanted = [p for p in inspect.signature(cls.__init__).parameters.values() if p.name in _CREDENTIALS]
    missing = [p.name for p in wanted if p.default is inspect.Parameter.empty and not credentials.get(p.name)]
    if missing:
        flags = ", ".join("--" + m.replace("_", "-") for m in missing)
        raise click.UsageError(f"{vendor} needs {flags} (or the TOKENMOCK_* variables)")
    arguments = {p.name: credentials[p.name] for p in wanted if credentials.get(p.name)}
    if claims is not None:
        who = arguments.get("client_id") or arguments.get("username")
        _arm_claims(vendor, base_url, claims, who, admin_token=admin_token, timeout=timeout)
    try:
        fetched = cls(**arguments, base_url=base_url, timeout=timeout).token()
    except (TokenError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    data = fetched.to_dict()
    data.pop("raw")
    _print_json(data)


@main.command()
@click.argument("vendor", type=VendorChoice())
@click.option("--upstream", required=True, help="The vendor's base URL (a sandbox, staging, another tokenmock).")
@click.option(
    "--upstream-ca", type=click.Path(exists=True, dir_okay=False), help="CA file (PEM) for an https upstream."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to bind (0: any).")
@click.option(
    "--timeout", default=10.0, show_default=True, type=click.FloatRange(0.1, 600), help="Seconds per exchange."
)
@click.option(
    "--max-body-bytes", default=1 << 20, show_default=True, type=click.IntRange(1, 1 << 30), help="Body cap, each way."
)
@click.option("--admin-token", envvar="TOKENMOCK_ADMIN_TOKEN", help="Required by the admin routes beyond loopback.")
@click.option("--junit-xml", type=click.Path(dir_okay=False), help="Write the drift report as JUnit XML on exit.")
@click.option("--json", "json_file", type=click.Path(dir_okay=False), help="Write the report as JSON on exit.")
@click.option("--write-readings", type=click.Path(dir_okay=False), help="Write a mock config of the observed readings.")
@click.option("--record", "record_dir", type=click.Path(file_okay=False), help="Write answers as candidate examples.")
@click.option("--fail-on-drift", is_flag=True, help="Exit 1 when any drift was seen.")
def proxy(
    vendor: str,
    upstream: str,
    upstream_ca: str | None,
    host: str,
    port: int,
    timeout: float,
    max_body_bytes: int,
    admin_token: str | None,
    junit_xml: str | None,
    json_file: str | None,
    write_readings: str | None,
    record_dir: str | None,
    fail_on_drift: bool,
) -> None:
    """Forward a vendor's traffic to its real server; report drift from the contract and the readings seen."""
    import signal

    from tokenmock.mockserver.proxy import ClientBudget, Proxy, ProxyError, ProxyServer, Upstream
    from tokenmock.mockserver.proxy.render import junit, readings_config, text_report, write_private
    from tokenmock.mockserver.serving.server import is_loopback

    try:
        target = Upstream.parse(upstream, upstream_ca)
    except (ProxyError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    exposed = not is_loopback(host)
    if exposed:
        click.echo(f"warning: binding {host}: the admin routes answer only with --admin-token", err=True)
    proxied = Proxy(
        vendor,
        target,
        admin_token=admin_token,
        exposed=exposed,
        seconds=timeout,
        max_body=max_body_bytes,
        record_dir=record_dir,
    )
    try:
        server = ProxyServer(host, port, proxied, ClientBudget(max_body=max_body_bytes, request_seconds=timeout))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None

    def stop(signum: int, frame: Any) -> None:
        import threading

        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    bound = server.server_address[1]
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"tokenmock proxy {vendor} at http://{shown}:{bound} -> {target.origin}{target.prefix}", err=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    report = proxied.report_json()
    click.echo(text_report(proxied.report, proxied.observations), nl=False)
    if json_file:
        write_private(json_file, json.dumps(report, indent=2) + "\n")
    if junit_xml:
        junit(proxied.report, junit_xml)
    if write_readings:
        write_private(write_readings, readings_config(proxied.observations, target.origin + target.prefix))
    if record_dir and proxied.recorder is not None:
        click.echo(f"{len(proxied.recorder.written)} candidate example(s) in {record_dir}", err=True)
    if fail_on_drift and proxied.report.drift():
        raise SystemExit(1)


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


main.add_command(verify)  # `tokenmock verify` (issue 5)


if __name__ == "__main__":  # pragma: no cover
    main()
