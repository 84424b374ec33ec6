"""Swap journeys correlated by journey id across GA4 and user_journey records, and the kpi: gauge rows:
success within the SLA over settled journeys (in-progress ones left out) and the median completion time."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from perfguard.api.firebase_import import import_firebase
from perfguard.domain.metric import MetricType, Outcome, PerformanceMetric, Unit
from perfguard.firebase.journeys import swap_kpis
from perfguard.runtime import Runtime
from perfguard.warehouse.sql import load_query
from tests.firebase.conftest import T0, Clock

MIN = dt.timedelta(minutes=1)


def step(journey_id: str, name: str, minutes_ago: float, source: str = "ga4") -> dict[str, Any]:
    at = T0 - dt.timedelta(minutes=minutes_ago)
    return {
        "id": f"{source}:{journey_id}:{name}",
        "journey": "swap",
        "journey_id": journey_id,
        "step": name,
        "timestamp": at,
        "source": source,
        "imported_at": T0,
    }


def record(journey_id: str, name: str, minutes_ago: float) -> PerformanceMetric:
    at = T0 - dt.timedelta(minutes=minutes_ago)
    micros = int(at.timestamp()) * 1_000_000
    tags = {"journey": "swap", "journey_id": journey_id, "step": name}
    return PerformanceMetric(
        f"rec-{journey_id}-{name}",
        MetricType.USER_JOURNEY,
        "swap",
        1.0,
        Unit.COUNT,
        None,
        micros,
        tags,
        Outcome.OK,
        "backend",
        None,
        "production",
    )


JOURNEYS = [
    step("j1", "started", 100),
    step("j1", "completed", 90),  # 10 min: success
    step("j2", "started", 100),
    step("j2", "completed", 50),  # 50 min: completed, past the 30-min SLA
    step("j3", "started", 100),
    step("j3", "failed", 95),  # failed
    step("j4", "started", 10),  # in progress: 10 of 30 minutes used
    step("j6", "started", 60 * 30),  # started 30 h ago: outside the trailing day
]


def test_swap_kpis_over_settled_journeys(runtime: Runtime) -> None:
    runtime.warehouse.append_rows("journey_events", JOURNEYS)
    runtime.warehouse.ingest_metrics([record("j5", "started", 80), record("j5", "completed", 60)], T0)
    import_firebase(runtime)  # copies j5's records (started 80, completed 60 min ago: 20 min, success)
    kpis = swap_kpis(runtime, T0 - dt.timedelta(days=1), T0, T0)
    # Settled: j1 (10 min), j2 (50 min, late), j3 (failed), j5 (20 min); j4 in progress.
    assert kpis.within_sla.in_progress == 1
    assert kpis.success_percent() == 50.0
    assert kpis.median_ms() == 20 * 60_000.0  # median of 10, 20, 50 minutes


def test_the_gauge_rows_follow_the_contract(runtime: Runtime, clock: Clock) -> None:
    runtime.warehouse.append_rows("journey_events", JOURNEYS)
    summary = import_firebase(runtime)
    assert summary["gauges"] == {"kpi:swap_success_rate": 33.333, "kpi:swap_completion_median": 1_800_000.0}
    rows = runtime.warehouse.query(
        "SELECT id, endpoint_or_operation, unit, value, source, TO_JSON_STRING(tags) AS tags FROM performance_metrics"
        " WHERE metric_type = 'user_journey' AND source = 'firebase_import' ORDER BY id",
        {},
    )
    assert [(r["id"], r["endpoint_or_operation"], r["unit"]) for r in rows] == [
        ("kpi_swap_completion_median_202611201200", "kpi:swap_completion_median", "ms"),
        ("kpi_swap_success_rate_202611201200", "kpi:swap_success_rate", "percentage"),
    ]
    assert json.loads(rows[0]["tags"]) == {"journey": "swap", "measure": "swap_completion_median", "sample_size": "2"}
    import_firebase(runtime)  # the same minute again: nothing new
    count = runtime.warehouse.query(
        "SELECT COUNT(*) AS n FROM performance_metrics WHERE metric_type = 'user_journey'", {}
    )
    assert count[0]["n"] == 2
    clock.now = T0 + MIN
    import_firebase(runtime)
    count = runtime.warehouse.query(
        "SELECT COUNT(*) AS n FROM performance_metrics WHERE metric_type = 'user_journey'", {}
    )
    assert count[0]["n"] == 4


def test_journey_steps_query_golden(runtime: Runtime) -> None:
    runtime.warehouse.append_rows("journey_events", JOURNEYS + [step("j1", "completed", 90, source="pm")])
    params = {"journey": "swap", "first_step": "started", "start": T0 - dt.timedelta(hours=2), "end": T0, "until": T0}
    rows = runtime.warehouse.query(load_query("firebase_journey_steps"), params)
    assert [(r["journey_id"], r["step"]) for r in rows] == [
        ("j1", "started"),
        ("j1", "completed"),
        ("j2", "started"),
        ("j2", "completed"),
        ("j3", "started"),
        ("j3", "failed"),
        ("j4", "started"),
    ]


def test_metric_journeys_query_golden(runtime: Runtime) -> None:
    runtime.warehouse.ingest_metrics([record("j5", "started", 80), record("j5", "completed", 60)], T0)
    params = {"start": T0 - dt.timedelta(hours=2), "end": T0, "now": T0}
    for _ in range(2):
        runtime.warehouse.query(load_query("firebase_metric_journeys"), params)
    rows = runtime.warehouse.query("SELECT id, journey_id, step, source FROM journey_events ORDER BY id", {})
    assert rows == [
        {"id": "pm:rec-j5-completed", "journey_id": "j5", "step": "completed", "source": "performance_metrics"},
        {"id": "pm:rec-j5-started", "journey_id": "j5", "step": "started", "source": "performance_metrics"},
    ]
