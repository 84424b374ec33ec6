"""The retention job of the embedded store drops exactly the rows BigQuery's partition expiration would."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from perfguard.api.auth import KeyRing
from perfguard.api.maintenance import enforce_retention
from perfguard.bus.memory import MemoryBus
from perfguard.domain.metric import MetricType, Outcome, PerformanceMetric, Unit
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from tests.support.doubles import embedded_store

NOW = dt.datetime(2026, 11, 26, 3, 17, tzinfo=dt.UTC)
CUTOFF = dt.datetime(2026, 8, 28, tzinfo=dt.UTC)  # midnight 90 days before today


def metric(record_id: str, at: dt.datetime) -> PerformanceMetric:
    return PerformanceMetric(
        record_id,
        MetricType.API_LATENCY,
        "GET /x",
        5.0,
        Unit.MS,
        None,
        int(at.timestamp() * 1_000_000),
        {},
        Outcome.OK,
        "test",
        None,
        "test",
    )


def test_rows_of_partitions_older_than_90_days_are_deleted_from_every_table(tmp_path: Path) -> None:
    store = embedded_store(tmp_path / "r.duckdb")
    expired, kept = CUTOFF - dt.timedelta(microseconds=1), CUTOFF
    store.ingest_metrics([metric("expired", expired), metric("kept", kept)], NOW)
    alert = {
        "alert_type": "threshold_exceeded",
        "rule": "r",
        "metric_type": "api_latency",
        "threshold_value": 1.0,
        "severity": "high",
        "status": "resolved",
        "changed_by": "test",
        "triggered_at": expired,
    }
    store.append_rows(
        "performance_alerts",
        [{**alert, "id": "old", "changed_at": expired}, {**alert, "id": "new", "changed_at": kept}],
    )
    escalation = {"alert_id": "old", "level": 1, "channels": "slack", "ok": True}
    store.append_rows(
        "alert_escalations", [{**escalation, "escalated_at": expired}, {**escalation, "escalated_at": kept}]
    )
    runtime = Runtime(Settings(data_dir=str(tmp_path)), store, MemoryBus(), KeyRing([]), clock=lambda: NOW)
    deleted = enforce_retention(runtime)
    assert deleted == {
        "alert_escalations": 1,
        "alert_notifications": 0,
        "alert_silences": 0,
        "ab_exposures": 0,
        "canister_insights": 0,
        "canister_snapshots": 0,
        "crash_clusters": 0,
        "crash_events": 0,
        "firebase_import_state": 0,
        "journey_events": 0,
        "metric_rollups_1m": 1,
        "performance_alerts": 1,
        "performance_metrics": 1,
        "remediation_actions": 0,
    }
    assert [r["id"] for r in store.query("SELECT id FROM performance_metrics", {})] == ["kept"]
    assert [r["id"] for r in store.query("SELECT id FROM performance_alerts", {})] == ["new"]
    assert set(enforce_retention(runtime).values()) == {0}
    store.close()
