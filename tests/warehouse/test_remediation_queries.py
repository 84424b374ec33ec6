"""Golden test of remediation_history on DuckDB through sqlglot: the executed and dry-run actions since
@since, oldest first; skipped rows and older ones are left out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse
from perfguard.warehouse.sql import load_query
from tests.support.doubles import embedded_store

T0 = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


def act(alert_id: str, minute: int, mode: str, outcome: str, endpoint: str | None = "POST /swaps") -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "action": "scale_out_hint",
        "rule": "p95_api_latency",
        "endpoint_or_operation": endpoint,
        "mode": mode,
        "outcome": outcome,
        "detail": None if mode != "skipped" else "cooldown",
        "acted_at": T0 + minute * MINUTE,
        "acted_by": "remediation",
    }


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    store = embedded_store(tmp_path / "rem.duckdb")
    store.append_rows(
        "remediation_actions",
        [
            act("old", 0, "executed", "ok"),  # before @since
            act("failed", 12, "executed", "failed", None),  # a failed execution still counts
            act("skipped", 15, "skipped", "skipped"),  # decided nothing: left out
            act("dry", 20, "dry_run", "skipped"),
            act("done", 11, "executed", "ok"),
        ],
    )
    yield store
    store.close()


def test_remediation_history_is_the_acts_since_oldest_first(warehouse: DuckDBWarehouse) -> None:
    rows = warehouse.query(load_query("remediation_history"), {"since": T0 + 10 * MINUTE})
    assert [(r["alert_id"], r["mode"], r["endpoint_or_operation"], r["acted_at"]) for r in rows] == [
        ("done", "executed", "POST /swaps", T0 + 11 * MINUTE),
        ("failed", "executed", None, T0 + 12 * MINUTE),
        ("dry", "dry_run", "POST /swaps", T0 + 20 * MINUTE),
    ]
    assert set(rows[0]) == {"alert_id", "action", "rule", "endpoint_or_operation", "mode", "acted_at"}


def test_the_since_bound_is_inclusive(warehouse: DuckDBWarehouse) -> None:
    rows = warehouse.query(load_query("remediation_history"), {"since": T0 + 20 * MINUTE})
    assert [r["alert_id"] for r in rows] == ["dry"]
