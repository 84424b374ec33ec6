"""Golden test of alert_history (the changes notify_alert decides inhibition and flapping from) on DuckDB."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse
from perfguard.warehouse.sql import load_query
from tests.support.doubles import embedded_store

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
SWAPS = "POST /swaps"


def row(
    alert_id: str, status: str, minute: int, endpoint: str | None = SWAPS, severity: str = "high"
) -> dict[str, Any]:
    at = T0 + minute * MINUTE
    return {
        "id": alert_id,
        "alert_type": "threshold_exceeded",
        "rule": "p95_api_latency",
        "metric_type": "api_latency",
        "endpoint_or_operation": endpoint,
        "current_value": 2600.0,
        "threshold_value": 2000.0,
        "severity": severity,
        "status": status,
        "context": {"p95_ms": 2600.0},
        "triggered_at": T0,
        "resolved_at": at if status in ("resolved", "false_positive") else None,
        "changed_at": at,
        "changed_by": "evaluator",
    }


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    store = embedded_store(tmp_path / "history.duckdb")
    store.append_rows(
        "performance_alerts",
        [
            row("old-closed", "open", -90),
            row("old-closed", "resolved", -80),  # closed before @since: not needed
            row("old-active", "open", -120, severity="critical"),
            row("old-active", "investigating", -70, severity="critical"),  # its latest change before @since
            row("old-active", "resolved", 30, severity="critical"),
            row("recent", "resolved", 20),  # appended out of order
            row("recent", "open", 10),
            row("edge", "open", -60),  # exactly at @since
            row("other", "open", 5, endpoint="GET /listings"),
            row("overall", "open", 6, endpoint=None),
            row("overall-old", "open", -100, endpoint=None),
        ],
    )
    yield store
    store.close()


def history(warehouse: DuckDBWarehouse, endpoint: str | None) -> list[tuple[str, str, int]]:
    rows = warehouse.query(load_query("alert_history"), {"endpoint": endpoint, "since": T0 - 60 * MINUTE})
    assert all(list(r) == ["id", "rule", "status", "severity", "changed_at"] for r in rows)
    return [(r["id"], r["status"], (r["changed_at"] - T0) // MINUTE) for r in rows]


def test_alert_history_is_the_group_since_plus_the_last_change_of_each_alert_still_active(
    warehouse: DuckDBWarehouse,
) -> None:
    assert history(warehouse, SWAPS) == [
        ("old-active", "investigating", -70),
        ("edge", "open", -60),
        ("recent", "open", 10),
        ("recent", "resolved", 20),
        ("old-active", "resolved", 30),
    ]


def test_a_null_endpoint_is_the_overall_group_only(warehouse: DuckDBWarehouse) -> None:
    assert history(warehouse, None) == [("overall-old", "open", -100), ("overall", "open", 6)]
    assert history(warehouse, "GET /listings") == [("other", "open", 5)]
    assert history(warehouse, "GET /nothing") == []


def test_alert_history_carries_rule_and_severity(warehouse: DuckDBWarehouse) -> None:
    rows = warehouse.query(load_query("alert_history"), {"endpoint": SWAPS, "since": T0 - 60 * MINUTE})
    assert (rows[0]["rule"], rows[0]["severity"], rows[0]["changed_at"]) == (
        "p95_api_latency",
        "critical",
        T0 - 70 * MINUTE,
    )
