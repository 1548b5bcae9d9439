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
import re
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
    {"username": "demo-user", "password": hashlib.md5(b"demo-password").hexdigest()},
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
    "\\nRESULT {{\\"requests\\":%d,\\"duration_us\\":%d,\\"p50_us\\":%d,\\"p99_us\\":%d,"
    .. "\\"errors\\":%d,\\"non2xx\\":%d}}\\n",
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
            limit: int = 0, token: str | None = None, connections: int | None = None) -> dict[str, Any]:
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
        conns = connections or args.connections
        command = [args.wrk, f"-t{min(args.threads, conns)}", f"-c{conns}", f"-d{max(1, round(duration))}s",
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


PORT_RANGE: list[int] = []  # --ports: take ports from this range instead of the kernel's ephemeral ones


def free_port() -> int:
    while PORT_RANGE:
        port = PORT_RANGE.pop(0)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, in seconds (from /proc; 0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def pss_mb(pid: int) -> float:
    """Proportional set size of a process tree in MB: pages shared by forked workers counted once."""
    total = 0
    for each in (pid, *_children(pid)):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{each}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
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

    def cpu(self) -> dict[int, float]:
        """CPU seconds so far of each process of the server's tree (master and workers)."""
        return {pid: cpu_seconds(pid) for pid in (self.process.pid, *_children(self.process.pid))}

    def pss(self) -> float:
        return pss_mb(self.process.pid)

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


Probe = tuple[str, str, str, dict[str, str]]


def _ready(port: int, probe: Probe) -> bool:
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
def started(name: str, command: list[str], port: int, *, probe: Probe = ("GET", "/", "", {}),
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


@dataclass
class Job:
    """A target on a server at one concurrency, measured over interleaved rounds."""

    server: Server
    target: Target
    token: str | None = None
    connections: int | None = None  # None: --connections
    runs: list[dict[str, Any]] = field(default_factory=list)


def _measured_run(job: Job, args: argparse.Namespace) -> dict[str, Any]:
    """One wrk run, with the server's CPU time over it (utime + stime of its whole process tree) and
    how that CPU split over its worker processes (the master excluded)."""
    before, load = job.server.cpu(), os.getloadavg()[0]
    run = run_wrk(job.server.base, job.target, args, duration=args.duration, token=job.token,
                  connections=job.connections)
    after = job.server.cpu()
    spent = {pid: after[pid] - before.get(pid, 0.0) for pid in after}
    workers = [spent[pid] for pid in spent if pid != job.server.process.pid]
    run["cpu_us"] = sum(spent.values()) / run["requests"] * 1e6 if run["requests"] else 0.0
    run["worker_cpu"] = [round(w, 2) for w in workers]
    # The idlest worker's share of the workers' CPU: 0.5 is an even split over two, 0 an idle core.
    run["idlest_share"] = min(workers) / sum(workers) if len(workers) > 1 and sum(workers) else None
    run["load"] = load
    return run


def measure(jobs: list[Job], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Warm each job up, then `rounds` rounds over all jobs in turn (so a burst of load elsewhere on the
    machine hits every server alike); the median of each number, and memory once all is done."""
    for job in jobs:
        if args.warmup:
            job.server.served += run_wrk(job.server.base, job.target, args, duration=args.warmup,
                                         token=job.token, connections=job.connections)["requests"]
    for round_no in range(args.rounds):
        for job in jobs:
            job.runs.append(_measured_run(job, args))
            job.server.served += job.runs[-1]["requests"]
            if args.rounds > 1 and round_no == 0 and job is jobs[0]:
                print(f"  (round 1 of {args.rounds} running...)", flush=True)
    rows = []
    for job in jobs:
        runs = job.runs
        shares = [r["idlest_share"] for r in runs if r["idlest_share"] is not None]
        row = {
            "server": job.server.name,
            "target": job.target.name,
            "connections": job.connections or args.connections,
            "rps": statistics.median(r["rps"] for r in runs),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "cpu_us": statistics.median(r["cpu_us"] for r in runs),
            "idlest_share_min": min(shares) if shares else None,
            "load": statistics.median(r["load"] for r in runs),
            "errors": sum(r["errors"] for r in runs),
            "non2xx": sum(r["non2xx"] for r in runs),
            "rss_mb": job.server.rss(),
            "pss_mb": job.server.pss(),
            "served": job.server.served,
            "rounds": [round(r["rps"]) for r in runs],
            "rounds_cpu_us": [round(r["cpu_us"]) for r in runs],
            "rounds_worker_cpu": [r["worker_cpu"] for r in runs],
            "startup_s": job.server.startup_s,
        }
        problems = ""
        if row["non2xx"] or row["errors"]:
            problems = f"  !! {row['non2xx']} non-2xx, {row['errors']} socket errors"
        share = f"  idlest worker {row['idlest_share_min']:.0%}" if row["idlest_share_min"] is not None else ""
        print(f"  {job.server.name:<42} {job.target.name:<26} c{row['connections']:<3} {row['rps']:>8,.0f} req/s"
              f"  p50 {row['p50_ms']:6.2f}  p99 {row['p99_ms']:7.2f} ms  CPU {row['cpu_us']:5.0f} us/req{share}"
              f"  RSS {row['rss_mb']:6.1f} MB  {row['rounds']} {row['rounds_cpu_us']}{problems}", flush=True)
        rows.append(row)
    return rows


def start_mock(stack: contextlib.ExitStack, args: argparse.Namespace) -> Server:
    port = free_port()
    print(f"starting tokenmock serve ({' '.join(mock_command(port, args)[3:])})", flush=True)
    server = stack.enter_context(started("tokenmock", mock_command(port, args), port, env=pyenv()))
    print(f"  start-up: first answer {server.startup_s:.2f}s after spawn; {_ready_line(server.log)}", flush=True)
    return server


def serving_mode(log: Path, args: argparse.Namespace) -> tuple[int | None, int | None]:
    """(workers, threads) the mock runs with: as asked, else as `tokenmock serve` reports them."""
    found = re.search(r"(\d+) worker\(s\) x (\d+) threads", log.read_text(errors="replace"))
    workers = args.workers or (int(found.group(1)) if found else None)
    threads = args.serve_threads or (int(found.group(2)) if found else None)
    return workers, threads


def start_ceiling(stack: contextlib.ExitStack, args: argparse.Namespace, mock: Server) -> Server:
    """The bare WSGI callable through `tokenmock.mockserver.serving.server.serve`, with the mock's workers, threads."""
    port = free_port()
    workers, threads = serving_mode(mock.log, args)
    command = [python(), str(HERE / "bare.py"), "--port", str(port)]
    if workers:
        command += ["--workers", str(workers)]
    if threads:
        command += ["--threads", str(threads)]
    label = "bare WSGI, same server" + (f" ({workers} x {threads})" if workers and threads else "")
    return stack.enter_context(started(label, command, port, env=pyenv()))


def soak(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    """`--soak` ClickView token requests (bounded by `--soak-limit` seconds), then the server's memory."""
    began = time.perf_counter()
    result = run_wrk(server.base, SOAK_TARGET, args, duration=args.soak_limit, limit=args.soak)
    server.served += result["requests"]
    summary = {
        "requests": result["requests"],
        "served_total": server.served,
        "seconds": time.perf_counter() - began,
        "rss_mb": server.rss(),
        "pss_mb": server.pss(),
        "rps": result["rps"],
        "p99_ms": result["p99_ms"],
        "non2xx": result["non2xx"],
    }
    print(f"  soak: {result['requests']:,} ClickView token requests ({server.served:,} served in all), "
          f"RSS {summary['rss_mb']:.1f} MB, PSS {summary['pss_mb']:.1f} MB", flush=True)
    return summary


def _ready_line(log: Path) -> str:
    for line in log.read_text(errors="replace").splitlines():
        if "ready in" in line:
            return line.strip()
    return "(no ready line)"


def bench_cpu(args: argparse.Namespace) -> list[dict[str, Any]]:
    """CPU time per request inside the WSGI app (no server, no network): the number load on the machine
    disturbs least. Default settings but the access log off; tokens from one app instance."""
    code = r"""
import io, json, sys, time
from werkzeug.test import EnvironBuilder
from tokenmock.mockserver import create_app
targets = json.loads(sys.argv[1])
app = create_app({"access_log": False})
def environ_of(t, token):
    headers = dict(t["headers"])
    if token:
        headers["Authorization"] = "Bearer " + token
    path, _, query = t["path"].partition("?")
    b = EnvironBuilder(path=path, query_string=query, method=t["method"], data=t["body"].encode(), headers=headers)
    env = b.get_environ()
    return env, env["wsgi.input"].read()
def call(env, body):
    e = dict(env); e["wsgi.input"] = io.BytesIO(body); out = []
    b"".join(app(e, lambda status, headers, exc=None: out.append(status)))
    return out[0]
form = "application/x-www-form-urlencoded"
cv = "grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret&scope=smartembed.viewkey"
env, body = environ_of({"path": "/clickview/connect/token", "method": "POST", "body": cv,
                        "headers": {"Content-Type": form}}, None)
e = dict(env); e["wsgi.input"] = io.BytesIO(body)
token = json.loads(b"".join(app(e, lambda *a: None)))["access_token"]
for t in targets:
    env, body = environ_of(t, token if t["method"] == "GET" else None)
    status = call(env, body)
    n = 300 if "RS256" in t["name"] else 3000
    for _ in range(n // 10):
        call(env, body)
    began = time.process_time()
    for _ in range(n):
        call(env, body)
    print(json.dumps({"target": t["name"], "cpu_us": (time.process_time() - began) / n * 1e6, "status": status}))
"""
    targets = [{"name": t.name, "method": t.method, "path": t.path, "body": t.body, "headers": t.headers}
               for t in MOCK_TARGETS]
    done = subprocess.run([python(), "-c", code, json.dumps(targets)], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **pyenv()}, timeout=300, check=False)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    for row in rows:
        print(f"  in-process CPU {row['target']:<26} {row['cpu_us']:7.1f} us/request  ({row['status']})", flush=True)
    if not rows:
        print(f"  in-process measurement failed: {done.stderr[-800:]}", flush=True)
    return rows


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


def _start_peer(stack: contextlib.ExitStack, jobs: list[Job], name: str, command: list[str], port: int,
                probe: Probe, target: Target) -> None:
    """Start one peer and queue its target; a peer that cannot start (no java, say) is left out."""
    try:
        jobs.append(Job(stack.enter_context(started(name, command, port, probe=probe)), target))
    except (OSError, RuntimeError) as exc:
        print(f"  {name} left out: {exc}", flush=True)


def start_peers(stack: contextlib.ExitStack) -> list[Job]:
    """WireMock (static stub), Prism (the ClickView contract's example), oauth2-mock-server (RS256 per token)."""
    modules = ensure_peers()
    jobs: list[Job] = []
    token_target = Target("static token (ClickView request)", "POST", "/connect/token", CV_FORM, {"Content-Type": FORM})

    jar = next((modules / "wiremock").rglob("wiremock-standalone-*.jar"))
    root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tokenmock-wiremock-")))
    (root / "mappings").mkdir()
    stub = {
        "request": {"method": "POST", "url": "/connect/token"},
        "response": {
            "status": 200,
            "headers": {"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"},
            "body": '{"access_token":"static-token","token_type":"Bearer","expires_in":3600,'
                    '"scope":"smartembed.viewkey"}',
        },
    }
    (root / "mappings" / "token.json").write_text(json.dumps(stub))
    port = free_port()
    name = f"WireMock {_version(modules, 'wiremock')} static stub"
    command = ["java", "-jar", str(jar), "--port", str(port), "--bind-address", "127.0.0.1",
               "--root-dir", str(root), "--disable-banner"]
    _start_peer(stack, jobs, name, command, port, ("GET", "/__admin/mappings", "", {}), token_target)

    port = free_port()
    name = f"Prism {_version(modules, '@stoplight/prism-cli')} static example"
    command = [str(modules / ".bin" / "prism"), "mock", "-h", "127.0.0.1", "-p", str(port),
               str(ROOT / "openapi" / "clickview.yaml")]
    probe = ("POST", "/connect/token", CV_FORM, {"Content-Type": FORM})
    _start_peer(stack, jobs, name, command, port, probe, token_target)

    port = free_port()
    name = f"oauth2-mock-server {_version(modules, 'oauth2-mock-server')} RS256"
    command = ["node", str(modules / ".bin" / "oauth2-mock-server"), "-a", "127.0.0.1", "-p", str(port)]
    rs256 = Target("RS256 JWT per request", "POST", "/token",
                   "grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret&scope=all",
                   {"Content-Type": FORM})
    _start_peer(stack, jobs, name, command, port, ("GET", "/.well-known/openid-configuration", "", {}), rs256)
    for job in jobs:
        print(f"  {job.server.name}: first answer {job.server.startup_s:.2f}s after spawn", flush=True)
    return jobs


# ------------------------------------------------------------------------------------------- stacks

STACKS: tuple[tuple[str, str, int, int, str | None, dict[str, str]], ...] = (
    # (label, worker class, workers, threads, store: None = memory | "sqlite" = a shared SQLite file, env)
    ("gunicorn sync, 2 workers, SQLite store (no keep-alive)", "sync", 2, 1, "sqlite", {}),
    ("gunicorn gthread, 1 worker x 8 threads, memory store", "gthread", 1, 8, None, {}),
    ("gunicorn gthread, 2 workers x 8 threads, SQLite store", "gthread", 2, 8, "sqlite", {}),
    ("granian, 2 workers x 1 thread, SQLite store", "granian", 2, 1, "sqlite", {}),
    ("granian, 1 worker x 4 threads, memory store", "granian", 1, 4, None, {}),
    ("granian, 1 worker x 1 thread, memory store", "granian", 1, 1, None, {}),
    ("granian, 1 worker x 1 thread, memory store, access log off", "granian", 1, 1, None,
     {"TOKENMOCK__ACCESS_LOG": "false"}),
)
GRANIAN = PEERS / "py"


def ensure_granian() -> bool:
    """granian (a Rust HTTP server, for the comparison only) under benchmarks/.peers/py, installed with pip."""
    if not (GRANIAN / "granian").exists():
        print(f"installing granian into {GRANIAN} (pip install --target)", flush=True)
        done = subprocess.run([python(), "-m", "pip", "install", "-q", "--target", str(GRANIAN), "granian"],
                              check=False, timeout=600)
        if done.returncode != 0:
            print("  granian could not be installed: its rows are left out", flush=True)
            return False
    return True


def bench_stacks(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each serving stack with the mock and with the bare ceiling, both up at once and measured in turn."""
    rows: list[dict[str, Any]] = []
    granian = ensure_granian()
    for label, worker_class, workers, threads, store, env in STACKS:
        if worker_class == "granian" and not granian:
            continue
        with contextlib.ExitStack() as stack:
            jobs = []
            for app in ("mock", "bare"):
                port = free_port()
                command = [python(), str(HERE / "stack.py"), "--port", str(port), "--worker-class", worker_class,
                           "--workers", str(workers), "--threads", str(threads), "--app", app]
                if app == "mock" and store == "sqlite":
                    scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="tokenmock-bench-"))
                    command += ["--store", f"sqlite://{scratch}/state.db"]
                server = stack.enter_context(started(f"{label} [{app}]", command, port, env={**pyenv(), **env}))
                jobs.append(Job(server, SOAK_TARGET if app == "mock" else CEILING_TARGET))
            for row, app in zip(measure(jobs, args), ("mock", "bare"), strict=True):
                rows.append({**row, "stack": label, "app": app})
    return rows


# ------------------------------------------------------------------------------------------- report


def _row_line(row: dict[str, Any]) -> str:
    share = f"{row['idlest_share_min']:.0%}" if row.get("idlest_share_min") is not None else "-"
    return (f"| {row['server']} | {row['target']} | {row['connections']} | {row['rps']:,.0f} | {row['p50_ms']:.2f} | "
            f"{row['p99_ms']:.2f} | **{row['cpu_us']:,.0f}** | {share} | {row['rss_mb']:.0f} / {row['pss_mb']:.0f} "
            f"({row['served']:,}) |")


def report(results: dict[str, Any]) -> str:
    """The Markdown tables for benchmarks/README.md."""
    loads = [r["load"] for r in results["rows"]]
    lines = [f"Run {results['when']} on {results['machine']}; load average during the runs: median "
             f"{statistics.median(loads):.1f}, {min(loads):.1f}-{max(loads):.1f}. wrk -t{results['wrk_threads']}, "
             f"{results['duration']} s x {results['rounds']} interleaved round(s) per row (medians), load generator "
             "on the same cores. Server CPU = utime + stime of the server's whole process tree over the run / "
             "requests answered.", ""]
    lines += ["| server | target | conns | req/s | p50 ms | p99 ms | server CPU us/request | idlest worker's "
              "share of worker CPU (lowest round) | RSS / PSS MB after the runs (requests served) |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += [_row_line(row) for row in results["rows"]]
    if results.get("cpu"):
        lines += ["", "| in-process CPU per request (WSGI app, no server) | us |", "| --- | --- |"]
        lines += [f"| {row['target']} | {row['cpu_us']:.0f} |" for row in results["cpu"]]
    goals = goal_lines(results)
    if goals:
        lines += ["", "| goal (issue 18) | measured | met |", "| --- | --- | --- |", *goals]
    if results.get("stacks"):
        lines += ["", "| serving stack | mock: ClickView token req/s | p99 ms | RSS / PSS MB (requests) "
                  "| bare WSGI req/s | mock / bare |", "| --- | --- | --- | --- | --- | --- |"]
        for label, *_ in STACKS:
            mock = next((r for r in results["stacks"] if r["stack"] == label and r["app"] == "mock"), None)
            bare = next((r for r in results["stacks"] if r["stack"] == label and r["app"] == "bare"), None)
            if mock and bare:
                lines.append(f"| {label} | {mock['rps']:,.0f} | {mock['p99_ms']:.2f} | {mock['rss_mb']:.0f} / "
                             f"{mock['pss_mb']:.0f} ({mock['served']:,}) | {bare['rps']:,.0f} | "
                             f"{mock['rps'] / bare['rps']:.2f} |")
    return "\n".join(lines) + "\n"


def _pick(results: dict[str, Any], role: str, connections: int | None = None,
          target: str = "") -> dict[str, Any] | None:
    return next((r for r in results["rows"] if r["role"] == role and target in r["target"]
                 and (connections is None or r["connections"] == connections)), None)


def goal_lines(results: dict[str, Any]) -> list[str]:
    """Issue 18's targets against this run's medians."""
    high, low = results["connections"], results["low_connections"]
    lines = []

    def line(goal: str, measured: str, ok: bool) -> None:
        lines.append(f"| {goal} | {measured} | {'yes' if ok else 'no'} |")

    cv, cv_low = _pick(results, "mock", high, "clickview token"), _pick(results, "mock", low, "clickview token")
    before = _pick(results, "baseline", high)
    wiremock = next((r for r in results["rows"] if r["role"] == "peer" and "WireMock" in r["server"]
                     and r["connections"] == high), None)
    if cv:
        line("server CPU per ClickView token request <= 450 us", f"{cv['cpu_us']:,.0f} us (c{high})",
             cv["cpu_us"] <= 450)
    if cv and before:
        ratio = cv["rps"] / before["rps"] if before["rps"] else 0.0
        line(f"req/s at c{high} >= 2x the defaults before this work (same run)",
             f"{cv['rps']:,.0f} vs {before['rps']:,.0f} ({ratio:.2f}x); CPU/request {cv['cpu_us']:,.0f} vs "
             f"{before['cpu_us']:,.0f} us ({before['cpu_us'] / cv['cpu_us']:.2f}x less)", ratio >= 2)
    mock_rows = [r for r in results["rows"] if r["role"] == "mock" and r.get("idlest_share_min") is not None]
    if mock_rows:
        lowest = min(r["idlest_share_min"] for r in mock_rows)
        line("both cores doing work in every run (idlest worker >= 25% of the workers' CPU)",
             f"lowest idlest-worker share over every mock run: {lowest:.0%}", lowest >= 0.25)
    if cv:
        line(f"p99 <= 20 ms at c{high}", f"{cv['p99_ms']:.2f} ms", cv["p99_ms"] <= 20)
    if cv_low:
        line(f"p99 <= 5 ms at c{low}", f"{cv_low['p99_ms']:.2f} ms", cv_low["p99_ms"] <= 5)
    startup = results.get("startup_s")
    if startup is not None:
        line("start-up to the first answer < 0.5 s", f"{startup:.2f} s ({results['ready_line']})", startup < 0.5)
    soak = results.get("soak")
    if soak:
        line("RSS <= 150 MB after 150k requests",
             f"RSS {soak['rss_mb']:.0f} MB (PSS {soak['pss_mb']:.0f}) after {soak['served_total']:,}",
             soak["rss_mb"] <= 150)
    if cv and wiremock:
        line("stretch: server CPU per request <= WireMock's static stub (same run)",
             f"{cv['cpu_us']:,.0f} vs {wiremock['cpu_us']:,.0f} us", cv["cpu_us"] <= wiremock["cpu_us"])
    return lines


def start_baseline(stack: contextlib.ExitStack, args: argparse.Namespace) -> Server | None:
    """`tokenmock serve` with its defaults from another installation (`--baseline-python`): the tree
    before a change, measured in the same run."""
    port = free_port()
    command = [args.baseline_python, "-m", "tokenmock", "serve", "--host", "127.0.0.1", "--port", str(port)]
    try:
        return stack.enter_context(started(f"tokenmock before ({args.baseline_label})", command, port, cwd=Path("/")))
    except (OSError, RuntimeError) as exc:
        print(f"  baseline left out: {exc}", flush=True)
        return None


def start_variant(stack: contextlib.ExitStack, args: argparse.Namespace, extra: str) -> Server:
    """This tree's `tokenmock serve` with extra options (e.g. `--threads 1`), to compare settings."""
    port = free_port()
    command = [*mock_command(port, args), *extra.split()]
    return stack.enter_context(started(f"tokenmock serve {extra}", command, port, env=pyenv()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10, help="seconds of load per target and round")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of unmeasured load before each target")
    parser.add_argument("--rounds", type=int, default=1, help="measured runs per target (medians are reported)")
    parser.add_argument("--connections", type=int, default=32, help="wrk -c")
    parser.add_argument("--low-connections", type=int, default=4, help="wrk -c of the low-concurrency rows")
    parser.add_argument("--threads", type=int, default=2, help="wrk -t")
    parser.add_argument("--workers", type=int, help="tokenmock serve --workers (default: serve's own)")
    parser.add_argument("--serve-threads", type=int, help="tokenmock serve --threads (default: serve's own)")
    parser.add_argument("--soak", type=int, default=150_000, help="ClickView requests before reading RSS (0: none)")
    parser.add_argument("--soak-limit", type=float, default=90, help="at most this many seconds of soak")
    parser.add_argument("--peers", action="store_true", help="also WireMock, Prism, oauth2-mock-server (npm, java)")
    parser.add_argument("--stacks", action="store_true", help="also compare gunicorn worker classes and counts")
    parser.add_argument("--only", nargs="*", help="mock targets whose name contains one of these words")
    parser.add_argument("--baseline-python", help="a Python whose `-m tokenmock serve` is the 'before' (same run)")
    parser.add_argument("--baseline-label", default="baseline", help="how to name the baseline in the tables")
    parser.add_argument("--variant", action="append", default=[], metavar="OPTIONS",
                        help="also this tree's serve with these options, e.g. --variant='--threads 1' (repeatable)")
    parser.add_argument("--ports", help="take the servers' ports from this range, e.g. 26000-26999")
    args = parser.parse_args()
    args.wrk = ensure_wrk()
    if args.ports:
        first, last = (int(x) for x in args.ports.split("-"))
        PORT_RANGE.extend(range(first, last + 1))

    began = time.time()
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start",
        "wrk_threads": args.threads,
        "connections": args.connections,
        "low_connections": args.low_connections,
        "duration": args.duration,
        "rounds": args.rounds,
    }
    low = args.low_connections
    with contextlib.ExitStack() as stack:
        mock = start_mock(stack, args)
        results["startup_s"], results["ready_line"] = mock.startup_s, _ready_line(mock.log)
        token = fetch_token(mock.base)
        roles: list[tuple[str, Job]] = [("mock", Job(mock, t, token if t.method == "GET" else None))
                                        for t in MOCK_TARGETS if not args.only or any(w in t.name for w in args.only)]
        roles.append(("mock", Job(mock, SOAK_TARGET, connections=low)))
        if args.baseline_python:
            before = start_baseline(stack, args)
            if before is not None:
                roles += [("baseline", Job(before, SOAK_TARGET)),
                          ("baseline", Job(before, SOAK_TARGET, connections=low))]
        for extra in args.variant:
            variant = start_variant(stack, args, extra)
            roles += [("variant", Job(variant, SOAK_TARGET)), ("variant", Job(variant, SOAK_TARGET, connections=low))]
        ceiling = start_ceiling(stack, args, mock)
        roles += [("ceiling", Job(ceiling, CEILING_TARGET)), ("ceiling", Job(ceiling, CEILING_TARGET, connections=low))]
        for peer in start_peers(stack) if args.peers else []:
            roles += [("peer", peer), ("peer", Job(peer.server, peer.target, connections=low))]
        rows = measure([job for _, job in roles], args)
        results["rows"] = [{**row, "role": role} for (role, _), row in zip(roles, rows, strict=True)]
        if args.soak:
            results["soak"] = soak(mock, args)
    results["cpu"] = bench_cpu(args)
    if args.stacks:
        results["stacks"] = bench_stacks(args)
    results["seconds"] = time.time() - began
    results["machine"] += f", {os.getloadavg()[0]:.2f} at the end"

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
