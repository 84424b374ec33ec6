"""Performance Monitoring export -> perfguard records, so the existing summaries, rules and KPIs see them.

- NETWORK_REQUEST -> `api_latency` (endpoint = the URL pattern, ms = response_completed_time_us / 1000,
  outcome ok for response codes 100-399 as the console counts success), source `firebase_performance`.
- `_app_start` -> `user_journey` `app_start` (measure cold_start, ms): Firebase's app start is the cold start.
- other DURATION_TRACEs (custom traces, journey marks, time to interactive of key screens) ->
  `user_journey` `trace:<name>` (ms); `_app_in_foreground` / `_app_in_background` are left out.
- SCREEN_TRACE -> `user_journey` `screen:<name>`, two rows: slow and frozen frame percentages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from perfguard.domain.metric import MetricType, Outcome, PerformanceMetric, Unit, derived_metric
from perfguard.firebase.exports import ExportTable
from perfguard.firebase.templates import render, source_ref
from perfguard.runtime import Runtime

SOURCE = "firebase_performance"
# The export is ingestion-time partitioned (the official samples filter on _PARTITIONTIME) and a row is loaded
# after it happened, so no partition before the range's first day can hold it. The embedded store has none.
PARTITION_FILTER = "AND p._PARTITIONTIME >= TIMESTAMP_TRUNC(@start, DAY)"
_SKIPPED_TRACES = ("_app_in_foreground", "_app_in_background")


def read_new_records(
    runtime: Runtime, table: ExportTable, start: dt.datetime, end: dt.datetime
) -> list[PerformanceMetric]:
    """The records of the rows of one performance table in [start, end) not stored yet."""
    partition = PARTITION_FILTER if runtime.settings.warehouse == "bigquery" else ""
    sql = render("firebase_perf_events", source_ref(runtime, table), {"partition_filter": partition})
    rows = runtime.warehouse.query(sql, {"start": start, "end": end, "table": f"{table.dataset}.{table.name}"})
    records: list[PerformanceMetric] = []
    for row in rows:
        records.extend(records_of(runtime, row, table.platform))
    return records


def records_of(runtime: Runtime, row: Mapping[str, Any], platform: str) -> list[PerformanceMetric]:
    """The perfguard records of one flattened export row (none for rows we do not use)."""
    tags = {"platform": platform, "app_version": str(row.get("app_version") or "unknown")}
    if row.get("country"):
        tags["country"] = str(row["country"])
    kind, name = row["event_type"], str(row["event_name"] or "")
    if kind == "NETWORK_REQUEST":
        return _request(runtime, row, name, tags)
    if kind == "SCREEN_TRACE":
        return _screen(runtime, row, name, tags)
    if name in _SKIPPED_TRACES or row.get("duration_us") is None:
        return []
    endpoint, measure = ("app_start", "cold_start") if name == "_app_start" else (f"trace:{name}", "duration")
    value = int(row["duration_us"]) / 1000.0
    return [
        _record(runtime, row["id"], MetricType.USER_JOURNEY, endpoint, value, Unit.MS, row, tags | {"measure": measure})
    ]


def _request(runtime: Runtime, row: Mapping[str, Any], name: str, tags: dict[str, str]) -> list[PerformanceMetric]:
    if row.get("response_time_us") is None:
        return []
    code = row.get("response_code")
    extra = {"status_code": str(code) if code is not None else "none", "http_method": str(row.get("http_method") or "")}
    if row.get("radio_type"):
        extra["network_type"] = str(row["radio_type"])
    ok = code is not None and 100 <= int(code) <= 399
    value = int(row["response_time_us"]) / 1000.0
    return [
        _record(
            runtime,
            row["id"],
            MetricType.API_LATENCY,
            name,
            value,
            Unit.MS,
            row,
            tags | extra,
            Outcome.OK if ok else Outcome.ERROR,
        )
    ]


def _screen(runtime: Runtime, row: Mapping[str, Any], name: str, tags: dict[str, str]) -> list[PerformanceMetric]:
    screen = name.removeprefix("_st_")
    records = []
    for suffix, column in (("slow", "slow_frame_ratio"), ("frozen", "frozen_frame_ratio")):
        if row.get(column) is not None:
            measure = {"measure": f"{suffix}_frames", "screen": screen}
            records.append(
                _record(
                    runtime,
                    f"{row['id']}_{suffix}",
                    MetricType.USER_JOURNEY,
                    f"screen:{screen}",
                    100.0 * float(row[column]),
                    Unit.PERCENTAGE,
                    row,
                    tags | measure,
                )
            )
    return records


def _record(
    runtime: Runtime,
    id_: str,
    metric_type: MetricType,
    endpoint: str,
    value: float,
    unit: Unit,
    row: Mapping[str, Any],
    tags: dict[str, str],
    outcome: Outcome = Outcome.OK,
) -> PerformanceMetric:
    return derived_metric(id_, metric_type, endpoint, value, unit, row["event_timestamp"], tags, source=SOURCE,
                          environment=runtime.settings.environment, outcome=outcome,
                          release=tags.get("app_version"))  # fmt: skip
