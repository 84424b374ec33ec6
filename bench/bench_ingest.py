"""Ingest throughput of the local stack: batches of 1,000 api_latency records POSTed over keep-alive HTTP.

Run: .venv/bin/python -m bench.bench_ingest [--batches 200] [--seconds 60] [--clients 1,2] [--fresh]
 or: .venv/bin/python -m bench.bench_ingest --phases [--preload 1000000]   (where the time goes, in-process)

For each client count, a new stack (`perfguard serve`) on a temp data dir receives the same load. Bodies are
JSON-encoded before the clock starts, so the figures are the server's, not the client's encoder. Records are
from the last five minutes, so most batches hold records of completed minutes, which the evaluator treats as
late data; with `--fresh` they are 10-20 s old when sent (a 9-digit prefix of every timestamp is filled in
just before the POST), as from clients that flush every few seconds. The run stops after `--batches` batches
or `--seconds`, whichever comes first; then the stored count is read back through get_performance_summary
and compared with what was acknowledged.
No assertions: the figures are for reading.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import requests

from bench.common import (
    Stack,
    as_metrics,
    as_records,
    auth_headers,
    cpu_seconds,
    generate,
    machine,
    now_ns,
    quantile,
    rfc3339,
    running_stack,
)
from bench.common import temp_dir as make_temp_dir
from perfguard import runtime as rt
from perfguard.api.auth import KeyRing
from perfguard.api.params import parse_json
from perfguard.bus.memory import MemoryBus
from perfguard.domain.thresholds import ThresholdRule, evaluation_range
from perfguard.domain.timestamps import datetime_to_ns
from perfguard.domain.validation import IngestLimits, parse_batch
from perfguard.settings import Settings
from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse, _arrow, _run
from perfguard.warehouse.sql import load_query, to_duckdb
from perfguard.warehouse.staging import STAGING_TABLE, staging_columns, timestamp_range

COMMAND = ".venv/bin/python -m bench.bench_ingest"
TARGET_PER_S = 50_000
WARMUP_BATCHES = 2  # the first requests pay for imports and query translation; not timed (but stored)
WINDOW_NS = 300 * 10**9  # records are from the last five minutes...
BATCH_SPREAD_NS = 30 * 10**9  # ...and each batch holds about 30 s of one sender's records
SLOT_NS = 10**10  # --fresh: a batch's records share one 10-s slot, whose 9-digit number is set at send time
PLACEHOLDER_SLOT = 100_000_000  # a slot in 2001: a body sent without its slot filled in is rejected, not stored
_PLACEHOLDER = b'"timestamp":%d' % PLACEHOLDER_SLOT


@dataclass(frozen=True)
class Request:
    """One timed POST."""

    started: float
    finished: float
    records: int
    stored: int
    status: int
    slot: int | None  # the 10-s slot of a --fresh body


@dataclass(frozen=True)
class Load:
    """Pre-encoded bodies and the time range their records cover."""

    bodies: list[bytes]
    batch_size: int
    first_ns: int
    last_ns: int
    fresh: bool = False


def build_load(batches: int, batch_size: int, seed: int = 7, fresh: bool = False) -> Load:
    """`batches` JSON bodies of `batch_size` unique records each, with timestamps ending now (or to be stamped)."""
    rng = np.random.default_rng(seed)
    end = now_ns()
    bodies, first, last = [], end, 0
    for i in range(batches):
        # Batches arrive in time order, each covering the 30 s before its sender flushed it.
        sent = end - WINDOW_NS + (i + 1) * WINDOW_NS // batches
        low, high = (
            (PLACEHOLDER_SLOT * SLOT_NS, (PLACEHOLDER_SLOT + 1) * SLOT_NS) if fresh else (sent - BATCH_SPREAD_NS, sent)
        )
        columns = generate(batch_size, low, high, rng, f"ing{seed}", i * batch_size)
        bodies.append(json.dumps({"metrics": as_records(columns)}, separators=(",", ":")).encode())
        first, last = min(first, int(columns.timestamp_ns[0])), max(last, int(columns.timestamp_ns[-1]))
    return Load(bodies, batch_size, first, last, fresh)


_HEADERS = {**auth_headers(), "Content-Type": "application/json"}


def _send(session: requests.Session, url: str, body: bytes, load: Load) -> Request:
    slot = None
    if load.fresh:  # ~0.2 ms of bytes.replace, before the clock starts
        slot = (now_ns() - SLOT_NS) // SLOT_NS
        body = body.replace(_PLACEHOLDER, b'"timestamp":%d' % slot)
    started = time.perf_counter()
    response = session.post(url, data=body, headers=_HEADERS, timeout=120)
    finished = time.perf_counter()
    stored = int(response.json().get("stored", 0)) if response.status_code == 200 else 0
    return Request(started, finished, load.batch_size, stored, response.status_code, slot)


class _Feeder:
    """Hands out body indices to the client threads until the bodies or the time run out."""

    def __init__(self, count: int, start: int, deadline: float) -> None:
        self._next, self._count, self._deadline = start, count, deadline
        self._lock = threading.Lock()

    def take(self) -> int | None:
        with self._lock:
            if self._next >= self._count or time.perf_counter() >= self._deadline:
                return None
            self._next += 1
            return self._next - 1


def _client(url: str, load: Load, feeder: _Feeder, results: list[Request]) -> None:
    with requests.Session() as session:
        while (index := feeder.take()) is not None:
            results.append(_send(session, url, load.bodies[index], load))


@dataclass(frozen=True)
class Run:
    """The requests of one client count, the timed wall time and the server's CPU time over it."""

    requests: list[Request]
    wall: float
    server_cpu: float | None


