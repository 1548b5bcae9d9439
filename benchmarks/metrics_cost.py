"""What `/__mock/metrics` costs per request: CPU time of `TokenMock.handle()` for a ClickView token
request with metrics on and off (best of several alternating rounds), and of `Metrics.observe()` alone.

Run: `python benchmarks/metrics_cost.py [--multiprocess]` (--multiprocess counts into files, as under
`tokenmock serve`). CPU time (`time.process_time`) rather than wall time, so a busy machine skews it less.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable

from werkzeug.datastructures import Headers

BODY = b"grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret"


def best_cpu_seconds(action: Callable[[], object], number: int, rounds: int) -> float:
    """The lowest CPU time per call over `rounds` rounds of `number` calls."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(number):
            action()
        best = min(best, (time.process_time() - started) / number)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--multiprocess", action="store_true", help="count into files, as under `serve`")
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    options = parser.parse_args()
    if options.multiprocess:
        from tokenmock.mockserver.controls.metrics import enable_multiprocess

        enable_multiprocess(tempfile.mkdtemp(prefix="tokenmock-metrics-bench-"))
    from tokenmock.mockserver import create_app
    from tokenmock.mockserver.controls.metrics import Metrics
    from tokenmock.mockserver.pipeline.validation import RawRequest

    raw = RawRequest(
        method="POST",
        path="/clickview/connect/token",
        path_params={},
        query=[],
        headers=Headers({"Content-Type": "application/x-www-form-urlencoded", "Content-Length": str(len(BODY))}),  # type: ignore[arg-type]
        cookies={},
        body=BODY,
        content_type="application/x-www-form-urlencoded",
    )
    mocks = {on: create_app({"access_log": False, "metrics": on}).extensions["tokenmock"] for on in (False, True)}
    best = {on: float("inf") for on in mocks}
    for _ in range(options.rounds):  # alternate, so both see the same machine
        for on, mock in mocks.items():
            cost = best_cpu_seconds(lambda m=mock: m.handle("clickview", "requestToken", raw), options.number, 1)
            best[on] = min(best[on], cost)
    metrics = Metrics([("clickview", "requestToken")])
    observe = best_cpu_seconds(
        lambda: metrics.observe("clickview", "requestToken", 200, 0.0004, None), options.number * 10, options.rounds
    )
    mode = "multiprocess (files)" if options.multiprocess else "single process"
    print(f"{mode}: handle() {best[False] * 1e6:.1f} us without metrics, {best[True] * 1e6:.1f} us with")
    print(f"{mode}: Metrics.observe() alone {observe * 1e6:.2f} us")


if __name__ == "__main__":
    main()
