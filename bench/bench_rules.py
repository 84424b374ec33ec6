"""Rule evaluation: 100 rules over 50 endpoints with 5-minute windows on the embedded stack (target <= 1 s per
evaluation), plus the packaged rules, and what one evaluation would scan on BigQuery.

Run: .venv/bin/python -m bench.bench_rules [--hours 6] [--per-minute 1000] [--repeats 5]

The store holds `hours` of api_latency records (50 endpoints, `per-minute` records a minute, lognormal
latencies, bench/common.py) written through `DuckDBWarehouse.ingest_metrics`. Each evaluation is
`perfguard.api.rule_evaluation.evaluate_rules`, the evaluator's own code, timed `repeats` times (median,
min and max printed). Three rule sets:
  shared     100 threshold rules reading 10 selectors (statistics and thresholds vary): one query a selector
  distinct   100 rules, two per endpoint, each reading its endpoint only: 50 selectors
  packaged   functions/perfguard/rules.yaml (10 rules; the KPI rules find no data, trend/anomaly no history)
The BigQuery figure is arithmetic, not a measurement (no BigQuery here): on-demand queries are billed by the
bytes of the columns they read in every partition they touch, so a 15-minute range costs the whole day's
partition of the clustered metric_type block. It uses the stored rows' own column sizes. No assertions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.common import ENDPOINTS, as_metrics, generate, machine, temp_dir
from perfguard.api.rule_evaluation import evaluate_rules
from perfguard.domain.rule_kinds import data_ranges
from perfguard.domain.silences import Matcher
from perfguard.domain.thresholds import ThresholdRule
from perfguard.runtime import load_threshold_rules
from perfguard.settings import Settings
from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse
from perfguard.warehouse.schema import default_schemas_dir, load_tables, load_views
from perfguard.warehouse.window_stats import selector_key

COMMAND = ".venv/bin/python -m bench.bench_rules"
TARGET_S = 1.0
FIVE = dt.timedelta(minutes=5)
STATISTICS = ("p50", "p95", "p99", "mean", "max", "count", "ratio")
PRICE_PER_TIB = 6.25  # BigQuery on-demand, USD (2026 list price)
ROLLUP_ROW_BYTES = 8 + 8 + 8 * 6  # minute, bucket, count/sum/min/max/error/timeout (+ strings, added below)
MIN_BILLED = 10 * 2**20  # BigQuery bills at least 10 MiB a query


def shared_rules() -> list[ThresholdRule]:
    """100 rules over 10 selectors: all endpoints, 4 route families, 5xx only, and 4 platform slices."""
    selectors = [(), (Matcher("status_code", "=~", "5.."),)]
    selectors += [(Matcher("endpoint", "=~", f"(GET|POST) /api/v1/{route}.*"),) for route in ("s", "l", "o", "u")]
    selectors += [(Matcher("platform", "=", p),) for p in ("android", "ios")]
    selectors += [(Matcher("region", "!=", "asia-east1"),), (Matcher("status_code", "!~", "2.."),)]
    rules = []
    for i in range(100):
        statistic = STATISTICS[i % len(STATISTICS)]
        rules.append(_rule(f"shared_{i}", statistic, selectors[i % len(selectors)]))
    return rules


def distinct_rules() -> list[ThresholdRule]:
    """100 rules, two per endpoint, each reading only its endpoint."""
    return [_rule(f"distinct_{i}", STATISTICS[i % 2 + 1], (Matcher("endpoint", "=", ENDPOINTS[i % len(ENDPOINTS)]),))
            for i in range(100)]  # fmt: skip


def _rule(name: str, statistic: str, match: tuple[Matcher, ...]) -> ThresholdRule:
    ratio = statistic == "ratio"
    return ThresholdRule(
        name=name,
        statistic=statistic,
        threshold=0.05 if ratio else 400.0,
        window=FIVE,
        windows=3,
        min_samples=5,
        match=match,
        numerator=(Matcher("status_code", "=~", "5.."),) if ratio else (),
        lookback=dt.timedelta(minutes=25),
    )


def build_store(folder: Path, hours: float, per_minute: int, end: dt.datetime) -> DuckDBWarehouse:
    """A store of `hours` of records ending at `end`."""
    schemas = default_schemas_dir()
    store = DuckDBWarehouse(folder / "rules.duckdb", load_tables(schemas), load_views(schemas, "main"))
    store.ensure_tables()
    count = int(hours * 60 * per_minute)
    end_ns = int(end.timestamp()) * 10**9
    start_ns = end_ns - int(hours * 3600) * 10**9
    columns = generate(count, start_ns, end_ns, np.random.default_rng(7), "rules")
    for first in range(0, count, 100_000):
        store.ingest_metrics(as_metrics(columns, range(first, min(first + 100_000, count))), end)
    print(f"  store: {count:,} api_latency records over {hours:g} h, {len(ENDPOINTS)} endpoints")
    return store


def time_evaluation(
    name: str, store: DuckDBWarehouse, rules: Sequence[ThresholdRule], at: dt.datetime, repeats: int
) -> None:
    """Median, min and max of `repeats` evaluations; how many queries one runs."""
    seconds = []
    for i in range(repeats):
        moment = at + dt.timedelta(minutes=i)  # a new minute each time: nothing cached between evaluations
        started = time.perf_counter()
        results = evaluate_rules(store, rules, moment)
        seconds.append(time.perf_counter() - started)
    queries = len({(selector_key(r), rng) for r in rules for rng in data_ranges(r, at)})
    firing = sum(len(result.breaches) for result in results)
    median = statistics.median(seconds)
    verdict = "meets" if median <= TARGET_S else "MISSES"
    print(f"RESULT rules {name}: {len(rules)} rules, {queries} queries: median {median * 1000:,.0f} ms "
          f"(min {min(seconds) * 1000:,.0f}, max {max(seconds) * 1000:,.0f}; {firing} groups firing) — "
          f"{verdict} the {TARGET_S:g} s target")  # fmt: skip


def bigquery_bytes(store: DuckDBWarehouse, rules: Sequence[ThresholdRule], at: dt.datetime, rows_per_day: int) -> None:
    """What one evaluation of `rules` would bill on BigQuery with `rows_per_day` api_latency records a day:
    today's layout (day partitions clustered by metric_type, endpoint_or_operation: a query reads the whole
    day of its metric type, or of its endpoint under an endpoint= matcher), a time-pruned layout (the range's
    rows only, but at least BigQuery's 10 MiB minimum a query), and the same on metric_rollups_1m."""
    sizes = store.query(
        "SELECT AVG(LENGTH(endpoint_or_operation)) AS endpoint, AVG(LENGTH(CAST(tags AS VARCHAR))) AS tags, "
        "AVG(LENGTH(metric_type)) AS metric_type, COUNT(*) / COUNT(DISTINCT endpoint_or_operation) AS per_endpoint, "
        "COUNT(*) AS rows FROM performance_metrics",
        {},
    )[0]
    rollups = store.query("SELECT COUNT(*) AS rows FROM metric_rollups_1m", {})[0]["rows"]
    # Columns window_stats reads: timestamp, metric_type, endpoint_or_operation, value, tags (matchers), outcome.
    per_row = 8 + 8 + (2 + sizes["metric_type"]) + (2 + sizes["endpoint"]) + (2 + sizes["tags"]) + (2 + 2)
    rollup_row = ROLLUP_ROW_BYTES + (2 + sizes["endpoint"]) + (2 + sizes["metric_type"])
    queries = {(selector_key(r), rng): r for r in rules for rng in data_ranges(r, at)}
    day_layout = range_floor = rollup_floor = 0.0
    for (_, (start, end)), rule in queries.items():
        share = 1 / len(ENDPOINTS) if any(m.label == "endpoint" and m.op == "=" for m in rule.match) else 1.0
        day_layout += _days_touched((start, end)) * rows_per_day * share * per_row
        in_range = rows_per_day * share * (end - start) / dt.timedelta(days=1)
        range_floor += max(in_range * per_row, MIN_BILLED)
        rollup_floor += max(in_range * rollups / sizes["rows"] * rollup_row, MIN_BILLED)

    def cost(scanned: float) -> str:
        return f"{scanned / 2**20:,.0f} MiB (${scanned * 1440 / 2**40 * PRICE_PER_TIB:,.2f}/day)"

    print(f"    BigQuery, every metric type at {rows_per_day:,} records/day, {per_row:.0f} B a row read, a query a "
          f"minute: today's layout {cost(day_layout)} per evaluation;")  # fmt: skip
    print(f"      time-pruned {cost(range_floor)}; rollups time-pruned {cost(rollup_floor)} (10 MiB minimum a query)")


def _days_touched(rng: tuple[dt.datetime, dt.datetime]) -> int:
    start, end = rng
    return (end - dt.timedelta(microseconds=1)).date().toordinal() - start.date().toordinal() + 1


def run(hours: float, per_minute: int, repeats: int) -> None:
    """Build the store, time the three rule sets, print the BigQuery arithmetic."""
    print(f"bench_rules: rule evaluation on the embedded stack ({COMMAND}); {machine()}")
    end = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(minutes=10)
    with temp_dir("perfguard-bench-rules-") as folder:
        started = time.perf_counter()
        store = build_store(folder, hours, per_minute, end)
        print(f"  store built in {time.perf_counter() - started:.0f} s")
        at = end - dt.timedelta(minutes=repeats)
        packaged = load_threshold_rules(Settings())
        for name, rules in (("shared", shared_rules()), ("distinct", distinct_rules()), ("packaged", packaged)):
            time_evaluation(name, store, rules, at, repeats)
            bigquery_bytes(store, rules, at, 1_000_000)
        store.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--hours", type=float, default=6.0, help="hours of data in the store (default 6)")
    parser.add_argument("--per-minute", type=int, default=1000, help="records a minute, all endpoints (default 1000)")
    parser.add_argument("--repeats", type=int, default=5, help="evaluations timed per rule set (default 5)")
    args = parser.parse_args(argv)
    run(args.hours, args.per_minute, args.repeats)


if __name__ == "__main__":
    main()
