"""How long tokenmock takes to start: `tokenmock --help`, `tokenmock token ...`, and `serve` to its first answer.

    python benchmarks/startup.py                                   # 10 runs of each, this tree
    python benchmarks/startup.py --runs 20 --baseline-python /tmp/before/.venv/bin/python

Each measure is a fresh process, timed from spawn to exit (the CLI commands) or to the first HTTP answer
(`serve`, polled every 5 ms on loopback), `--runs` times, the trees interleaved run by run so load from
elsewhere on the machine hits them alike; the median, the fastest and the slowest are printed with the
load average. `token` asks a `tokenmock serve` this script starts (one worker) for a ClickView token.
Also printed: the modules each command loads that a start-up can do without (schemathesis, hypothesis,
requests, ...), and `-X importtime`'s heaviest imports of `tokenmock.cli`. Servers are started and
stopped by this script, by PID, on kernel-chosen loopback ports; every wait is bounded. Results land in
benchmarks/results/startup-<time>.json (git-ignored).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
# Modules a start-up should not need: the contract suites' engines, the HTTP client, the validators.
HEAVY = ("schemathesis", "hypothesis", "requests", "jsonschema", "flask", "werkzeug", "gunicorn", "jwt",
         "cryptography", "yaml", "prometheus_client", "redis", "openapi_spec_validator")
BOUND = 60.0  # seconds any one start may take before the run says so and stops it


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command(python: str) -> list[str]:
    """The `tokenmock` console script beside that Python (as a user runs it), else `python -m tokenmock`."""
    script = Path(python).with_name("tokenmock")
    return [str(script)] if script.exists() else [python, "-m", "tokenmock"]


def timed_run(argv: list[str], cwd: str) -> tuple[float, float]:
    """Seconds from spawn to exit, and the CPU seconds (user + system) the process used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, timeout=BOUND, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its children (gunicorn's workers)."""
    total, ticks = 0.0, os.sysconf("SC_CLK_TCK")
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for each in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{each}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def answered(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=BOUND)
    try:
        connection.request("GET", "/")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def spawn_serve(python: str, cwd: str, *args: str) -> tuple[subprocess.Popen[bytes], int, float, float]:
    """`tokenmock serve` started; returns it, its port, the seconds from spawn to its first answer and
    the CPU seconds its processes had used by then."""
    port = free_port()
    env = {**os.environ, "TOKENMOCK__ACCESS_LOG": "false"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command(python), "serve", "--port", str(port), *args],
        cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    while not answered(port):
        if process.poll() is not None or time.perf_counter() - started > BOUND:
            stop(process)
            raise SystemExit(f"serve {' '.join(args)} did not answer within {BOUND:g} s")
        time.sleep(0.005)  # polling a starting server
    return process, port, time.perf_counter() - started, tree_cpu(process.pid)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def token_server(python: str, cwd: str) -> Iterator[str]:
    process, port, _, _ = spawn_serve(python, cwd, "--workers", "1")
    try:
        yield f"http://127.0.0.1:{port}/clickview"
    finally:
        stop(process)


def loaded_modules(python: str, cwd: str, argv: list[str]) -> list[str]:
    """The HEAVY modules a CLI command loads (its output and exit status aside)."""
    probe = (
        "import json, sys\nfrom tokenmock.cli import main\n"
        f"sys.argv = {['tokenmock', *argv]!r}\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY)!r}))), file=sys.stderr)"
    )
    done = subprocess.run([python, "-c", probe], cwd=cwd, capture_output=True, text=True, timeout=BOUND, check=False)
    return list(json.loads(done.stderr.strip().splitlines()[-1]))


def heaviest_imports(python: str, cwd: str, count: int = 8) -> list[tuple[str, float]]:
    """`-X importtime`'s heaviest direct imports under `tokenmock.cli` (cumulative ms)."""
    done = subprocess.run([python, "-X", "importtime", "-c", "import tokenmock.cli"], cwd=cwd,
                          capture_output=True, text=True, timeout=BOUND, check=False)
    rows = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((parts[2].rstrip(), int(parts[1]) / 1000))
    top = [(name.strip(), ms) for name, ms in rows if len(name) - len(name.lstrip()) <= 3]
    return sorted(top, key=lambda row: -row[1])[:count]


def summary(times: list[float]) -> dict[str, float]:
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "runs": len(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="runs of each measure (default 10)")
    parser.add_argument("--baseline-python", help="the Python of another tree to measure in the same run")
    options = parser.parse_args()
    trees = {"this tree": sys.executable}
    if options.baseline_python:
        trees["baseline"] = options.baseline_python
    cwd = tempfile.mkdtemp(prefix="tokenmock-startup-")  # not a checkout: as a user's project runs it
    measures = ("--help", "token clickview", "serve, 1 worker", "serve, default workers")
    times: dict[str, dict[str, list[float]]] = {tree: {m: [] for m in measures} for tree in trees}
    cpu: dict[str, dict[str, list[float]]] = {tree: {m: [] for m in measures} for tree in trees}
    load_before = os.getloadavg()[0]
    servers = {tree: token_server(python, cwd) for tree, python in trees.items()}
    with contextlib.ExitStack() as stack:
        urls = {tree: stack.enter_context(server) for tree, server in servers.items()}
        for _ in range(options.runs):
            for tree, python in trees.items():
                token = ["token", "clickview", "--base-url", urls[tree],
                         "--client-id", "demo-client", "--client-secret", "demo-secret"]
                for measure, argv in (("--help", ["--help"]), ("token clickview", token)):
                    elapsed, used = timed_run([*command(python), *argv], cwd)
                    times[tree][measure].append(elapsed)
                    cpu[tree][measure].append(used)
                for measure, args in (("serve, 1 worker", ("--workers", "1")), ("serve, default workers", ())):
                    process, _, elapsed, used = spawn_serve(python, cwd, *args)
                    stop(process)
                    times[tree][measure].append(elapsed)
                    cpu[tree][measure].append(used)
    load_after = os.getloadavg()[0]
    report: dict[str, object] = {"load_average": [load_before, load_after], "cores": os.cpu_count(), "trees": {}}
    print(f"load average {load_before:.2f} before, {load_after:.2f} after, on {os.cpu_count()} cores; "
          f"{options.runs} runs of each: wall seconds, median [min-max]; CPU seconds (user+system), median")
    for tree, python in trees.items():
        found = {m: {**summary(t), "cpu_median": statistics.median(cpu[tree][m])} for m, t in times[tree].items()}
        heavy = {argv: loaded_modules(python, cwd, argv.split()) for argv in ("--help", "token --help")}
        imports = heaviest_imports(python, cwd)
        report["trees"][tree] = {"python": python, "times": found, "heavy_modules": heavy,  # type: ignore[index]
                                 "heaviest_imports_of_cli_ms": imports}
        print(f"\n{tree} ({python})")
        for measure, s in found.items():
            print(f"  {measure:<24} {s['median']:.3f} [{s['min']:.3f}-{s['max']:.3f}]  CPU {s['cpu_median']:.3f}")
        for argv, modules in heavy.items():
            print(f"  tokenmock {argv:<14} loads: {', '.join(modules) or 'none of ' + '/'.join(HEAVY[:4]) + '...'}")
        print("  import tokenmock.cli, heaviest: " + ", ".join(f"{n} {ms:.0f} ms" for n, ms in imports))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / time.strftime("startup-%Y%m%d-%H%M%S.json")
    out.write_text(json.dumps(report, indent=2))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
