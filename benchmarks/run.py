"""tokenmock's benchmark: the mock as `tokenmock serve` runs it, its WSGI ceiling, and its peers, under wrk.

    python benchmarks/run.py                      # the mock and the bare-WSGI ceiling (Python + wrk only)
    python benchmarks/run.py --peers --stacks     # + WireMock, Prism, oauth2-mock-server; serving stacks

Every target gets a short warm-up, then `--duration` seconds of wrk (`-t2 -c32` by default) on loopback,
`--rounds` times; the medians are printed (req/s, p50, p99, RSS of the server's process tree). A soak
sends 150k ClickView token requests and reads the mock's RSS afterwards. Servers are started and stopped
by this script (by PID); everything is bounded in time. Results are written to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS = HERE / ".peers"
RESULTS = HERE / "results"
PEER_PACKAGES = ("wiremock@3", "@stoplight/prism-cli@5", "oauth2-mock-server@8")

FORM = "application/x-www-form-urlencoded"
CV_FORM = "grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret&scope=smartembed.viewkey"
V10_JSON = '{"grant_type":"client_credentials","scope":"all","client_id":"demo-client","client_secret":"demo-secret"}'
DIVE_JSON = json.dumps(
    {"username": "demo-user", "password": hashlib.md5(b"demo-password").hexdigest()},  # noqa: S324 - Dive's scheme
    separators=(",", ":"),
)
AMINO_JSON = '{"username":"demo@example.com","password":"demo-password"}'


def _basic(user: str, password: str | None = None) -> str:
    raw = user if password is None else f"{user}:{password}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


@dataclass(frozen=True)
class Target:
    """One request, repeated by wrk."""

    name: str
    method: str
    path: str
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)


MOCK_TARGETS = (
    Target("junctiontv token", "POST", "/junctiontv/ums/2.0/oauth/", "",
           {"Authorization": _basic("demo-client", "demo-secret"), "Content-Type": FORM}),
    Target("clickview token", "POST", "/clickview/connect/token", CV_FORM, {"Content-Type": FORM}),
    Target("vision10 token (RS256)", "POST", "/vision10/v1/api/oauth/token", V10_JSON,
           {"Content-Type": "application/json"}),
    Target("divetv token", "POST", "/divetv/v1/token?grant_type=device_credentials", DIVE_JSON,
           {"Authorization": _basic("demo-client-key"), "Content-Type": "application/json"}),
    Target("aminotv login", "POST", "/aminotv/auth/login", AMINO_JSON, {"Content-Type": "application/vnd.api+json"}),
    # The protected resource: its bearer token is fetched from the mock before the run.
    Target("clickview resource", "GET", "/clickview/api/v1/example"),
)
CEILING_TARGET = Target("bare WSGI (static token)", "POST", "/connect/token", CV_FORM, {"Content-Type": FORM})
SOAK_TARGET = MOCK_TARGETS[1]


# ---------------------------------------------------------------------------------------------- wrk

LUA = """
wrk.method = [==[{method}]==]
wrk.body = [==[{body}]==]
{headers}
local limit = {limit}
local count = 0
{response}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "\\nRESULT {{\\"requests\\":%d,\\"duration_us\\":%d,\\"p50_us\\":%d,\\"p99_us\\":%d,\\"errors\\":%d,\\"non2xx\\":%d}}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""
# Only the soak counts responses (a response() callback costs wrk time: it parses headers into Lua).
LUA_COUNTING = """
function response(status, headers, body)
  count = count + 1
  if limit > 0 and count >= limit then wrk.thread:stop() end
end
"""


