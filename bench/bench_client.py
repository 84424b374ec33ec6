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
import json
import os
import platform
import statistics
import subprocess
import sys
import time
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


def run(calls: int) -> None:
    """Measure record() over `calls` calls and print the figures."""
    process, url = _start_server()
    try:
        with PerfguardClient(url, "bench-key") as client:
            _timed_calls(client, 2_000)  # warm-up: starts the worker and opens the connection
            client.flush(30)
            durations = sorted(_timed_calls(client, calls))
            tight_us = _tight_loop_us(client, calls)
            flushed = client.flush(60)
            stats = client.stats()
    finally:
        process.terminate()
        process.wait(10)
    _report(calls, durations, tight_us, flushed, stats)


def _report(calls: int, durations: list[int], tight_us: float, flushed: bool, stats: Stats) -> None:
    median, p99 = _quantile_us(durations, 0.5), _quantile_us(durations, 0.99)
    print(
        f"perfguard.client record(), {calls:,} timed calls; Python {platform.python_version()}, {os.cpu_count()} CPUs;"
    )
    print("worker sending batches of 1000 to a local accept-all server in another process")
    print(f"record() median {median:.1f} us, p99 {p99:.1f} us (target <= 20 us median)")
    print(
        f"  p90 {_quantile_us(durations, 0.9):.1f} us, p99.9 {_quantile_us(durations, 0.999):.1f} us, "
        f"max {durations[-1] / 1000:.1f} us; perf_counter_ns overhead {_timer_overhead(10_000):.2f} us (included)"
    )
    print(f"  tight loop without per-call timers: {tight_us:.2f} us per call over {calls:,} calls")
    print(f"  delivered (warm-up + both runs): {stats}; flush {'completed' if flushed else 'TIMED OUT'}")
    print(f"reproduce: {COMMAND} --calls {calls}")


def main() -> None:
    """Command line: `--calls N` to measure, `--serve` for the server process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=200_000, help="record() calls to time (default 200000)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
    else:
        run(args.calls)


if __name__ == "__main__":
    main()
