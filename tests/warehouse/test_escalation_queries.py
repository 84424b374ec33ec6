"""Golden test of escalation_candidates on DuckDB through sqlglot: the open alerts without an ok level-1
escalation since they were (last) opened, oldest opening first, with the channels earlier failed attempts
reached."""

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


def alert(alert_id: str, status: str, changed: int, **extra: Any) -> dict[str, Any]:
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
        "context": json.dumps({"statistic": "p95"}),
        "triggered_at": T0,
        "resolved_at": None,
        "changed_at": T0 + changed * MINUTE,
        "changed_by": "evaluator",
        **extra,
    }


def escalation(alert_id: str, minute: int, ok: bool, channels: str, level: int = 1) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "level": level,
        "escalated_at": T0 + minute * MINUTE,
        "channels": channels,
        "ok": ok,
        "error": None if ok else "slack: HTTP 503",
    }


def delivered(row: dict[str, Any]) -> list[str]:
    return sorted(filter(None, (row["delivered_channels"] or "").split(",")))


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    store = embedded_store(tmp_path / "esc.duckdb")
    store.append_rows(
        "performance_alerts",
        [
            alert("done", "open", 0),  # escalated: not a candidate
            alert("failed", "open", 1),  # one failed attempt that reached email: retried
            alert("fresh", "open", 5, severity="critical"),  # never escalated
            alert("acked", "open", 2),
            alert("acked", "investigating", 3, changed_by="slack:U1"),  # acknowledged: not a candidate
            alert("back", "open", 0),
            alert("back", "investigating", 4, changed_by="slack:U1"),
            alert("back", "open", 6, changed_by="slack:U1"),  # handed back after its escalation: again
            alert("closed", "open", 0),
            alert("closed", "resolved", 7, resolved_at=T0 + 7 * MINUTE),
            alert("level2", "open", 3),  # only a level-2 row: still a level-1 candidate
        ],
    )
    store.append_rows(
        "alert_escalations",
        [
            escalation("done", 15, True, "slack,email"),
            escalation("failed", 16, False, "email"),
            escalation("failed", 17, False, ""),
            escalation("back", 1, True, "slack"),
            escalation("level2", 20, True, "slack", level=2),
        ],
    )
    yield store
    store.close()


def test_escalation_candidates_are_the_open_alerts_not_yet_escalated_oldest_first(warehouse: DuckDBWarehouse) -> None:
    rows = warehouse.query(load_query("escalation_candidates"), {})
    # STRING_AGG's order is unspecified: compare the channels named.
    assert [(r["id"], delivered(r)) for r in rows] == [
        ("failed", ["email"]),
        ("level2", []),
        ("fresh", []),
        ("back", []),
    ]
    assert rows[1]["delivered_channels"] is None
    back = rows[-1]
    assert back["status"] == "open" and back["changed_at"] == T0 + 6 * MINUTE and back["triggered_at"] == T0
    assert json.loads(rows[0]["context"]) == {"statistic": "p95"} and rows[2]["severity"] == "critical"


def test_escalation_candidates_are_at_most_100(warehouse: DuckDBWarehouse) -> None:
    warehouse.append_rows("performance_alerts", [alert(f"many-{n:03d}", "open", 10 + n) for n in range(120)])
    rows = warehouse.query(load_query("escalation_candidates"), {})
    assert len(rows) == 100 and rows[0]["id"] == "failed" and rows[-1]["id"] == "many-095"