def drive(stack: Stack, load: Load, clients: int, seconds: float) -> Run:
    """Warm up, then POST from `clients` threads until the bodies or the time run out."""
    url = f"{stack.url}/record_performance_metric"
    warmup: list[Request] = []
    with requests.Session() as session:
        warmup.extend(_send(session, url, body, load) for body in load.bodies[:WARMUP_BATCHES])
    results: list[Request] = []
    feeder = _Feeder(len(load.bodies), WARMUP_BATCHES, time.perf_counter() + seconds)
    threads = [threading.Thread(target=_client, args=(url, load, feeder, results)) for _ in range(clients)]
    cpu_before, started = cpu_seconds(stack.process.pid), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall, cpu_after = time.perf_counter() - started, cpu_seconds(stack.process.pid)
    server_cpu = cpu_after - cpu_before if cpu_after is not None and cpu_before is not None else None
    return Run(warmup + results, wall, server_cpu)


def stored_count(stack: Stack, load: Load, sent: Sequence[Request]) -> int:
    """Sum of the per-endpoint counts of get_performance_summary over the time range of what was sent."""
    first, last = load.first_ns, load.last_ns
    slots = [r.slot for r in sent if r.slot is not None]
    if slots:
        first, last = min(slots) * SLOT_NS, (max(slots) + 1) * SLOT_NS
    params = {"metric_type": "api_latency", "start": rfc3339(first), "end": rfc3339(last + 1000)}
    body = stack.get("get_performance_summary", params)
    return sum(int(group["count"]) for group in body["groups"])


def per_second_rates(timed: Sequence[Request]) -> list[int]:
    """Metrics acknowledged in each whole second of the run (the last, partial second left out)."""
    if not timed:
        return []
    origin = min(r.started for r in timed)
    per_second = Counter[int]()
    for r in timed:
        per_second[int(r.finished - origin)] += r.stored
    last = max(per_second)
    return [per_second[s] for s in range(last)] or [per_second[last]]