def ensure_wrk() -> str:
    """wrk's path; installs Debian's package when missing and allowed (root with apt-get), else explains."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: installing Debian's wrk (apt-get install -y wrk)", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False)
        found = shutil.which("wrk")
        if found:
            return found
    sys.exit("wrk is required: `sudo apt-get install wrk` (Debian/Ubuntu) or `brew install wrk` (macOS)")


def run_wrk(base: str, target: Target, args: argparse.Namespace, *, duration: float,
            limit: int = 0, token: str | None = None) -> dict[str, Any]:
    """One wrk run; returns requests, req/s, p50/p99 in ms, error counts."""
    headers = dict(target.headers)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    lines = "\n".join(f"wrk.headers[ [==[{k}]==] ] = [==[{v}]==]" for k, v in headers.items())
    per_thread = -(-limit // args.threads) if limit else 0
    script = LUA.format(method=target.method, body=target.body, headers=lines, limit=per_thread,
                        response=LUA_COUNTING if limit else "")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        command = [args.wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{max(1, round(duration))}s",
                   "--timeout", "5s", "-s", handle.name, base + target.path]
        done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=False)
    finally:
        os.unlink(handle.name)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            data = json.loads(line[len("RESULT "):])
            seconds = data["duration_us"] / 1e6
            return {
                "requests": data["requests"],
                "rps": data["requests"] / seconds if seconds else 0.0,
                "p50_ms": data["p50_us"] / 1000,
                "p99_ms": data["p99_us"] / 1000,
                "errors": data["errors"],
                "non2xx": data["non2xx"],
            }
    raise RuntimeError(f"wrk failed on {target.name}: {done.stdout[-500:]} {done.stderr[-500:]}")


# ------------------------------------------------------------------------------------------ servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    """Every descendant of `pid` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        found.extend(kids)
        todo.extend(kids)
    return found


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB (shared pages counted per process)."""
    total = 0
    for each in (pid, *_children(pid)):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


@dataclass
class Server:
    """A server process this script started, with its address and start-up time."""

    name: str
    process: subprocess.Popen[bytes]
    base: str
    startup_s: float
    log: Path
    served: int = 0

    def rss(self) -> float:
        return rss_mb(self.process.pid)

    def stop(self) -> None:
        """SIGTERM the process we started (gunicorn stops its own workers), SIGKILL what is left."""
        if self.process.poll() is None:
            kids = _children(self.process.pid)
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
            for pid in kids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _ready(port: int, probe: tuple[str, str, str, dict[str, str]]) -> bool:
    method, path, body, headers = probe
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request(method, path, body=body or None, headers=headers)
        status = conn.getresponse().status
        conn.close()
        return status < 500
    except OSError:
        return False


@contextlib.contextmanager
def started(name: str, command: list[str], port: int, *, probe: tuple[str, str, str, dict[str, str]] = ("GET", "/", "", {}),
            cwd: Path = ROOT, env: dict[str, str] | None = None, timeout: float = 60) -> Iterator[Server]:
    """Start a server, wait until it answers (that wait is its start-up time), stop it afterwards."""
    RESULTS.mkdir(exist_ok=True)
    log = RESULTS / f"{name.split()[0].lower()}-{port}.log"
    began = time.perf_counter()
    with log.open("wb") as sink:
        process = subprocess.Popen(command, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})})
    server = Server(name, process, f"http://127.0.0.1:{port}", 0.0, log)
    try:
        while not _ready(port, probe):
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited: {log.read_text(errors='replace')[-800:]}")
            if time.perf_counter() - began > timeout:
                raise RuntimeError(f"{name} did not answer within {timeout:.0f}s")
            time.sleep(0.005)
        server.startup_s = time.perf_counter() - began
        yield server
    finally:
        server.stop()


def python() -> str:
    return sys.executable


def mock_command(port: int, args: argparse.Namespace) -> list[str]:
    command = [python(), "-m", "tokenmock", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if args.workers:
        command += ["--workers", str(args.workers)]
    if args.serve_threads:
        command += ["--threads", str(args.serve_threads)]
    return command


def pyenv() -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}


def fetch_token(base: str) -> str:
    """A ClickView access token from the running mock, for the protected-resource target."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("POST", "/clickview/connect/token", body=CV_FORM, headers={"Content-Type": FORM})
    payload = json.loads(conn.getresponse().read())
    conn.close()
    return str(payload["access_token"])


# ---------------------------------------------------------------------------------------- measuring


