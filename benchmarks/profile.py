"""Where a ClickView token request's server CPU goes, at `tokenmock serve` defaults under wrk load.

    pip install py-spy && python benchmarks/profile.py [--duration 8] [--ports 26000-26999]

Starts `tokenmock serve` (defaults), loads it with wrk (-t2 -c32, ClickView token), samples every
thread of every worker with py-spy (threads that are running: py-spy leaves out the idle ones, those
waiting for a lock, the GIL or I/O) and reads the server's CPU time (utime + stime of its process
tree) over the same window. Each sampled stack goes to the first bucket whose frame it contains; a
bucket's share of the samples times the CPU per request gives its microseconds (the kernel's work in a
system call counts for the Python code that made it). py-spy's GIL mode was tried first: it charges
a thread blocked in a system call while holding a lock (`flock`, a queue) as if it ran, and its
buckets added up to more than the CPU spent.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from run import (
    PORT_RANGE,
    SOAK_TARGET,
    _children,
    cpu_seconds,
    ensure_wrk,
    free_port,
    mock_command,
    pyenv,
    run_wrk,
    started,
)

# (bucket, frames marking it), first match wins: background threads, then the request's path inside out.
BUCKETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("journal: writer thread (JSON, SQLite batch insert)", ("BatchWriter._run", "SQLiteJournal._insert")),
    ("access log: listener thread (format, write)", ("QueueListener._monitor",)),
    ("access log: record made and queued", ("Logger.info",)),
    ("journal: secrets masked", ("mask_headers", "mask_data")),
    ("journal: record built and queued (ids)", ("TokenMock.record",)),
    ("mock: JWT signing", ("JwtSigner.issue",)),
    ("mock: request validation", ("RequestValidator.validate",)),
    ("mock: handler, store sync, faults", ("TokenMock.handle",)),
    ("WSGI layer (LeanRoutes, werkzeug headers)", ("LeanRoutes.__call__", "Flask.__call__")),
    ("gunicorn: request parsing", ("Parser.__next__", "Request.__init__")),
    ("gunicorn: response (head, send)", ("Response.write", "OneWriteResponse.write", "Response.close", "create")),
    ("MockWorker: framing (whole request arrived?)", ("MockWorker._arrived",)),
    ("gunicorn: event loop, thread pool, keep-alive", ("",)),
)


def bucket_of(stack: str) -> str:
    frames = [frame.split(" (", 1)[0] for frame in stack.split(";")]
    for name, marks in BUCKETS:
        if any(mark == "" or mark in frames for mark in marks):
            return name
    return BUCKETS[-1][0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=8, help="seconds sampled under load")
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--ports", help="take the server's port from this range, e.g. 26000-26999")
    args = parser.parse_args()
    args.wrk, args.threads, args.connections = ensure_wrk(), 2, 32
    args.workers = args.serve_threads = None
    if args.ports:
        first, last = (int(x) for x in args.ports.split("-"))
        PORT_RANGE.extend(range(first, last + 1))
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        sys.exit("needs py-spy: pip install py-spy")
    port = free_port()
    with started("tokenmock", mock_command(port, args), port, env=pyenv()) as server, \
            tempfile.TemporaryDirectory(prefix="tokenmock-profile-") as scratch:
        run_wrk(server.base, SOAK_TARGET, args, duration=2)  # warm up
        workers = _children(server.process.pid)
        tree = (server.process.pid, *workers)
        samplers = [subprocess.Popen([str(spy), "record", "--nonblocking", "-r", str(args.rate),
                                      "-d", str(round(args.duration)), "-f", "raw", "-o", f"{scratch}/{pid}.txt",
                                      "-p", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    for pid in workers]
        time.sleep(0.3)  # py-spy attaches
        before, began = sum(cpu_seconds(pid) for pid in tree), time.perf_counter()
        result = run_wrk(server.base, SOAK_TARGET, args, duration=args.duration)
        spent, elapsed = sum(cpu_seconds(pid) for pid in tree) - before, time.perf_counter() - began
        for sampler in samplers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                sampler.wait(timeout=30)
        if os.environ.get("KEEP_STACKS"):
            subprocess.run(["cp", "-r", scratch, os.environ["KEEP_STACKS"]], check=False)
        counts: Counter[str] = Counter()
        for file in Path(scratch).glob("*.txt"):
            for line in file.read_text().splitlines():
                stack, _, number = line.rpartition(" ")
                counts[bucket_of(stack)] += int(number)
    cpu_us = spent / result["requests"] * 1e6
    total = sum(counts.values()) or 1
    print(f"tokenmock serve defaults, ClickView token, wrk -t2 -c32 {args.duration:g} s: {result['rps']:,.0f} req/s, "
          f"server CPU {cpu_us:,.0f} us/request ({elapsed:.1f} s), load average {os.getloadavg()[0]:.1f}\n")
    print("| where (py-spy samples of running threads) | us per request | share |\n| --- | --- | --- |")
    for name, _ in BUCKETS:
        print(f"| {name} | {cpu_us * counts[name] / total:.0f} | {counts[name] / total:.0%} |")
    print(f"| **total server CPU** | **{cpu_us:.0f}** | 100% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
