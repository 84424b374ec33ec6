"""Run every benchmark in sequence: `python -m bench` (the figures of bench/README.md, several minutes)
or `python -m bench --quick` (a smoke run of each, well under a minute of work)."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import (
    bench_alert_latency,
    bench_canisters,
    bench_firebase_import,
    bench_ingest,
    bench_rules,
    bench_summary,
)


@dataclass(frozen=True)
class Sizes:
    """How much work each benchmark does."""

    ingest_batches: int
    ingest_seconds: float
    summary_rows: int
    summary_repeats: int
    client_calls: int
    rules_hours: float


FULL = Sizes(
    ingest_batches=200,
    ingest_seconds=60,
    summary_rows=10_000_000,
    summary_repeats=5,
    client_calls=200_000,
    rules_hours=6,
)
QUICK = Sizes(
    ingest_batches=20, ingest_seconds=15, summary_rows=200_000, summary_repeats=2, client_calls=20_000, rules_hours=0.5
)
CLIENT_BENCH = Path(__file__).with_name("bench_client.py")


def run_client_bench(calls: int) -> int:
    """bench_client (owned by its own module) through its command line; its exit code."""
    if not CLIENT_BENCH.exists():
        print("bench_client: not present; skipped")
        return 0
    command = [sys.executable, "-m", "bench.bench_client", "--calls", str(calls)]
    return subprocess.run(command, check=False, timeout=600).returncode


def main(argv: Sequence[str] | None = None) -> int:
    """Run ingest, summary and client benchmarks; non-zero if the client benchmark failed."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run for tests")
    sizes = QUICK if parser.parse_args(argv).quick else FULL
    started = time.perf_counter()
    bench_ingest.run(sizes.ingest_batches, 1000, sizes.ingest_seconds, [1, 2])
    if sizes is FULL:  # the same load with records a few seconds old, as most real senders' are
        bench_ingest.run(sizes.ingest_batches, 1000, sizes.ingest_seconds, [1, 2], fresh=True)
    bench_summary.run(sizes.summary_rows, 100_000, sizes.summary_repeats, None)
    bench_rules.run(sizes.rules_hours, 1000, 5 if sizes is FULL else 2)
    bench_alert_latency.main(["--trials", "1" if sizes is QUICK else "5"])
    bench_canisters.run(100, 2 if sizes is QUICK else 5, 5 if sizes is QUICK else 21)
    bench_firebase_import.run(*((9_500, 500, 100_000) if sizes is QUICK else (950_000, 50_000, 10_000_000)))
    sys.stdout.flush()  # the client benchmark writes to the same stdout from its own process
    code = run_client_bench(sizes.client_calls)
    print(f"all benchmarks done in {time.perf_counter() - started:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
