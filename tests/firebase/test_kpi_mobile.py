"""The mobile KPI readings (kpi_mobile.readings) and get_kpi_status over a real store: crash-free sessions
from the crash_rate rows, swap KPIs and retention from the latest kpi: gauges, no data when nothing exists."""

from __future__ import annotations

import datetime as dt
import json

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from perfguard.api.auth import READ, KeyRing, key
from perfguard.api.firebase_import import import_firebase
from perfguard.api.kpi_mobile import readings
from perfguard.api.kpi_status import get_kpi_status
from perfguard.firebase.catalog import create_export_tables, insert_export_rows
from perfguard.firebase.exports import GA4, ExportTable
from perfguard.firebase.sessions import session_metric
from perfguard.runtime import Runtime
from tests.firebase.conftest import T0, Clock
from tests.firebase.fixtures import GA4_FIXTURE
from tests.firebase.test_journeys import JOURNEYS

MIN = dt.timedelta(minutes=1)
APP = "com.example.market"


def sessions(runtime: Runtime, version: str, count: int, crashed: int) -> None:
    rows = [
        session_metric(
            runtime, f"fb_session_{version}_{n}", "session_start", T0 - (n + 1) * MIN, APP, "ANDROID", version
        )
        for n in range(count)
    ]
    rows += [
        session_metric(runtime, f"fb_crash_{version}_{n}", "fatal_crash", T0 - (n + 1) * MIN, APP, "ANDROID", version)
        for n in range(crashed)
    ]
    runtime.warehouse.ingest_metrics(rows, T0)


def test_nothing_imported_reads_no_data(runtime: Runtime) -> None:
    found = readings(runtime, T0 - dt.timedelta(hours=1), T0)
    assert set(found) == {
        "crash_free_sessions",
        "swap_success_rate",
        "swap_completion_median",
        "d1_retention",
        "retention_4w",
    }
    assert all(reading.value is None and reading.sample_size == 0 for reading in found.values())


def test_crash_free_sessions_with_a_part_per_version(runtime: Runtime) -> None:
    sessions(runtime, "2.3.1", 300, 0)
    sessions(runtime, "2.4.0", 100, 2)
    reading = readings(runtime, T0 - dt.timedelta(hours=6), T0)["crash_free_sessions"]
    assert (reading.value, reading.sample_size) == (99.5, 400)
    assert {name: part.value for name, part in reading.parts.items()} == {
        f"{APP} ANDROID 2.3.1": 100.0,
        f"{APP} ANDROID 2.4.0": 98.0,
    }


def test_swap_kpis_come_from_the_latest_gauges_in_minutes(runtime: Runtime) -> None:
    runtime.warehouse.append_rows("journey_events", JOURNEYS)
    import_firebase(runtime)
    found = readings(runtime, T0 - dt.timedelta(hours=1), T0 + MIN)
    assert (round(found["swap_success_rate"].value or 0, 3), found["swap_success_rate"].sample_size) == (33.333, 3)
    assert (found["swap_completion_median"].value, found["swap_completion_median"].sample_size) == (30.0, 2)


def test_retention_is_computed_once_a_day_when_cohorts_settle(runtime: Runtime, clock: Clock) -> None:
    dataset = runtime.settings.firebase_analytics_dataset
    for day in ("20261120", "20261121"):
        table = ExportTable(GA4, dataset, f"events_{day}")
        create_export_tables(runtime, [table])
        insert_export_rows(runtime, table, [r for r in GA4_FIXTURE if r["event_date"] == day])
    clock.now = dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC)  # the 20th's cohort settles for D1 on the 24th
    assert import_firebase(runtime)["gauges"]["kpi:d1_retention"] == 100.0
    clock.now += dt.timedelta(hours=1)
    assert "kpi:d1_retention" not in import_firebase(runtime)["gauges"]  # once a day
    found = readings(runtime, clock.now - dt.timedelta(hours=1), clock.now)
    assert (found["d1_retention"].value, found["d1_retention"].sample_size) == (100.0, 1)
    assert found["retention_4w"].value is None


def test_get_kpi_status_shows_the_mobile_kpis(runtime: Runtime) -> None:
    sessions(runtime, "2.4.0", 50, 1)  # within the dashboard's 60-minute window
    runtime.keys = KeyRing([key("reader", "secret-read", {READ})])
    request = Request(
        EnvironBuilder(path="/get_kpi_status", headers=[("Authorization", "Bearer secret-read")]).get_environ()
    )
    body = json.loads(get_kpi_status(runtime, request).get_data())
    crash = next(k for k in body["kpis"] if k["key"] == "crash_free_sessions")
    assert (crash["value"], crash["status"], crash["sample_size"]) == (98.0, "breach", 50)


def test_yesterdays_crash_free_sessions_and_users_are_stored_once_a_day(runtime: Runtime, clock: Clock) -> None:
    from tests.firebase.test_queries import SESSIONS_TABLE

    def row(session: str, instance: str, minute: int) -> dict[str, object]:
        return {
            "session_id": session,
            "instance_id": instance,
            "event_type": "SESSION_START",
            "event_timestamp": T0 + dt.timedelta(minutes=minute),
            "application": {"build_version": "1", "display_version": "2.4.0"},
        }

    insert_export_rows(
        runtime, SESSIONS_TABLE, [row("s1", "i1", 1), row("s2", "i1", 2), row("s3", "i2", 3), row("s4", "i3", 4)]
    )
    crash = {
        "event_id": "e1",
        "issue_id": "x",
        "error_type": "FATAL",
        "event_timestamp": T0 + 5 * MIN,
        "firebase_session_id": "s2",
        "installation_uuid": "u",
        "application": {"display_version": "2.4.0"},
        "exceptions": [],
        "errors": [],
    }
    insert_export_rows(
        runtime,
        ExportTable("crashlytics", "firebase_crashlytics", "com_example_market_ANDROID", APP, "ANDROID"),
        [crash],
    )
    clock.now = T0 + dt.timedelta(hours=1)
    import_firebase(runtime)  # today's run: yesterday (the 19th) has nothing
    clock.now = T0 + dt.timedelta(days=1)
    import_firebase(runtime)
    import_firebase(runtime)
    rows = runtime.warehouse.query(
        "SELECT endpoint_or_operation, value, JSON_VALUE(tags, '$.sample_size') AS n FROM performance_metrics"
        " WHERE metric_type = 'crash_rate' AND unit = 'percentage' ORDER BY 1",
        {},
    )
    # 4 sessions, 1 crashed: 75 %; 3 users (i1 twice), 1 crashed: 66.7 %.
    assert [(r["endpoint_or_operation"], round(r["value"], 1), r["n"]) for r in rows] == [
        ("crash_free_sessions", 75.0, "4"),
        ("crash_free_users", 66.7, "3"),
    ]
