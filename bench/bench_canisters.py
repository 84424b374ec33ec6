"""Canister polling and /metrics parsing: 100 canisters answering in 100 ms each; a 1 MB Prometheus page.

Run: .venv/bin/python -m bench.bench_canisters [--canisters 100] [--repeats 5]

(a) `poll_canisters` on the embedded store (DuckDB in a temporary folder) against the fake replica on
loopback, through the real ICP agent: every canister's canister_status and /metrics each answer after
100 ms, so one canister takes >= 200 ms and 100 of them 20 s one after the other; the target is <= 10 s.
The whole poll is timed: reads, history queries, derivation, the appends and the ingest of the rows.
(b) `perfguard.domain.prometheus.parse` of a 1 MB page shaped like a canister's (gauges stamped with the IC
time, per-method labeled counters with escapes, histograms, 14-digit cycle balances); the target is <= 50 ms.
Medians of the repeats are printed; no assertions (figures are for reading).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from icp_principal import Principal

from perfguard.api.auth import KeyRing
from perfguard.api.canisters import close_sources, load_canisters, poll_canisters
from perfguard.bus.memory import MemoryBus
from perfguard.domain.prometheus import parse
from perfguard.local.canister_sim import GIB, MethodLoad, SimCanister
from perfguard.local.fake_replica import FakeReplica, serving
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from tests.support.doubles import embedded_store

ANSWER_S = 0.1
NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)


def canister_id(n: int) -> str:
    """A distinct, valid canister id (opaque principal of 8 id bytes + 0x01 0x01) in text form."""
    return str(Principal(n.to_bytes(8, "big") + b"\x01\x01").to_str())


def sims(count: int) -> list[SimCanister]:
    """`count` canisters, each answering after ANSWER_S."""
    methods = (MethodLoad("swap", 1.0, 30_000_000), MethodLoad("get", 10.0, 1_000_000, "query"))
    return [
        SimCanister(canister_id(n), f"c{n}", NOW - dt.timedelta(days=3), 10**14, GIB // 4, GIB,
                    methods=methods, delay_seconds=ANSWER_S)
        for n in range(count)
    ]  # fmt: skip


def bench_poll(count: int, repeats: int) -> list[float]:
    """Seconds per poll of `count` canisters (a new minute each time, so every poll stores its rows)."""
    canisters = sims(count)
    clock = [NOW]
    replica = FakeReplica(canisters, lambda: clock[0])
    with tempfile.TemporaryDirectory() as folder, serving(replica) as url:
        listing = Path(folder) / "canisters.yaml"
        listing.write_text("canisters:\n" + "".join(f"  - {{name: {c.name}, canister_id: {c.canister_id}}}\n"
                                                    for c in canisters))  # fmt: skip
        load_canisters.cache_clear()
        settings = Settings(data_dir=folder, canisters_file=str(listing), icp_replica_url=url,
                            icp_metrics_url=url + "/metrics?canisterId={canister_id}")  # fmt: skip
        store = embedded_store(Path(folder) / "bench.duckdb")
        runtime = Runtime(settings, store, MemoryBus(), KeyRing([]), clock=lambda: clock[0])
        timings = []
        try:
            for n in range(repeats):
                clock[0] = NOW + dt.timedelta(minutes=n)
                started = time.perf_counter()
                summary = poll_canisters(runtime)
                timings.append(time.perf_counter() - started)
                failed = sum(1 for r in summary.readings if r.outcome != "ok" or r.error)
                print(f"  poll {n + 1}: {timings[-1]:.2f} s, {failed} of {count} canisters had an error", flush=True)
        finally:
            close_sources()
            store.close()
    return timings


def metrics_page(target_bytes: int = 1_000_000) -> str:
    """A Prometheus page of about `target_bytes`, shaped like a busy canister's."""
    stamp = 1_735_689_600_000
    lines: list[str] = []
    n = 0
    while sum(len(line) + 1 for line in lines) < target_bytes:
        lines += [
            f"# HELP app_{n}_cycle_balance Cycle balance of canister {n}.",
            f"# TYPE app_{n}_cycle_balance gauge",
            f'app_{n}_cycle_balance{{canister="market-{n}"}} {25_731_649_271_052 + n} {stamp}',
            f"# TYPE app_{n}_method_calls_total counter",
        ]
        lines += [f'app_{n}_method_calls_total{{method="get_listing_{m}",note="a \\"q\\"\\n"}} {48213 * m} {stamp}'
                  for m in range(8)]  # fmt: skip
        lines.append(f"# TYPE app_{n}_instructions histogram")
        for le in ("1e6", "1e7", "1e8", "1e9", "+Inf"):
            lines.append(f'app_{n}_instructions_bucket{{le="{le}"}} {n * 7} {stamp}')
        lines += [f"app_{n}_instructions_sum 5.3e9 {stamp}", f"app_{n}_instructions_count {n * 7} {stamp}"]
        n += 1
    return "\n".join(lines) + "\n"


def bench_parse(repeats: int) -> tuple[list[float], int, int]:
    """Seconds per parse of the 1 MB page; the page's size and sample count."""
    page = metrics_page()
    timings, samples = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        samples = len(parse(page).samples)
        timings.append(time.perf_counter() - started)
    return timings, len(page.encode()), samples


def run(canisters: int, repeats: int, parse_repeats: int) -> None:
    """Both benchmarks, printing RESULT lines with medians."""
    print(f"bench_canisters: {canisters} canisters answering in {ANSWER_S * 1000:.0f} ms per call", flush=True)
    polls = bench_poll(canisters, repeats)
    print(f"RESULT canisters poll {canisters} x {ANSWER_S * 1000:.0f} ms: median {statistics.median(polls):.2f} s "
          f"over {len(polls)} polls (target <= 10 s)", flush=True)  # fmt: skip
    parses, size, samples = bench_parse(parse_repeats)
    median_ms = statistics.median(parses) * 1000
    print(f"RESULT canisters parse /metrics {size / 1e6:.2f} MB ({samples:,} samples): median {median_ms:.1f} ms "
          f"over {len(parses)} runs (target <= 50 ms)", flush=True)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: sizes of the run."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_canisters", description=__doc__)
    parser.add_argument("--canisters", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--parse-repeats", type=int, default=21)
    args = parser.parse_args(argv)
    run(args.canisters, args.repeats, args.parse_repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
