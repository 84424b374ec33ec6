"""Golden tests: every query of perfguard/queries/ run on DuckDB (through sqlglot) over hand-made data,
checked against hand-computed numbers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from perfguard.domain.histogram import bucket_of
from perfguard.domain.silences import Matcher
from perfguard.domain.thresholds import ThresholdRule
from perfguard.domain.validation import IngestLimits, parse_batch
from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse
from perfguard.warehouse.sql import load_query
from perfguard.warehouse.window_stats import window_stats_query
from tests.support.doubles import embedded_store

T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
NOW = T0 + dt.timedelta(hours=3)
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    store = embedded_store(tmp_path / "golden.duckdb")
    yield store
    store.close()


def metric(endpoint: str, value: float, at: dt.datetime, record_id: str, **tags: str) -> dict[str, Any]:
    stamp = int(at.timestamp()) * 10**9 + at.microsecond * 1000
    return {
        "id": record_id,
        "metric_type": "api_latency",
        "endpoint_or_operation": endpoint,
        "value": value,
        "unit": "ms",
        "timestamp": stamp,
        "tags": tags,
    }


def ingest(store: DuckDBWarehouse, records: list[dict[str, Any]]) -> int:
    batch = parse_batch(records, int(NOW.timestamp()) * 10**9, IngestLimits())
    assert not batch.rejected, batch.rejected
    return store.ingest_metrics(batch.accepted, NOW)


def params(**extra: Any) -> dict[str, Any]:
    return {
        "metric_type": "api_latency",
        "start": T0,
        "end": T0 + dt.timedelta(hours=1),
        "endpoint_or_operation": None,
        "interval_us": 0,
        **extra,
    }


def test_ingest_stores_new_ids_once_and_rolls_them_up(warehouse: DuckDBWarehouse) -> None:
    records = [metric("a", v, T0 + dt.timedelta(seconds=i), f"id{i}") for i, v in enumerate([1.0, 2.0, 4.0])]
    assert ingest(warehouse, records + [records[0]]) == 3  # a repeat inside the batch counts once
    assert ingest(warehouse, records) == 0  # a retried batch stores nothing
    rows = warehouse.query(
        "SELECT bucket, SUM(count) AS n, SUM(sum) AS s FROM metric_rollups_1m GROUP BY bucket ORDER BY bucket", {}
    )
    assert [(r["bucket"], r["n"], r["s"]) for r in rows] == [(0, 1, 1.0), (64, 1, 2.0), (128, 1, 4.0)]


def test_performance_data_pages_and_filters(warehouse: DuckDBWarehouse) -> None:
    ingest(
        warehouse,
        [
            metric("a", float(i), T0 + dt.timedelta(seconds=i // 2), f"id{i:02}", status="ok" if i % 2 else "error")
            for i in range(6)
        ],
    )
    sql = load_query("performance_data").replace("/*tag_filters*/", "AND JSON_VALUE(tags, '$.status') = @tag_0")
    first = warehouse.query(
        sql, params(after_timestamp=dt.datetime(1970, 1, 1, tzinfo=dt.UTC), after_id="", limit=2, tag_0="error")
    )
    assert [r["id"] for r in first] == ["id00", "id02"]
    after = warehouse.query(
        sql, params(after_timestamp=first[-1]["timestamp"], after_id="id02", limit=2, tag_0="error")
    )
    assert [r["id"] for r in after] == ["id04"] and json.loads(after[0]["tags"]) == {"status": "error"}


def test_summary_exact_numbers(warehouse: DuckDBWarehouse) -> None:
    values = [10.0, 20.0, 30.0, 40.0, 1000.0]
    ingest(
        warehouse,
        [
            metric("a", v, T0 + dt.timedelta(minutes=i), f"a{i}", status="timeout" if i == 4 else "ok")
            for i, v in enumerate(values)
        ]
        + [metric("b", 5.0, T0, "b0", status_code="503")],
    )
    rows = {r["endpoint_or_operation"]: r for r in warehouse.query(load_query("summary_exact"), params())}
    a = rows["a"]
    # Linear interpolation by hand: rank q*(n-1) = 2 -> 30; 3.8 -> 40 + 0.8*960 = 808; 3.96 -> 40 + 0.96*960 = 961.6
    assert (a["count"], a["min"], a["max"], a["mean"]) == (5, 10.0, 1000.0, 220.0)
    assert (a["p50"], a["p95"], a["p99"]) == (30.0, pytest.approx(808.0), pytest.approx(961.6))
    assert (a["error_count"], a["timeout_count"]) == (1, 1)
    assert (rows["b"]["error_count"], rows["b"]["timeout_count"]) == (1, 0)


def test_summary_exact_buckets_start_on_interval_boundaries(warehouse: DuckDBWarehouse) -> None:
    # 10:04:59.600 must fall in the 10:00 bucket, not round up into 10:05.
    stamps = [T0 + dt.timedelta(minutes=4, seconds=59, microseconds=600_000), T0 + dt.timedelta(minutes=5)]
    ingest(warehouse, [metric("a", 1.0, stamps[0], "x"), metric("a", 2.0, stamps[1], "y")])
    rows = warehouse.query(load_query("summary_exact"), params(interval_us=300_000_000))
    assert [(r["bucket_start"], r["count"]) for r in rows] == [(T0, 1), (T0 + 5 * MINUTE, 1)]


def test_summary_histogram_sums_partial_rollups(warehouse: DuckDBWarehouse) -> None:
    values = [3.0, 3.0, 7.5, 120.0]
    ingest(warehouse, [metric("a", v, T0 + dt.timedelta(seconds=i), f"h{i}") for i, v in enumerate(values[:2])])
    ingest(
        warehouse,
        [
            metric("a", v, T0 + dt.timedelta(seconds=i + 2), f"h{i + 2}", status="error")
            for i, v in enumerate(values[2:])
        ],
    )
    rows = warehouse.query(load_query("summary_histogram"), params())
    by_bucket = {r["bucket"]: r for r in rows}
    assert set(by_bucket) == {bucket_of(v) for v in values}
    assert by_bucket[bucket_of(3.0)]["count"] == 2 and by_bucket[bucket_of(120.0)]["error_count"] == 1
    assert sum(r["sum"] for r in rows) == pytest.approx(sum(values))


def test_minute_p95_per_endpoint_and_overall(warehouse: DuckDBWarehouse) -> None:
    a = [float(v) for v in range(1, 21)]
    b = [100.0] * 5
    ingest(
        warehouse,
        [metric("a", v, T0 + dt.timedelta(seconds=i), f"a{i}") for i, v in enumerate(a)]
        + [metric("b", v, T0 + dt.timedelta(seconds=i), f"b{i}") for i, v in enumerate(b)],
    )
    rows = warehouse.query(load_query("minute_p95"), params())
    got = {(r["endpoint_or_operation"], r["minute"]): (r["count"], r["p95"]) for r in rows}
    assert got[("a", T0)] == (20, pytest.approx(np.percentile(a, 95)))
    assert got[("b", T0)] == (5, 100.0)
    assert got[(None, T0)] == (25, pytest.approx(np.percentile(a + b, 95)))


def test_overall_p95(warehouse: DuckDBWarehouse) -> None:
    values = [float(v) for v in range(100)]
    ingest(warehouse, [metric(f"e{i % 3}", v, T0 + dt.timedelta(seconds=i), f"o{i}") for i, v in enumerate(values)])
    [row] = warehouse.query(load_query("overall_p95"), params())
    assert (row["count"], row["p95"]) == (100, pytest.approx(94.05))


def test_recent_alerts_returns_the_latest_state_of_each_alert(warehouse: DuckDBWarehouse) -> None:
    base = {
        "alert_type": "threshold_exceeded",
        "rule": "r",
        "metric_type": "api_latency",
        "threshold_value": 2000.0,
        "severity": "high",
        "changed_by": "evaluator",
        "context": json.dumps({"endpoint_or_operation": "a"}),
    }
    old = T0 - dt.timedelta(days=2)
    warehouse.append_rows(
        "performance_alerts",
        [
            {**base, "id": "open-then-resolved", "status": "open", "triggered_at": T0, "changed_at": T0},
            {
                **base,
                "id": "open-then-resolved",
                "status": "resolved",
                "triggered_at": T0,
                "changed_at": T0 + MINUTE,
                "resolved_at": T0 + MINUTE,
            },
            {**base, "id": "still-open", "status": "investigating", "triggered_at": old, "changed_at": old},
            {**base, "id": "long-resolved", "status": "resolved", "triggered_at": old, "changed_at": old},
        ],
    )
    rows = warehouse.query(load_query("recent_alerts"), {"metric_type": "api_latency", "since": T0 - MINUTE})
    assert [(r["id"], r["status"]) for r in rows] == [
        ("still-open", "investigating"),
        ("open-then-resolved", "resolved"),
    ]
    assert json.loads(rows[0]["context"]) == {"endpoint_or_operation": "a"}


def test_delete_before_drops_only_older_partitions(warehouse: DuckDBWarehouse) -> None:
    ingest(warehouse, [metric("a", 1.0, T0, "new"), metric("a", 1.0, T0 - dt.timedelta(days=1), "old")])
    assert warehouse.delete_before("performance_metrics", T0 - dt.timedelta(hours=1)) == 1
    assert [r["id"] for r in warehouse.query("SELECT id FROM performance_metrics", {})] == ["new"]


def test_json_columns_keep_exactly_the_keys_each_row_had(warehouse: DuckDBWarehouse) -> None:
    base = {
        "alert_type": "t",
        "rule": "r",
        "metric_type": "api_latency",
        "threshold_value": 1.0,
        "severity": "low",
        "status": "open",
        "changed_by": "test",
        "triggered_at": T0,
        "changed_at": T0,
    }
    warehouse.append_rows(
        "performance_alerts", [{**base, "id": "x", "context": {"a": 1}}, {**base, "id": "y", "context": {"b": [2]}}]
    )
    rows = warehouse.query("SELECT id, CAST(context AS VARCHAR) AS c FROM performance_alerts ORDER BY id", {})
    assert [json.loads(r["c"]) for r in rows] == [{"a": 1}, {"b": [2]}]


def test_window_stats_buckets_windows_and_applies_the_rule_matchers(warehouse: DuckDBWarehouse) -> None:
    # 5-minute windows: 10:00 holds the first 10 records (one a second before 10:05), 10:05 the other 10.
    stamps = [T0 + dt.timedelta(seconds=30 * i) for i in range(9)] + [T0 + dt.timedelta(minutes=5, microseconds=-1)]
    stamps += [T0 + dt.timedelta(minutes=5, seconds=25 * i) for i in range(10)]
    records = [
        metric("POST /swaps" if i % 2 else "GET /list", float(100 * (i + 1)), at, f"w{i}",
               status="error" if i % 4 == 1 else "ok", region="eu" if i < 15 else "us")
        for i, at in enumerate(stamps)
    ]  # fmt: skip
    ingest(warehouse, records)
    rule = ThresholdRule(
        statistic="ratio",
        window=5 * MINUTE,
        match=(Matcher("region", "=", "eu"),),
        numerator=(Matcher("status", "=~", "err.*"),),
        denominator=(Matcher("endpoint", "!=", "GET /list"),),
    )
    sql, sql_params = window_stats_query(rule, T0, T0 + dt.timedelta(hours=1))
    rows = {(r["endpoint_or_operation"], r["minute"]): r for r in warehouse.query(sql, sql_params)}
    overall, later = rows[(None, T0)], rows[(None, T0 + 5 * MINUTE)]
    first_values = [100.0 * (i + 1) for i in range(10)]
    assert (overall["count"], overall["numerator"], overall["denominator"]) == (10, 3, 5)  # errors: 1, 5, 9
    assert "p95" not in overall  # a ratio rule reads window_counts: no percentiles computed
    sql, sql_params = window_stats_query(dataclasses.replace(rule, statistic="p95"), T0, T0 + dt.timedelta(hours=1))
    with_percentiles = {(r["endpoint_or_operation"], r["minute"]): r for r in warehouse.query(sql, sql_params)}
    assert with_percentiles[(None, T0)]["p95"] == pytest.approx(np.percentile(first_values, 95))
    assert with_percentiles[(None, T0)]["numerator"] == overall["numerator"]
    assert (overall["min"], overall["max"], overall["mean"]) == (100.0, 1000.0, pytest.approx(550.0))
    assert (later["count"], later["numerator"], later["denominator"]) == (5, 1, 2)  # region eu: records 10-14
    assert rows[("POST /swaps", T0)]["count"] == 5 and ("GET /list", T0 + 5 * MINUTE) in rows


def test_window_stats_group_by_labels_split_each_endpoint(warehouse: DuckDBWarehouse) -> None:
    records = [
        metric("POST /swaps", float(v), T0 + dt.timedelta(seconds=i), f"g{i}", platform=p)
        for i, (v, p) in enumerate([(100, "android"), (300, "android"), (900, "ios"), (50, "")])
    ] + [metric("POST /swaps", 70.0, T0 + dt.timedelta(seconds=9), "g9")]  # no platform tag at all
    ingest(warehouse, records)
    rule = ThresholdRule(statistic="max", group_by=("platform",))
    sql, sql_params = window_stats_query(rule, T0, T0 + dt.timedelta(hours=1))
    got = {r["endpoint_or_operation"]: (r["count"], r["max"]) for r in warehouse.query(sql, sql_params)}
    assert got == {
        'POST /swaps {platform="android"}': (2, 300.0),
        'POST /swaps {platform="ios"}': (1, 900.0),
        'POST /swaps {platform=""}': (2, 70.0),  # an empty and a missing tag are the same group, as in Alertmanager
        None: (5, 900.0),
    }