def measure(server: Server, target: Target, args: argparse.Namespace, token: str | None = None) -> dict[str, Any]:
    """Warm up, then `rounds` runs; the median of each number, plus the server's RSS afterwards."""
    if args.warmup:
        warm = run_wrk(server.base, target, args, duration=args.warmup, token=token)
        server.served += warm["requests"]
    runs = []
    for _ in range(args.rounds):
        runs.append(run_wrk(server.base, target, args, duration=args.duration, token=token))
        server.served += runs[-1]["requests"]
    row = {
        "server": server.name,
        "target": target.name,
        "rps": statistics.median(r["rps"] for r in runs),
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "non2xx": sum(r["non2xx"] for r in runs),
        "rss_mb": server.rss(),
        "served": server.served,
        "rounds": [round(r["rps"]) for r in runs],
    }
    flag = f"  !! {row['non2xx']} non-2xx, {row['errors']} socket errors" if row["non2xx"] or row["errors"] else ""
    print(f"  {server.name:<40} {target.name:<26} {row['rps']:>9,.0f} req/s  p50 {row['p50_ms']:6.2f} ms  "
          f"p99 {row['p99_ms']:7.2f} ms  RSS {row['rss_mb']:7.1f} MB  {row['rounds']}{flag}", flush=True)
    return row


def bench_mock(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    port = free_port()
    print(f"tokenmock serve ({' '.join(mock_command(port, args)[3:])})", flush=True)
    with started("tokenmock", mock_command(port, args), port, env=pyenv()) as server:
        extra = {"startup_s": server.startup_s, "ready_line": _ready_line(server.log)}
        print(f"  start-up: first answer {server.startup_s:.2f}s after spawn; {extra['ready_line']}", flush=True)
        token = fetch_token(server.base)
        for target in MOCK_TARGETS:
            if args.only and not any(word in target.name for word in args.only):
                continue
            rows.append(measure(server, target, args, token if target.method == "GET" else None))
        if args.soak:
            started_at = time.perf_counter()
            soak = run_wrk(server.base, SOAK_TARGET, args, duration=args.soak_limit, limit=args.soak)
            server.served += soak["requests"]
            extra["soak"] = {
                "requests": soak["requests"],
                "served_total": server.served,
                "seconds": time.perf_counter() - started_at,
                "rss_mb": server.rss(),
                "rps": soak["rps"],
                "p99_ms": soak["p99_ms"],
                "non2xx": soak["non2xx"],
            }
            print(f"  soak: {soak['requests']:,} ClickView token requests ({server.served:,} served in all), "
                  f"RSS {extra['soak']['rss_mb']:.1f} MB", flush=True)
    return rows, extra


def _ready_line(log: Path) -> str:
    for line in log.read_text(errors="replace").splitlines():
        if "ready in" in line:
            return line.strip()
    return "(no ready line)"


def bench_ceiling(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    command = [python(), str(HERE / "bare.py"), "--port", str(port)]
    if args.workers:
        command += ["--workers", str(args.workers)]
    if args.serve_threads:
        command += ["--threads", str(args.serve_threads)]
    with started("bare WSGI, same server", command, port, env=pyenv()) as server:
        return measure(server, CEILING_TARGET, args)


# -------------------------------------------------------------------------------------------- peers


def ensure_peers() -> Path:
    """Install the peers under benchmarks/.peers (git-ignored) with npm, once."""
    marker = PEERS / "node_modules" / "wiremock" / "package.json"
    if not marker.exists():
        if not shutil.which("npm"):
            sys.exit("--peers needs node and npm (WireMock also needs Java 11+)")
        PEERS.mkdir(exist_ok=True)
        print(f"installing peers into {PEERS} (npm install {' '.join(PEER_PACKAGES)})", flush=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(PEERS), *PEER_PACKAGES],
                       check=True, timeout=600)
    return PEERS / "node_modules"


def _version(modules: Path, package: str) -> str:
    return str(json.loads((modules / package / "package.json").read_text())["version"])


def bench_peers(args: argparse.Namespace) -> list[dict[str, Any]]:
    modules = ensure_peers()
    rows: list[dict[str, Any]] = []
    token_target = Target("static token (ClickView request)", "POST", "/connect/token", CV_FORM, {"Content-Type": FORM})

    jar = next((modules / "wiremock").rglob("wiremock-standalone-*.jar"))
    with tempfile.TemporaryDirectory() as root:
        (Path(root) / "mappings").mkdir()
        stub = {
            "request": {"method": "POST", "url": "/connect/token"},
            "response": {
                "status": 200,
                "headers": {"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"},
                "body": '{"access_token":"static-token","token_type":"Bearer","expires_in":3600,'
                        '"scope":"smartembed.viewkey"}',
            },
        }
        (Path(root) / "mappings" / "token.json").write_text(json.dumps(stub))
        port = free_port()
        name = f"WireMock {_version(modules, 'wiremock')} static stub"
        command = ["java", "-jar", str(jar), "--port", str(port), "--bind-address", "127.0.0.1",
                   "--root-dir", root, "--disable-banner"]
        with started(name, command, port, probe=("GET", "/__admin/mappings", "", {})) as server:
            rows.append({**measure(server, token_target, args), "startup_s": server.startup_s})

    port = free_port()
    name = f"Prism {_version(modules, '@stoplight/prism-cli')} static example"
    command = [str(modules / ".bin" / "prism"), "mock", "-h", "127.0.0.1", "-p", str(port),
               str(ROOT / "openapi" / "clickview.yaml")]
    with started(name, command, port, probe=("POST", "/connect/token", CV_FORM, {"Content-Type": FORM})) as server:
        rows.append({**measure(server, token_target, args), "startup_s": server.startup_s})

    port = free_port()
    name = f"oauth2-mock-server {_version(modules, 'oauth2-mock-server')} RS256"
    command = ["node", str(modules / ".bin" / "oauth2-mock-server"), "-a", "127.0.0.1", "-p", str(port)]
    rs256 = Target("RS256 JWT per request", "POST", "/token",
                   "grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret&scope=all",
                   {"Content-Type": FORM})
    with started(name, command, port, probe=("GET", "/.well-known/openid-configuration", "", {})) as server:
        rows.append({**measure(server, rs256, args), "startup_s": server.startup_s})
    return rows


# ------------------------------------------------------------------------------------------- stacks

STACKS = (
    # (label, worker class, workers, threads, store: None = memory, "sqlite" = a shared SQLite file)
    ("gunicorn sync, 2 workers (no keep-alive)", "sync", 2, 1, "sqlite"),
    ("gunicorn gthread, 1 worker x 8 threads", "gthread", 1, 8, None),
    ("gunicorn gthread, 2 workers x 8 threads", "gthread", 2, 8, "sqlite"),
    ("gunicorn gthread, 3 workers x 8 threads", "gthread", 3, 8, "sqlite"),
)


def bench_stacks(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for label, worker_class, workers, threads, store in STACKS:
        for app in ("mock", "bare"):
            port = free_port()
            command = [python(), str(HERE / "stack.py"), "--port", str(port), "--worker-class", worker_class,
                       "--workers", str(workers), "--threads", str(threads), "--app", app]
            with contextlib.ExitStack() as stack:
                if app == "mock" and store == "sqlite":
                    scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="tokenmock-bench-"))
                    command += ["--store", f"sqlite://{scratch}/state.db"]
                target = SOAK_TARGET if app == "mock" else CEILING_TARGET
                server = stack.enter_context(started(f"{label} [{app}]", command, port, env=pyenv()))
                rows.append({**measure(server, target, args), "stack": label, "app": app})
    return rows


