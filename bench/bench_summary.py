"""get_performance_summary over HTTP on a store of 10 million api_latency metrics (50 endpoints, one day).

Run: .venv/bin/python -m bench.bench_summary [--rows 10000000] [--repeats 5] [--store DIR]

The store is built through the warehouse adapter (`DuckDBWarehouse.ingest_metrics`, the same SQL the ingest
function runs) from PerformanceMetric objects made directly, after checking on a sample that they equal what
`parse_batch` makes of the same records. Then `perfguard serve` runs on it and each summary is timed over
HTTP. Every call also summarises the same window a day and a week earlier (the baselines); in this store
those windows are empty, so a store holding older data pays for up to three windows per call.
Without `--store` the store lives in a temp dir that is deleted at the end. No assertions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import requests

from bench.common import (
    Columns,
    Stack,
    as_metrics,
    as_records,
    auth_headers,
    generate,
    machine,
    now_ns,
    rfc3339,
    running_stack,
    temp_dir,
)
from perfguard import runtime as rt
from perfguard.api.auth import KeyRing
from perfguard.bus.memory import MemoryBus
from perfguard.domain.validation import IngestLimits, parse_batch
from perfguard.settings import Settings
from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse
from perfguard.warehouse.port import Warehouse
from perfguard.warehouse.sql import load_query

COMMAND = ".venv/bin/python -m bench.bench_summary"
TARGET_S = 1.0
DAY_NS = 86_400 * 10**9
HOUR_NS = 3_600 * 10**9
MARKER = "bench_store.json"  # what a kept store holds, so --store can reuse it
PROGRESS_EVERY = 1_000_000
PARITY_SAMPLE = 1_000
INTERVAL_US = {"1h": 3_600_000_000}


@dataclass(frozen=True)
class Case:
    """One timed summary request."""

    label: str
    span_ns: int
    interval: str | None = None


CASES = (
    Case("(a) 24 h, every row", DAY_NS),
    Case("(b) last 1 h", HOUR_NS),
    Case("(c) 7 days", 7 * DAY_NS),
    Case("(d) 24 h by 1 h", DAY_NS, "1h"),
)


@dataclass(frozen=True)
class Store:
    """A built data dir: `rows` metrics with timestamps in [end_ns - 24 h, end_ns)."""

    data_dir: Path
    rows: int
    end_ns: int


def open_warehouse(data_dir: Path) -> Warehouse:
    """The DuckDB store the local stack opens on `data_dir` (same factory), with its tables created."""
    warehouse = rt.make_warehouse(Settings(data_dir=str(data_dir)))
    warehouse.ensure_tables()
    return warehouse


def check_parity(columns: Columns, now: int) -> None:
    """Fail unless a sample built directly equals what ingest's validation makes of the same JSON records."""
    sample = range(0, len(columns), max(1, len(columns) // PARITY_SAMPLE))
    parsed = parse_batch(json.loads(json.dumps(as_records(columns, sample))), now, _server_limits())
    if parsed.rejected or parsed.accepted != as_metrics(columns, sample):
        raise RuntimeError(f"directly built metrics differ from parse_batch's: {parsed.rejected[:3]}")
    print(f"  parity: {len(sample)} sampled records built directly equal parse_batch's output")


def _server_limits() -> IngestLimits:
    # The limits the served function applies, taken from the same Runtime method rather than restated here.
    warehouse = DuckDBWarehouse(":memory:", {}, {})
    try:
        return rt.Runtime(Settings(), warehouse, MemoryBus(), KeyRing([])).ingest_limits()
    finally:
        warehouse.close()


def reuse(data_dir: Path, rows: int) -> Store | None:
    """The store already built in `data_dir` with `rows` rows, if any."""
    marker = data_dir / MARKER
    if not marker.exists():
        return None
    saved = json.loads(marker.read_text(encoding="utf-8"))
    if saved.get("rows") != rows:
        return None
    print(f"  reusing the store in {data_dir} ({rows:,} rows, built {saved['built']})")
    return Store(data_dir, rows, int(saved["end_ns"]))


def build(data_dir: Path, rows: int, batch: int, seed: int = 11) -> Store:
    """Ingest `rows` metrics over the 24 h before now, in time order, `batch` at a time."""
    end = now_ns() // (60 * 10**9) * (60 * 10**9)  # a whole minute, so the histogram ranges align
    rng = np.random.default_rng(seed)
    warehouse = open_warehouse(data_dir)
    started, stored, next_report = time.perf_counter(), 0, PROGRESS_EVERY
    try:
        for first in range(0, rows, batch):
            size = min(batch, rows - first)
            low = end - DAY_NS + first * DAY_NS // rows
            high = end - DAY_NS + (first + size) * DAY_NS // rows
            columns = generate(size, low, high, rng, "sum", first)
            if first == 0:
                check_parity(columns, now_ns())
            stored += warehouse.ingest_metrics(as_metrics(columns), dt.datetime.now(dt.UTC))
            if stored >= next_report or stored == rows:
                _progress(stored, rows, time.perf_counter() - started)
                next_report += PROGRESS_EVERY
        _verify_counts(warehouse, rows)
    finally:
        warehouse.close()
    built = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    (data_dir / MARKER).write_text(json.dumps({"rows": rows, "end_ns": end, "built": built}), encoding="utf-8")
    return Store(data_dir, rows, end)


def _progress(stored: int, rows: int, elapsed: float) -> None:
    rate = stored / elapsed if elapsed else 0.0
    eta = (rows - stored) / rate if rate else 0.0
    print(
        f"  built {stored:>11,} / {rows:,} rows in {elapsed:6.1f} s ({rate:,.0f} rows/s, ~{eta:.0f} s left)", flush=True
    )


def _verify_counts(warehouse: Warehouse, rows: int) -> None:
    stored = warehouse.query("SELECT COUNT(*) AS n FROM performance_metrics", {})[0]["n"]
    rollup = warehouse.query("SELECT COUNT(*) AS n, SUM(count) AS total FROM metric_rollups_1m", {})[0]
    verdict = "OK" if stored == rows == rollup["total"] else "MISMATCH"
    print(
        f"  store: {stored:,} rows in performance_metrics; {rollup['n']:,} rows in metric_rollups_1m "
        f"counting {rollup['total']:,} records: {verdict}"
    )


def sql_alone(store: Store) -> tuple[dict[str, float], dict[str, list[dict[str, Any]]]]:
    """Seconds of the current window's query alone (no HTTP, no baselines), median of 3, and the exact rows."""
    warehouse = open_warehouse(store.data_dir)
    seconds, exact_rows = {}, {}
    try:
        for case in CASES:
            exact = case.span_ns <= DAY_NS
            sql, params = load_query("summary_exact" if exact else "summary_histogram"), _params(store, case)
            seconds[case.label] = statistics.median(_timed(functools.partial(warehouse.query, sql, params), 3))
            if exact:
                exact_rows[case.label] = warehouse.query(sql, params)
    finally:
        warehouse.close()
    return seconds, exact_rows


def aggregate_form(store: Store, exact_rows: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """Seconds of the suggested DuckDB form of summary_exact (median of 3); fails if its percentiles differ."""
    connection = duckdb.connect(str(store.data_dir / rt.DB_FILE), read_only=True)
    seconds = {}
    try:
        connection.execute("SET TimeZone = 'UTC'")
        for case in CASES:
            if case.label not in exact_rows:
                continue
            params = _params(store, case)
            del params["endpoint_or_operation"]
            run = functools.partial(_fetch_aggregate, connection, params)
            seconds[case.label] = statistics.median(_timed(run, 3))
            _check_same_percentiles(exact_rows[case.label], run())
    finally:
        connection.close()
    return seconds


def _fetch_aggregate(connection: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    return connection.execute(AGGREGATE_EXACT, params).fetchall()


def _check_same_percentiles(rows: list[dict[str, Any]], aggregated: list[tuple[Any, ...]]) -> None:
    expected = {(r["endpoint_or_operation"], r["bucket_start"]): (r["p50"], r["p95"], r["p99"]) for r in rows}
    got = {(row[0], row[1]): tuple(row[2]) for row in aggregated}
    if expected.keys() != got.keys() or any(
        not math.isclose(a, b, rel_tol=1e-12) for key in expected for a, b in zip(expected[key], got[key], strict=True)
    ):
        raise RuntimeError("the aggregate form of summary_exact gives other percentiles than the shipped query")


# The DuckDB-only form of summary_exact suggested in bench/README.md: QUANTILE_CONT as an aggregate (BigQuery
# has PERCENTILE_CONT only as a window function, which DuckDB evaluates by sorting every partition).
AGGREGATE_EXACT = """
SELECT endpoint_or_operation,
  CASE WHEN $interval_us > 0
       THEN make_timestamptz((epoch_us("timestamp") // $interval_us) * $interval_us) END AS bucket_start,
  quantile_cont(value, [0.5, 0.95, 0.99]) AS percentiles,
  COUNT(*) AS count, AVG(value) AS mean, MIN(value) AS min, MAX(value) AS max,
  COUNT_IF(outcome <> 'ok') AS error_count, COUNT_IF(outcome = 'timeout') AS timeout_count
FROM performance_metrics
WHERE metric_type = $metric_type AND "timestamp" >= $start AND "timestamp" < $end
GROUP BY ALL
ORDER BY 1, 2
"""


def _params(store: Store, case: Case) -> dict[str, Any]:
    start, end = _window(store, case)
    return {
        "metric_type": "api_latency",
        "endpoint_or_operation": None,
        "interval_us": INTERVAL_US.get(case.interval or "", 0),
        "start": _datetime(start),
        "end": _datetime(end),
    }


def _timed(call: Callable[[], object], repeats: int) -> list[float]:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return timings


def _window(store: Store, case: Case) -> tuple[int, int]:
    return store.end_ns - case.span_ns, store.end_ns


def _datetime(ns: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ns // 1000)


def time_case(stack: Stack, store: Store, case: Case, repeats: int) -> None:
    """Time one summary `repeats` times over HTTP and print its figure line."""
    start, end = _window(store, case)
    params = {"metric_type": "api_latency", "start": rfc3339(start), "end": rfc3339(end)}
    if case.interval:
        params["interval"] = case.interval
    url = f"{stack.url}/get_performance_summary"
    answers: list[requests.Response] = []
    with requests.Session() as session:

        def call() -> None:
            answers.append(session.get(url, params=params, headers=auth_headers(), timeout=600))
            answers[-1].raise_for_status()

        timings = _timed(call, repeats)
    _report(case, timings, answers[-1].json(), len(answers[-1].content))


def _report(case: Case, timings: list[float], body: dict[str, Any], size: int) -> None:
    groups = body["groups"]
    counted = sum(int(group["count"]) for group in groups)
    median, best = statistics.median(timings), min(timings)
    met = "met" if median <= TARGET_S else "NOT met"
    print(
        f"  RESULT summary {case.label}: median {median * 1000:,.0f} ms, min {best * 1000:,.0f} ms "
        f"over {len(timings)} calls (target <= {TARGET_S:g} s: {met})"
    )
    runs = ", ".join(f"{t * 1000:,.0f}" for t in timings)
    print(
        f"    method {body['method']}, {len(groups)} groups, {counted:,} records counted, "
        f"{size / 1024:.0f} KiB; each call (ms): {runs}"
    )


def run(rows: int, batch: int, repeats: int, keep: Path | None) -> None:
    """Build (or reuse) the store, time the SQL alone, then each case over HTTP."""
    print(f"bench_summary on {machine()}")
    with temp_dir("perfguard-bench-summary-") as scratch:
        data_dir = keep or scratch
        data_dir.mkdir(parents=True, exist_ok=True)
        store = reuse(data_dir, rows) or _build_timed(data_dir, rows, batch)
        alone, exact_rows = sql_alone(store)
        print("  the current window's SQL alone (in-process, median of 3): " + _join(alone))
        print(
            "  suggested aggregate form of summary_exact, same percentiles: " + _join(aggregate_form(store, exact_rows))
        )
        print(
            "  over HTTP, each call runs its window's query and the same query a day and a week earlier (the "
            "baselines; empty in this store, as is all of (c) but its last day)",
            flush=True,
        )
        with running_stack(data_dir) as stack:
            for case in CASES:
                time_case(stack, store, case, repeats)
    print(f"reproduce: {COMMAND} --rows {rows} --repeats {repeats}")


def _join(seconds: dict[str, float]) -> str:
    return "; ".join(f"{label} {value * 1000:,.0f} ms" for label, value in seconds.items())


def _build_timed(data_dir: Path, rows: int, batch: int) -> Store:
    for stale in (data_dir / rt.DB_FILE, data_dir / f"{rt.DB_FILE}.wal"):
        stale.unlink(missing_ok=True)  # an unfinished build (no marker) would skew the counts
    print(f"  building {rows:,} metrics in {data_dir} ({math.ceil(rows / batch)} batches of {batch:,}) ...", flush=True)
    started = time.perf_counter()
    store = build(data_dir, rows, batch)
    print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
    return store


def main(argv: Sequence[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=10_000_000, help="metrics in the store (default 10,000,000)")
    parser.add_argument("--batch", type=int, default=100_000, help="metrics per ingest_metrics call (default 100,000)")
    parser.add_argument("--repeats", type=int, default=5, help="calls per case (default 5)")
    parser.add_argument("--store", type=Path, help="keep the store in this dir and reuse it next time (default: temp)")
    args = parser.parse_args(argv)
    run(args.rows, args.batch, args.repeats, args.store)


if __name__ == "__main__":
    main()