def report(clients: int, run: Run, stored: int) -> None:
    """Print the figure lines of one client count."""
    timed = run.requests[WARMUP_BATCHES:]
    timed_stored = sum(r.stored for r in timed)
    latencies = sorted((r.finished - r.started) * 1000 for r in timed)
    overall = timed_stored / run.wall if run.wall else 0.0
    rates = per_second_rates(timed)
    met = "met" if overall >= TARGET_PER_S else "NOT met"
    print(f"ingest, {clients} client thread(s): {len(timed)} timed batches of {timed[0].records if timed else 0}")
    print(
        f"  RESULT ingest clients={clients}: {overall:,.0f} metrics/s overall, "
        f"{statistics.median(rates) if rates else 0:,.0f} metrics/s median per second over {run.wall:.1f} s "
        f"(target >= {TARGET_PER_S:,}: {met})"
    )
    print(
        f"  per request: p50 {quantile(latencies, 0.5):.1f} ms, p90 {quantile(latencies, 0.9):.1f} ms, "
        f"p99 {quantile(latencies, 0.99):.1f} ms, max {latencies[-1]:.1f} ms"
    )
    if run.server_cpu is not None and timed_stored:
        print(
            f"  server CPU: {run.server_cpu:.1f} s over {run.wall:.1f} s ({run.server_cpu / run.wall:.2f} cores busy), "
            f"{run.server_cpu / timed_stored * 1e6:.1f} ms per 1,000 metrics"
        )
    _verify(run.requests, stored)


def _verify(requests_: list[Request], stored: int) -> None:
    sent = sum(r.records for r in requests_)
    acknowledged = sum(r.stored for r in requests_)
    failed = sum(1 for r in requests_ if r.status != 200)
    verdict = "OK" if stored == sent == acknowledged and not failed else "MISMATCH"
    print(
        f"  verify: sent {sent:,}, acknowledged {acknowledged:,}, counted by get_performance_summary {stored:,}, "
        f"failed requests {failed}: {verdict}"
    )


def run(batches: int, batch_size: int, seconds: float, client_counts: Sequence[int], fresh: bool = False) -> None:
    """One new stack per client count; print the figures of each."""
    print(f"bench_ingest on {machine()}")
    age = "10-20 s old when sent (--fresh)" if fresh else "from the last five minutes"
    print(f"  encoding {batches} bodies of {batch_size} records {age} before timing ...", flush=True)
    load = build_load(batches + WARMUP_BATCHES, batch_size, fresh=fresh)
    print(f"  {len(load.bodies)} bodies, {sum(map(len, load.bodies)) / len(load.bodies) / 1024:.0f} KiB each")
    for clients in client_counts:
        with make_temp_dir("perfguard-bench-ingest-") as data, running_stack(data) as stack:
            result = drive(stack, load, clients, seconds)
            report(clients, result, stored_count(stack, load, result.requests))
    flags = f"--batches {batches} --seconds {seconds:g} --clients {','.join(map(str, client_counts))}"
    print(f"reproduce: {COMMAND} {flags}{' --fresh' if fresh else ''}")


def phases(batches: int, batch_size: int, preload: int) -> None:
    """In-process, one thread, no HTTP and no evaluation: the time of each step of ingest per batch."""
    print(f"ingest phases on {machine()}")
    with make_temp_dir("perfguard-bench-phases-") as data:
        settings = Settings(data_dir=str(data))
        warehouse = rt.make_warehouse(settings)
        assert isinstance(warehouse, DuckDBWarehouse)
        try:
            warehouse.ensure_tables()
            limits = rt.Runtime(settings, warehouse, MemoryBus(), KeyRing([])).ingest_limits()
            if preload:
                _preload(warehouse, preload)
            steps = [_steps(warehouse, body, limits) for body in build_load(batches, batch_size, seed=8).bodies]
            evaluation = _evaluation_seconds(warehouse)
            rollups = int(warehouse.query("SELECT COUNT(*) AS n FROM metric_rollups_1m", {})[0]["n"])
        finally:
            warehouse.close()
    rows = preload + batches * batch_size
    _print_phases(steps, batch_size, preload)
    print(f"  evaluation query (minute_p95 over the 60-minute lookback, {rows:,} rows): {evaluation * 1000:,.0f} ms")
    print(
        f"  metric_rollups_1m: {rollups:,} rows for {rows:,} records "
        f"({rollups / rows:.2f} per record: partial rows per batch, merged only at read time)"
    )


def _preload(warehouse: DuckDBWarehouse, rows: int) -> None:
    # Stored through the same ingest SQL, spread over the five minutes the measured batches cover.
    rng, end = np.random.default_rng(9), now_ns()
    for first in range(0, rows, 100_000):
        columns = generate(min(100_000, rows - first), end - WINDOW_NS, end, rng, "pre", first)
        warehouse.ingest_metrics(as_metrics(columns), dt.datetime.now(dt.UTC))
    print(f"  preloaded {rows:,} rows into the five minutes the batches cover", flush=True)


