"""Golden checks of every firebase_*.sql query on DuckDB, on small hand-made data with hand-computed answers."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from perfguard.firebase.catalog import create_export_tables, insert_export_rows
from perfguard.firebase.exports import GA4, SESSIONS, ExportTable
from perfguard.firebase.sessions import session_metric
from perfguard.firebase.templates import optional_column, render
from perfguard.runtime import Runtime
from perfguard.warehouse.sql import load_query
from tests.firebase.conftest import T0
from tests.firebase.fixtures import GA4_FIXTURE

MIN = dt.timedelta(minutes=1)
DAY1 = dt.datetime(2026, 11, 19, 10, tzinfo=dt.UTC)
SESSIONS_TABLE = ExportTable(
    SESSIONS, "firebase_sessions", "com_example_market_ANDROID", "com.example.market", "ANDROID"
)


def crash(
    event_id: str, cluster: str, at: dt.datetime, session: str | None, user: str, version: str, **extra: Any
) -> dict[str, Any]:
    row = {
        "event_id": event_id,
        "cluster_id": cluster,
        "issue_id": f"issue-{cluster}",
        "issue_title": f"t-{cluster}",
        "error_type": "FATAL",
        "exception_type": "FlutterError",
        "app": "com.example.market",
        "platform": "ANDROID",
        "app_version": version,
        "event_timestamp": at,
        "session_id": session,
        "installation_id": user,
        "top_frames": json.dumps([f"{cluster}.dart f"]),
        "device_model": "m1",
        "os_version": "14",
        "memory_free": 100 * 2**20,
        "process_state": "FOREGROUND",
        "imported_at": T0 - 2 * MIN,
    }
    return row | extra


CRASHES = [
    crash("e1", "c1", T0 - 10 * MIN, "s1", "u1", "v1"),
    crash("e2", "c1", T0 - 5 * MIN, "s1", "u1", "v1", device_model="m2", memory_free=500 * 2**20),
    crash("e3", "c1", T0 - 40 * MIN, "s2", "u2", "v2", memory_free=2 * 2**30, process_state=None, imported_at=T0),
    crash("e4", "c2", T0 - 3 * MIN, None, "u3", "v1", error_type="ANR", memory_free=None),
]


@pytest.fixture
def data(runtime: Runtime) -> Runtime:
    runtime.warehouse.append_rows("crash_events", CRASHES)
    metrics = [
        session_metric(
            runtime, f"fb_session_{n}", "session_start", T0 - (20 + n) * MIN, "com.example.market", "ANDROID", "v1"
        )
        for n in range(4)
    ] + [
        session_metric(runtime, "fb_session_d1", "session_start", DAY1, "com.example.market", "ANDROID", "v2"),
        session_metric(runtime, "fb_crash_d1", "fatal_crash", DAY1 + MIN, "com.example.market", "ANDROID", "v2"),
    ]
    runtime.warehouse.ingest_metrics(metrics, T0)
    return runtime


def q(
    runtime: Runtime, name: str, params: dict[str, Any], source: str = "", **expressions: str
) -> list[dict[str, Any]]:
    sql = render(name, source, expressions) if source else load_query(name)
    return runtime.warehouse.query(sql, params)


def test_crash_free_counts_sessions_and_crashed_sessions_per_version_and_day(data: Runtime) -> None:
    rows = q(data, "firebase_crash_free", {"start": DAY1 - MIN, "end": T0})
    assert [(r["app_version"], str(r["day"]), r["sessions"], r["crashed_sessions"]) for r in rows] == [
        ("v1", "2026-11-20", 4, 0),
        ("v2", "2026-11-19", 1, 1),
    ]


def test_velocity_counts_fatal_crashed_sessions_users_and_the_versions_sessions(data: Runtime) -> None:
    rows = q(data, "firebase_cluster_velocity", {"start": T0 - 30 * MIN, "end": T0})
    # e1 and e2 share session s1 and user u1; e3 is before the window; e4 is an ANR (not fatal).
    assert [(r["cluster_id"], r["app_version"], r["crashed_sessions"], r["users"], r["sessions"]) for r in rows] == [
        ("c1", "v1", 1, 1, 4)
    ]


def test_cluster_summary(data: Runtime) -> None:
    rows = q(data, "firebase_cluster_summary", {"since": T0 - dt.timedelta(days=1), "clusters": ["c1", "c2"]})
    c1 = rows[0]
    assert (c1["cluster_id"], c1["first_seen"], c1["last_seen"], c1["versions"]) == (
        "c1",
        T0 - 40 * MIN,
        T0 - 5 * MIN,
        "v1,v2",
    )
    assert (c1["events"], c1["sessions"], c1["users"], c1["representative_stack"]) == (3, 2, 2, '["c1.dart f"]')
    assert (rows[1]["cluster_id"], rows[1]["error_type"], rows[1]["sessions"]) == ("c2", "ANR", 0)


def test_cluster_breakdown_by_device_os_memory_and_process_state(data: Runtime) -> None:
    rows = q(data, "firebase_cluster_breakdown", {"since": T0 - dt.timedelta(days=1), "clusters": ["c1"]})
    assert [(r["dimension"], r["value"], r["events"]) for r in rows] == [
        ("device_model", "m1", 2),
        ("device_model", "m2", 1),
        ("memory", "256 MiB - 1 GiB free", 1),
        ("memory", "< 256 MiB free", 1),
        ("memory", ">= 1 GiB free", 1),
        ("os_version", "14", 3),
        ("process_state", "FOREGROUND", 2),
        ("process_state", "unknown", 1),
    ]


def test_cluster_history_leaves_out_this_runs_events(data: Runtime) -> None:
    params = {"since": T0 - dt.timedelta(days=1), "before": T0, "clusters": ["c1", "c2", "c9"]}
    rows = q(data, "firebase_cluster_history", params)
    assert [(r["cluster_id"], r["versions"]) for r in rows] == [("c1", "v1"), ("c2", "v1")]  # e3 came in at T0


def test_raised_alerts(data: Runtime) -> None:
    alert = {
        "alert_type": "anomaly_detected",
        "rule": "crash_cluster_new",
        "metric_type": "crash_rate",
        "threshold_value": 0.0,
        "severity": "high",
        "status": "open",
        "triggered_at": T0,
        "changed_at": T0,
        "changed_by": "test",
    }
    data.warehouse.append_rows(
        "performance_alerts", [{**alert, "id": "a1"}, {**alert, "id": "a1"}, {**alert, "id": "a2"}]
    )
    rows = q(data, "firebase_raised_alerts", {"ids": ["a1", "a3"], "since": T0 - MIN})
    assert rows == [{"id": "a1"}]


def test_watermarks_take_the_latest_per_source(data: Runtime) -> None:
    state = [
        {"source": "s", "watermark": T0 - 10 * MIN, "imported_at": T0 - 9 * MIN, "rows": 3},
        {"source": "s", "watermark": T0 - 5 * MIN, "imported_at": T0 - 4 * MIN, "rows": 0},
        {"source": "old", "watermark": T0 - dt.timedelta(days=100), "imported_at": T0 - dt.timedelta(days=100)},
    ]
    data.warehouse.append_rows("firebase_import_state", state)
    rows = q(data, "firebase_watermarks", {"since": T0 - dt.timedelta(days=90)})
    assert rows == [{"source": "s", "watermark": T0 - 5 * MIN, "imported_at": T0 - 4 * MIN}]


def export_sessions(runtime: Runtime) -> None:
    def row(session: str, instance: str, at: dt.datetime) -> dict[str, Any]:
        return {
            "session_id": session,
            "instance_id": instance,
            "event_type": "SESSION_START",
            "event_timestamp": at,
            "application": {"build_version": "1", "display_version": "v1"},
        }

    insert_export_rows(
        runtime,
        SESSIONS_TABLE,
        [
            row("s1", "i1", T0 - 30 * MIN),
            row("s2", "i2", T0 - 25 * MIN),
            row("s3", "i1", T0 - 20 * MIN),
            row("s3", "i1", T0 - 20 * MIN),
        ],
    )


def test_crash_free_users_counts_users_through_sessions(data: Runtime) -> None:
    export_sessions(data)
    rows = q(data, "firebase_crash_free_users", {"start": T0 - dt.timedelta(hours=1), "end": T0}, SESSIONS_TABLE.ref())
    # s1 (user i1) crashed (e1, e2) and s2 (user i2) crashed (e3, 40 min ago): 2 users, both crashed; s3 is
    # i1's second session (no crash) and is in the export twice.
    assert [(r["app_version"], str(r["day"]), r["users"], r["crashed_users"]) for r in rows] == [
        ("v1", "2026-11-20", 2, 2)
    ]


def test_session_starts_skip_stored_sessions_and_repeats(data: Runtime) -> None:
    export_sessions(data)
    data.warehouse.ingest_metrics(
        [session_metric(data, "fb_session_s1", "session_start", T0 - 30 * MIN, "com.example.market", "ANDROID", "v1")],
        T0,
    )
    rows = q(data, "firebase_session_starts", {"start": T0 - dt.timedelta(hours=1), "end": T0}, SESSIONS_TABLE.ref())
    assert sorted((r["session_id"], r["instance_id"], r["app_version"]) for r in rows) == [
        ("s2", "i2", "v1"),
        ("s3", "i1", "v1"),
    ]


def test_crash_events_flatten_the_nested_columns(runtime: Runtime) -> None:
    from tests.firebase.fixtures import CRASH_FIXTURE

    table = ExportTable("crashlytics", "firebase_crashlytics", "com_example_market_IOS", "com.example.market", "IOS")
    ios = next(r for r in CRASH_FIXTURE if r["platform"] == "IOS")
    insert_export_rows(runtime, table, [ios, ios])
    columns = frozenset({"issue_title", "errors"})
    rows = q(
        runtime,
        "firebase_crash_events",
        {"start": T0 - dt.timedelta(days=1), "end": T0 + dt.timedelta(days=1)},
        table.ref(),
        issue_title=optional_column(columns, "e.{}", "issue_title"),
        error_title=optional_column(columns, "e.{}[SAFE_OFFSET(0)].title", "errors", "error"),
        error_frames=optional_column(columns, "TO_JSON_STRING(e.{}[SAFE_OFFSET(0)].frames)", "errors", "error"),
    )
    assert len(rows) == 1
    row = rows[0]
    assert (row["issue_title"], row["error_title"], row["exception_type"], row["device_model"]) == (
        "SwapRepository.confirm",
        "SwapRepository.confirm",
        None,
        "iPhone15,2",
    )
    assert json.loads(row["error_frames"])[0]["symbol"] == "SwapRepository.confirm"
    assert json.loads(row["blame_frame"])["owner"] == "DEVELOPER"


def ga4_fixture(runtime: Runtime) -> list[ExportTable]:
    tables = [ExportTable(GA4, "analytics_123456789", f"events_{day}") for day in ("20261120", "20261121")]
    create_export_tables(runtime, tables)
    for table in tables:
        rows = [r for r in GA4_FIXTURE if r["event_date"] == table.name[-8:]]
        if table.name.endswith("20261121"):
            step = {
                "event_name": "swap_completed",
                "event_timestamp": 1795253600000000,
                "event_params": [
                    {"key": "journey", "value": {"string_value": "swap"}},
                    {"key": "journey_id", "value": {"string_value": "swap-1"}},
                    {"key": "ga_session_id", "value": {"int_value": 1795253390}},
                ],
            }
            rows.append({**rows[0], **step})
            # The day's session_start (the reference trims it): it carries the experiment's user property.
            rows.append({**rows[0], "event_name": "session_start", "event_timestamp": 1795253390000000})
        insert_export_rows(runtime, table, rows)
    return tables


def ga4_params(start_us: int, end_us: int) -> dict[str, Any]:
    return {
        "start_us": start_us,
        "end_us": end_us,
        "apps": ["com.example.market"],
        "start": dt.datetime.fromtimestamp(start_us / 1e6, dt.UTC),
        "end": dt.datetime.fromtimestamp(end_us / 1e6, dt.UTC),
        "now": T0,
    }


def test_ga4_sessions_and_fatal_app_exceptions(runtime: Runtime) -> None:
    day1, day2 = ga4_fixture(runtime)
    params = ga4_params(1795165800000000, 1795300000000000)
    first = q(runtime, "firebase_ga4_sessions", params, day1.ref())
    second = q(runtime, "firebase_ga4_sessions", params, day2.ref())
    assert [(r["event_name"], r["ga_session_id"], r["app_version"]) for r in first] == [
        ("session_start", 1795165800, "2.3.1")
    ]
    # DuckDB's TIMESTAMP_MICROS is a naive UTC timestamp (BigQuery's is aware): the import makes both aware.
    got = sorted((r["event_name"], r["ga_session_id"], r["event_time"].replace(tzinfo=dt.UTC)) for r in second)
    assert got == [
        ("app_exception", 1795253390, dt.datetime(2026, 11, 21, 9, 31, 40, tzinfo=dt.UTC)),
        ("session_start", 1795253390, dt.datetime(2026, 11, 21, 9, 29, 50, tzinfo=dt.UTC)),
    ]
    assert q(runtime, "firebase_ga4_sessions", {**params, "apps": ["other.app"]}, day1.ref()) == []


def test_ga4_journeys_and_exposures_are_inserted_once(runtime: Runtime) -> None:
    day1, day2 = ga4_fixture(runtime)
    params = ga4_params(1795165800000000, 1795300000000000)
    for _ in range(2):
        for table in (day1, day2):
            q(runtime, "firebase_ga4_journeys", params, table.ref())
            q(runtime, "firebase_ga4_exposures", params, table.ref())
    journeys = runtime.warehouse.query("SELECT journey, journey_id, step, session_id, source FROM journey_events", {})
    assert journeys == [
        {
            "journey": "swap",
            "journey_id": "swap-1",
            "step": "swap_completed",
            "session_id": "1795253390",
            "source": "ga4",
        }
    ]
    exposures = runtime.warehouse.query("SELECT experiment, variant, user_pseudo_id, first_seen FROM ab_exposures", {})
    assert exposures == [
        {
            "experiment": "12",
            "variant": "1",
            "user_pseudo_id": "a3f1c9e2d4b64f0e9c1a2b3c4d5e6f70",
            "first_seen": dt.datetime(2026, 11, 21, 9, 29, 50, tzinfo=dt.UTC),
        }
    ]


def test_ga4_activity_per_user_and_day(runtime: Runtime) -> None:
    day1, day2 = ga4_fixture(runtime)
    first = q(runtime, "firebase_ga4_activity", {"apps": ["com.example.market"]}, day1.ref())
    second = q(runtime, "firebase_ga4_activity", {"apps": ["com.example.market"]}, day2.ref())
    user = "a3f1c9e2d4b64f0e9c1a2b3c4d5e6f70"
    assert [(r["user_pseudo_id"], str(r["day"]), r["first_open"], r["active"]) for r in first] == [
        (user, "2026-11-20", True, True)
    ]
    assert [(str(r["day"]), r["first_open"], r["active"]) for r in second] == [("2026-11-21", False, True)]


def test_latest_gauges_take_the_newest_row_per_kpi(runtime: Runtime) -> None:
    rows = [
        session_metric(runtime, "x", "session_start", T0, "a", "ANDROID", "1"),  # not a gauge
    ]
    from perfguard.domain.metric import MetricType, Outcome, PerformanceMetric, Unit

    def gauge(name: str, value: float, minutes_ago: int) -> PerformanceMetric:
        at = T0 - minutes_ago * MIN
        return PerformanceMetric(
            f"kpi_{name}_{minutes_ago}",
            MetricType.USER_JOURNEY,
            f"kpi:{name}",
            value,
            Unit.PERCENTAGE,
            None,
            int(at.timestamp()) * 1_000_000,
            {"sample_size": "9"},
            Outcome.OK,
            "firebase_import",
            None,
            "production",
        )

    rows += [gauge("swap_success_rate", 91.0, 10), gauge("swap_success_rate", 88.0, 5), gauge("d1_retention", 30.0, 60)]
    runtime.warehouse.ingest_metrics(rows, T0)
    found = q(runtime, "firebase_latest_gauges", {"start": T0 - 30 * MIN, "end": T0})
    assert [(r["endpoint_or_operation"], r["value"], json.loads(r["tags"])) for r in found] == [
        ("kpi:swap_success_rate", 88.0, {"sample_size": "9"})
    ]