# ------------------------------------------------------------------------------------------- report


def _find(rows: list[dict[str, Any]], server: str = "", target: str = "") -> dict[str, Any] | None:
    return next((r for r in rows if server in r["server"] and target in r["target"]), None)


def report(results: dict[str, Any]) -> str:
    """The Markdown tables for benchmarks/README.md."""
    lines = [f"Run {results['when']} on {results['machine']}; wrk -t{results['wrk_threads']} "
             f"-c{results['connections']}, {results['duration']} s x {results['rounds']} round(s) per target "
             "(medians), load generator on the same cores.", ""]
    lines += ["| server | target | req/s | p50 ms | p99 ms | RSS MB (requests served) |", "| --- | --- | --- | --- | --- | --- |"]
    for row in results["mock"] + [results["ceiling"]] + results.get("peers", []):
        lines.append(f"| {row['server']} | {row['target']} | {row['rps']:,.0f} | {row['p50_ms']:.2f} | "
                     f"{row['p99_ms']:.2f} | {row['rss_mb']:.0f} ({row['served']:,}) |")
    ceiling = results["ceiling"]["rps"]
    lines += ["", "| ratio | value |", "| --- | --- |"]
    for row in results["mock"]:
        lines.append(f"| {row['target']} / bare WSGI ceiling | {row['rps'] / ceiling:.2f} |")
    goals = goal_lines(results)
    if goals:
        lines += ["", "| goal | measured | met |", "| --- | --- | --- |", *goals]
    if results.get("stacks"):
        lines += ["", "| serving stack | mock: ClickView token req/s | p99 ms | bare WSGI req/s | mock / bare |",
                  "| --- | --- | --- | --- | --- |"]
        for label, *_ in STACKS:
            mock = next((r for r in results["stacks"] if r["stack"] == label and r["app"] == "mock"), None)
            bare = next((r for r in results["stacks"] if r["stack"] == label and r["app"] == "bare"), None)
            if mock and bare:
                lines.append(f"| {label} | {mock['rps']:,.0f} | {mock['p99_ms']:.2f} | {bare['rps']:,.0f} | "
                             f"{mock['rps'] / bare['rps']:.2f} |")
    return "\n".join(lines) + "\n"


