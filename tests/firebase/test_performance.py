"""Performance Monitoring rows become perfguard records once: requests as api_latency per URL pattern (source
firebase_performance, success = codes 100-399), app starts, custom traces and screens' frame percentages as
user_journey; the vitals query gives app start percentiles per version and frames per screen."""

from __future__ import annotations

import datetime as dt
from typing import Any

from perfguard.api.firebase_import import import_firebase
from perfguard.firebase.catalog import insert_export_rows
from perfguard.firebase.exports import PERFORMANCE, ExportTable
from perfguard.runtime import Runtime
from perfguard.warehouse.sql import load_query
from tests.firebase.conftest import T0, Clock
from tests.firebase.fixtures import PERFORMANCE_FIXTURE

TABLE = ExportTable(PERFORMANCE, "firebase_performance", "com_example_market_ANDROID", "com.example.market", "ANDROID")


def recent(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**row, "event_timestamp": T0 - dt.timedelta(hours=1, seconds=n)} for n, row in enumerate(rows)]


def records(runtime: Runtime) -> list[dict[str, Any]]:
    return runtime.warehouse.query(
        "SELECT metric_type, endpoint_or_operation, value, unit, outcome, source,"
        " JSON_VALUE(tags, '$.measure') AS measure FROM performance_metrics ORDER BY endpoint_or_operation, measure",
        {},
    )


def test_the_reference_rows_become_records_once(runtime: Runtime, clock: Clock) -> None:
    insert_export_rows(runtime, TABLE, recent(PERFORMANCE_FIXTURE))
    import_firebase(runtime)
    expected = [
        ("api_latency", "api.example.com/v1/listings/*", 702.0, "ms", "ok", None),
        ("user_journey", "app_start", 1843.0, "ms", "ok", "cold_start"),
        ("user_journey", "screen:FlutterViewController", 0.21, "percentage", "ok", "frozen_frames"),
        ("user_journey", "screen:FlutterViewController", 8.3, "percentage", "ok", "slow_frames"),
        ("user_journey", "trace:buy_listing_flow", 41250.0, "ms", "ok", "duration"),
    ]
    got = [
        (r["metric_type"], r["endpoint_or_operation"], round(r["value"], 4), r["unit"], r["outcome"], r["measure"])
        for r in records(runtime)
    ]
    assert got == expected  # the TRACE_METRIC row is not a record
    assert {r["source"] for r in records(runtime)} == {"firebase_performance"}
    clock.now = T0 + dt.timedelta(hours=2)
    insert_export_rows(runtime, TABLE, recent(PERFORMANCE_FIXTURE))  # the same rows loaded again
    import_firebase(runtime)
    assert len(records(runtime)) == len(expected)


def test_failed_requests_are_errors_and_vitals_per_version(runtime: Runtime) -> None:
    request = PERFORMANCE_FIXTURE[4]
    rows = [
        {
            **request,
            "network_info": {**request["network_info"], "response_code": code, "response_completed_time_us": us},
        }
        for code, us in ((200, 100_000), (200, 200_000), (503, 300_000), (404, 400_000))
    ]
    start = {**PERFORMANCE_FIXTURE[0]}
    starts = [{**start, "trace_info": {"duration_us": ms * 1000}} for ms in (1000, 2000, 3000)]
    insert_export_rows(runtime, TABLE, recent(rows + starts))
    import_firebase(runtime)
    vitals = runtime.warehouse.query(
        load_query("firebase_mobile_vitals"), {"start": T0 - dt.timedelta(hours=2), "end": T0}
    )
    by_name = {(v["endpoint_or_operation"], v["measure"]): v for v in vitals}
    app_start = by_name[("app_start", "cold_start")]
    assert (app_start["platform"], app_start["app_version"], app_start["count"]) == ("ANDROID", "2.3.1", 3)
    assert [round(app_start[p], 6) for p in ("p50", "p90", "p95")] == [2000.0, 2800.0, 2900.0]
    requests = by_name[("api.example.com/v1/listings/*", "latency")]
    assert (requests["count"], requests["p95"], requests["success_rate"]) == (4, 385.0, 0.5)


def test_on_bigquery_the_query_filters_on_the_ingestion_time_partitions() -> None:
    from perfguard.firebase.performance import PARTITION_FILTER
    from perfguard.firebase.templates import render

    sql = render("firebase_perf_events", "`p.firebase_performance.t`", {"partition_filter": PARTITION_FILTER})
    assert "p._PARTITIONTIME >= TIMESTAMP_TRUNC(@start, DAY)" in sql
