"""Golden tests of the alert lifecycle's queries (alert_by_id, current_alerts) on DuckDB through sqlglot."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse
from perfguard.warehouse.sql import load_query
from tests.support.doubles import embedded_store

T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
COLUMNS = [
    "id",
    "alert_type",
    "rule",
    "metric_type",
    "endpoint_or_operation",
    "current_value",
    "threshold_value",
    "severity",
    "status",
    "context",
    "triggered_at",
    "resolved_at",
    "changed_at",
    "changed_by",
]


def row(alert_id: str, status: str, changed: int, triggered: int = 0, **extra: Any) -> dict[str, Any]:
    """One state-change row: triggered and changed `triggered` and `changed` minutes after T0."""
    return {
        "id": alert_id,
        "alert_type": "threshold_exceeded",
        "rule": "api_latency_p95",
        "metric_type": "api_latency",
        "endpoint_or_operation": "POST /swaps",
        "current_value": 2500.0,
        "threshold_value": 2000.0,
        "severity": "high",
        "status": status,
        "context": json.dumps({"statistic": "p95", "windows": [1, 2]}),
        "triggered_at": T0 + triggered * MINUTE,
        "resolved_at": None,
        "changed_at": T0 + changed * MINUTE,
        "changed_by": "evaluator",
        **extra,
    }


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    store = embedded_store(tmp_path / "alerts.duckdb")
    store.append_rows(
        "performance_alerts",
        [
            # Appended out of order: the latest changed_at is the current state, whatever the insert order.
            row("a", "investigating", 3, changed_by="slack:U1"),
            row("a", "open", 1),
            row("a", "resolved", 9, resolved_at=T0 + 9 * MINUTE, changed_by="api:ops"),
            row("b", "open", 2, triggered=2),
            row("c", "open", 4, triggered=4, metric_type="canister_call"),
            row("c", "investigating", 5, triggered=4, metric_type="canister_call", changed_by="slack:U2"),
            row("d", "false_positive", 6, triggered=5, resolved_at=T0 + 6 * MINUTE),
        ],
    )
    yield store
    store.close()


def test_alert_by_id_is_the_latest_row_of_that_alert(warehouse: DuckDBWarehouse) -> None:
    rows = warehouse.query(load_query("alert_by_id"), {"alert_id": "a"})
    assert len(rows) == 1 and list(rows[0]) == COLUMNS
    current = rows[0]
    assert (current["status"], current["changed_by"]) == ("resolved", "api:ops")
    assert current["changed_at"] == T0 + 9 * MINUTE and current["resolved_at"] == T0 + 9 * MINUTE
    assert current["triggered_at"] == T0 and current["changed_at"].utcoffset() == dt.timedelta(0)
    assert json.loads(current["context"]) == {"statistic": "p95", "windows": [1, 2]}


def test_alert_by_id_has_no_row_for_an_unknown_id(warehouse: DuckDBWarehouse) -> None:
    assert warehouse.query(load_query("alert_by_id"), {"alert_id": "zz"}) == []


def current(warehouse: DuckDBWarehouse, statuses: list[str], metric_type: str | None = None, limit: int = 100) -> Any:
    params = {"statuses": statuses, "metric_type": metric_type, "limit": limit}
    return [(r["id"], r["status"]) for r in warehouse.query(load_query("current_alerts"), params)]


def test_current_alerts_lists_the_current_state_newest_trigger_first(warehouse: DuckDBWarehouse) -> None:
    assert current(warehouse, ["open", "investigating"]) == [("c", "investigating"), ("b", "open")]
    assert current(warehouse, ["resolved", "false_positive"]) == [("d", "false_positive"), ("a", "resolved")]
    # `a` was investigating once: only its current state counts.
    assert current(warehouse, ["investigating"]) == [("c", "investigating")]


def test_current_alerts_filters_by_metric_type_and_limits(warehouse: DuckDBWarehouse) -> None:
    everything = ["open", "investigating", "resolved", "false_positive"]
    assert current(warehouse, everything, "canister_call") == [("c", "investigating")]
    assert current(warehouse, everything, limit=2) == [("d", "false_positive"), ("c", "investigating")]
    assert current(warehouse, everything, "api_latency", limit=10) == [
        ("d", "false_positive"),
        ("b", "open"),
        ("a", "resolved"),
    ]