def goal_lines(results: dict[str, Any]) -> list[str]:
    mock, peers = results["mock"], results.get("peers", [])
    lines = []
    clickview = _find(mock, target="clickview token")
    vision10 = _find(mock, target="vision10")
    wiremock = _find(peers, server="WireMock")
    oauth2 = _find(peers, server="oauth2-mock-server")
    if clickview and wiremock:
        ok = clickview["rps"] >= wiremock["rps"]
        lines.append(f"| ClickView token req/s >= WireMock static stub | {clickview['rps']:,.0f} vs "
                     f"{wiremock['rps']:,.0f} ({clickview['rps'] / wiremock['rps']:.2f}x) | {'yes' if ok else 'no'} |")
    if clickview:
        ok = clickview["p99_ms"] <= 10
        lines.append(f"| ClickView p99 <= 10 ms | {clickview['p99_ms']:.2f} ms | {'yes' if ok else 'no'} |")
    soak = results.get("soak")
    if soak:
        ok = soak["rss_mb"] <= 150
        lines.append(f"| RSS <= 150 MB after 150k requests | {soak['rss_mb']:.0f} MB after "
                     f"{soak['served_total']:,} | {'yes' if ok else 'no'} |")
    if vision10 and oauth2:
        ok = vision10["rps"] >= oauth2["rps"]
        lines.append(f"| Vision10 (RS256) req/s >= oauth2-mock-server | {vision10['rps']:,.0f} vs "
                     f"{oauth2['rps']:,.0f} ({vision10['rps'] / oauth2['rps']:.2f}x) | {'yes' if ok else 'no'} |")
    startup = results.get("startup_s")
    if startup is not None:
        lines.append(f"| start-up < 0.5 s | {startup:.2f} s to the first answer ({results['ready_line']}) | "
                     f"{'yes' if startup < 0.5 else 'no'} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10, help="seconds of load per target and round")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of unmeasured load before each target")
    parser.add_argument("--rounds", type=int, default=1, help="measured runs per target (medians are reported)")
    parser.add_argument("--connections", type=int, default=32, help="wrk -c")
    parser.add_argument("--threads", type=int, default=2, help="wrk -t")
    parser.add_argument("--workers", type=int, help="tokenmock serve --workers (default: serve's own)")
    parser.add_argument("--serve-threads", type=int, help="tokenmock serve --threads (default: serve's own)")
    parser.add_argument("--soak", type=int, default=150_000, help="ClickView requests before reading RSS (0: none)")
    parser.add_argument("--soak-limit", type=float, default=90, help="at most this many seconds of soak")
    parser.add_argument("--peers", action="store_true", help="also WireMock, Prism, oauth2-mock-server (npm, java)")
    parser.add_argument("--stacks", action="store_true", help="also compare gunicorn worker classes and counts")
    parser.add_argument("--only", nargs="*", help="mock targets whose name contains one of these words")
    args = parser.parse_args()
    args.wrk = ensure_wrk()

    began = time.time()
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start",
        "wrk_threads": args.threads,
        "connections": args.connections,
        "duration": args.duration,
        "rounds": args.rounds,
    }
    results["mock"], extra = bench_mock(args)
    results.update(extra)
    results["ceiling"] = bench_ceiling(args)
    if args.peers:
        results["peers"] = bench_peers(args)
    if args.stacks:
        results["stacks"] = bench_stacks(args)
    results["seconds"] = time.time() - began

    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"{stamp}.json").write_text(json.dumps(results, indent=2))
    table = report(results)
    (RESULTS / f"{stamp}.md").write_text(table)
    print()
    print(table)
    print(f"({results['seconds']:.0f} s; written to {RESULTS / stamp}.json and .md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