def _steps(warehouse: DuckDBWarehouse, body: bytes, limits: IngestLimits) -> dict[str, float]:
    """One batch through the steps of record_performance_metric and DuckDBWarehouse.ingest_metrics.

    Mirrors ingest_metrics statement by statement (through its private helpers, so the SQL and the Arrow
    types are the ones it uses) to time each statement. It bypasses the writer lock: nothing else writes here.
    """
    clock = _Clock()
    records = parse_json(body)["metrics"]
    clock.lap("decode JSON (params.parse_json)")
    now = dt.datetime.now(dt.UTC)
    result = parse_batch(records, datetime_to_ns(now), limits)
    clock.lap("validate (parse_batch)")
    columns = staging_columns(result.accepted, now)
    clock.lap("staging_columns (tags JSON, buckets)")
    staged = _arrow(columns)
    clock.lap("Arrow table")
    low, high = timestamp_range(result.accepted)
    writer = warehouse._writer
    writer.register(STAGING_TABLE, staged)
    writer.execute("BEGIN TRANSACTION")
    for name, statement in zip(_STATEMENT_NAMES, to_duckdb(load_query("ingest_metrics")), strict=True):
        _run(writer, [statement], {"min_timestamp": low, "max_timestamp": high})
        clock.lap(name)
    writer.execute("COMMIT")
    writer.unregister(STAGING_TABLE)
    clock.lap("COMMIT (WAL write)")
    return clock.laps


_STATEMENT_NAMES = (
    "SQL new_metrics (dedupe anti-join)",
    "SQL insert metric_rollups_1m",
    "SQL insert performance_metrics",
    "SQL count stored",
)


class _Clock:
    """Laps of perf_counter, by name."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name], self._last = now - self._last, now


def _evaluation_seconds(warehouse: DuckDBWarehouse) -> float:
    """The query each evaluation runs (minute_p95 over the rule's lookback), timed once over the loaded data."""
    rule = ThresholdRule()
    start, end = evaluation_range(rule, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
    started = time.perf_counter()
    warehouse.query(load_query("minute_p95"), {"metric_type": rule.metric_type, "start": start, "end": end})
    return time.perf_counter() - started


def _print_phases(steps: list[dict[str, float]], batch_size: int, preload: int) -> None:
    print(
        f"  {len(steps)} batches of {batch_size:,}; ms per batch: median (p10 / p90: the spread is the machine's noise)"
    )
    total = [sum(step.values()) for step in steps]
    for name in steps[0]:
        print(f"    {name:38} {_spread([step[name] for step in steps])}")
    print(f"    {'total':38} {_spread(total)}")
    per_s = batch_size / statistics.median(total)
    print(f"  RESULT ingest phases preload={preload:,}: {per_s:,.0f} metrics/s for one thread without HTTP")


def _spread(values: Sequence[float]) -> str:
    ordered = sorted(values)
    median, low, high = (quantile(ordered, q) * 1000 for q in (0.5, 0.1, 0.9))
    return f"{median:7.2f}  ({low:6.2f} / {high:6.2f})"


def main(argv: Sequence[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--batches", type=int, default=200, help="timed batches per client count (default 200)")
    parser.add_argument("--batch-size", type=int, default=1000, help="records per batch (default 1000)")
    parser.add_argument("--seconds", type=float, default=60.0, help="stop after this long (default 60)")
    parser.add_argument("--clients", default="1,2", help="client thread counts to run, e.g. 1,2 (default)")
    parser.add_argument("--fresh", action="store_true", help="records 10-20 s old when sent (default: last 5 min)")
    parser.add_argument("--phases", action="store_true", help="time each ingest step in-process instead")
    parser.add_argument("--preload", type=int, default=0, help="with --phases: rows stored first (default 0)")
    args = parser.parse_args(argv)
    if args.phases:
        phases(args.batches, args.batch_size, args.preload)
    else:
        run(args.batches, args.batch_size, args.seconds, [int(n) for n in args.clients.split(",")], args.fresh)


if __name__ == "__main__":
    main()
