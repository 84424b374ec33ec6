"""What `PerfguardClient.record()` costs the host, while its worker sends to a local server.

Run: .venv/bin/python -m bench.bench_client [--calls 200000]

The server runs in its own process (as the real ingest function would), accepts every record, and answers
like `record_performance_metric`; so the recording thread competes for the GIL only with the client's
worker, which is the cost a backend really pays. Each call is timed with perf_counter_ns; the timer's
own cost is measured and printed (it is included in the per-call figures). No assertions: the figures
are for reading.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from perfguard.client import PerfguardClient, Stats

TAGS = {"route": "quote", "status_code": "200"}
COMMAND = ".venv/bin/python -m bench.bench_client"


class _AcceptAll(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        metrics = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["metrics"]
        data = json.dumps({"accepted": len(metrics), "rejected": [], "warnings": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve() -> None:
    """The server process: print the port, then accept everything until killed."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AcceptAll)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


def _start_server() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_client", "--serve"], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    return process, f"http://127.0.0.1:{port}"


def _timed_calls(client: PerfguardClient, calls: int) -> list[int]:
    durations = [0] * calls
    clock, record = time.perf_counter_ns, client.record
    for i in range(calls):
        started = clock()
        record("api_latency", "GET /quote", 12.5, "ms", tags=TAGS)
        durations[i] = clock() - started
    return durations


def _timer_overhead(calls: int) -> float:
    clock = time.perf_counter_ns
    durations = [0] * calls
    for i in range(calls):
        started = clock()
        durations[i] = clock() - started
    return statistics.median(durations) / 1000


def _tight_loop_us(client: PerfguardClient, calls: int) -> float:
    record = client.record
    started = time.perf_counter_ns()
    for _ in range(calls):
        record("api_latency", "GET /quote", 12.5, "ms", tags=TAGS)
    return (time.perf_counter_ns() - started) / calls / 1000


def _quantile_us(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1000


@dataclass
class Figures:
    """What one run measured."""

    calls: int
    durations_ns: list[int]  # sorted
    delivery_s: float  # from the first timed call until the server had acknowledged the last
    tight_loop_us: float
    flushed: bool
    stats: Stats


def run(calls: int) -> Figures:
    """Time `calls` record() calls one by one, then a tight loop of as many; wait for delivery."""
    process, url = _start_server()
    try:
        # A queue that holds every call, so each timed call really enqueues (a full queue would time drops).
        with PerfguardClient(url, "bench-key", max_queue=2 * calls + 10_000) as client:
            _timed_calls(client, 2_000)  # warm-up: starts the worker and opens the connection
            client.flush(30)
            started = time.perf_counter()
            durations = sorted(_timed_calls(client, calls))
            flushed = client.flush(300)
            delivery_s = time.perf_counter() - started
            tight_us = _tight_loop_us(client, calls)
            flushed = client.flush(300) and flushed
            return Figures(calls, durations, delivery_s, tight_us, flushed, client.stats())
    finally:
        process.terminate()
        process.wait(10)


def report(f: Figures) -> None:
    """Print the figures and the command that reproduces them."""
    q = functools.partial(_quantile_us, f.durations_ns)
    print(
        f"perfguard.client record(): {f.calls:,} timed calls; Python {platform.python_version()}, {os.cpu_count()} CPUs"
    )
    print("(the worker sends batches of 1000 meanwhile, to a local accept-all server in another process)")
    print(f"record() median {q(0.5):.1f} us, p99 {q(0.99):.1f} us (target <= 20 us median)")
    print(f"  p90 {q(0.9):.1f} us, p99.9 {q(0.999):.1f} us, max {f.durations_ns[-1] / 1000:.1f} us")
    print(f"  perf_counter_ns overhead {_timer_overhead(10_000):.2f} us per call (included above)")
    print("  the tail is the host's GIL hand-offs to the worker (5 ms switch interval) and garbage collection")
    print(f"  tight loop without per-call timers: {f.tight_loop_us:.2f} us per call (record + the worker's share)")
    rate = (f.calls / f.delivery_s) if f.delivery_s else 0.0
    print(f"  delivery of the timed calls: {f.delivery_s:.2f} s end to end, {rate:,.0f} records/s")
    print(f"  stats (warm-up + both runs): {dict(f.stats)}; flush {'completed' if f.flushed else 'TIMED OUT'}")
    print(f"reproduce: {COMMAND} --calls {f.calls}")


def main() -> None:
    """Command line: `--calls N` to measure, `--serve` for the server process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=200_000, help="record() calls to time (default 200000)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
    else:
        report(run(args.calls))


if __name__ == "__main__":
    main()
