"""Golden tests of the canister queries on DuckDB through sqlglot: history, calls, recent insights, KPI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfguard.domain.metric import MetricType, Outcome, PerformanceMetric, Unit
from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse
from perfguard.warehouse.sql import load_query
from tests.support.doubles import embedded_store

T0 = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
A, B = "rrkah-fqaaa-aaaaa-aaaaq-cai", "ryjl3-tyaaa-aaaaa-aaaba-cai"


def snapshot(canister_id: str, minute: int, status: str = "ok", cycles: int | None = 10**13) -> dict[str, Any]:
    return {
        "polled_at": T0 + minute * MINUTE,
        "canister_id": canister_id,
        "name": "x",
        "poll_status": status,
        "cycles": cycles,
        "idle_cycles_burned_per_day": 31_243_414,
        "module_hash": "ab",
        "method_counters": '{"calls": {"swap": 3}}',
        "wasm_memory_size": 2**30,
        "seconds": 0.1,
    }


def metric(
    record_id: str,
    minute: int,
    metric_type: MetricType,
    name: str,
    value: float,
    unit: Unit,
    tags: dict[str, str],
    source: str = "canister_poller",
    outcome: Outcome = Outcome.OK,
) -> PerformanceMetric:
    stamp = int((T0 + minute * MINUTE).timestamp() * 1_000_000)
    return PerformanceMetric(
        record_id, metric_type, name, value, unit, None, stamp, tags, outcome, source, None, "test"
    )


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    store = embedded_store(tmp_path / "c.duckdb")
    yield store
    store.close()


def test_history_is_the_ok_snapshots_of_the_canisters_in_range(warehouse: DuckDBWarehouse) -> None:
    warehouse.append_rows(
        "canister_snapshots",
        [snapshot(A, 5), snapshot(A, 1), snapshot(A, 3, "timeout", None), snapshot(B, 2), snapshot(A, 20),
         snapshot("other-aaaaa-aaaaa-aaaaa-cai", 2)],
    )  # fmt: skip
    rows = warehouse.query(
        load_query("canister_history"), {"since": T0, "until": T0 + 10 * MINUTE, "canister_ids": [A, B]}
    )
    assert [(r["canister_id"], r["polled_at"]) for r in rows] == [
        (A, T0 + MINUTE),
        (A, T0 + 5 * MINUTE),
        (B, T0 + 2 * MINUTE),
    ]
    assert rows[0]["cycles"] == 10**13 and rows[0]["method_counters"] == '{"calls": {"swap": 3}}'
    assert set(rows[0]) == {"canister_id", "polled_at", "cycles", "idle_cycles_burned_per_day", "module_hash",
                            "method_counters", "wasm_memory_size", "stable_memory_size"}  # fmt: skip


def test_calls_are_the_tagged_api_latency_records(warehouse: DuckDBWarehouse) -> None:
    tags = {"canister_id": A, "method": "swap", "call_type": "update", "instructions": "12345", "reject_code": "5"}
    warehouse.ingest_metrics(
        [
            metric("c1", 1, MetricType.API_LATENCY, "canister:swap", 2100.0, Unit.MS, tags, "client", Outcome.ERROR),
            metric("c2", 2, MetricType.API_LATENCY, "canister:get", 90.0, Unit.MS, {"canister_id": A}, "client"),
            metric("c3", 2, MetricType.API_LATENCY, "GET /x", 90.0, Unit.MS, {}, "client"),
            metric("c4", 30, MetricType.API_LATENCY, "canister:get", 90.0, Unit.MS, {"canister_id": A}, "client"),
        ],
        T0,
    )
    rows = warehouse.query(load_query("canister_calls"), {"start": T0, "end": T0 + 10 * MINUTE, "canister_ids": [A]})
    fields = ("method", "call_type", "latency_ms", "outcome", "reject_code", "instructions")
    assert [tuple(r[f] for f in fields) for r in rows] == [
        ("swap", "update", 2100.0, "error", "5", "12345"),
        ("canister:get", "update", 90.0, "ok", None, None),
    ]  # fmt: skip


def test_recent_insights_are_distinct_canister_rules_since(warehouse: DuckDBWarehouse) -> None:
    base = {"name": "x", "kind": "recommendation", "severity": "low", "message": "m", "evidence": "{}"}
    warehouse.append_rows(
        "canister_insights",
        [{**base, "generated_at": T0 + m * MINUTE, "canister_id": c, "rule": r}
         for m, c, r in [(1, A, "heartbeat"), (2, A, "heartbeat"), (3, B, "large_heap"), (-5, A, "old")]],
    )  # fmt: skip
    rows = warehouse.query(load_query("canister_insights_recent"), {"since": T0})
    assert rows == [{"canister_id": A, "rule": "heartbeat"}, {"canister_id": B, "rule": "large_heap"}]


def test_kpi_is_the_latest_runway_and_headroom_per_canister(warehouse: DuckDBWarehouse) -> None:
    cycles, memory = MetricType.CANISTER_CYCLES, MetricType.MEMORY_USAGE
    warehouse.ingest_metrics(
        [
            metric("r1", 1, cycles, "market", 40.0, Unit.DAYS, {"measure": "runway_days"}),
            metric("r2", 3, cycles, "market", 38.5, Unit.DAYS, {"measure": "runway_days"}),
            metric("h1", 3, memory, "market", 61.0, Unit.PERCENTAGE, {"measure": "headroom_pct"}),
            metric("r3", 2, cycles, "ledger", 400.0, Unit.DAYS, {"measure": "runway_days"}),
            metric("b1", 4, cycles, "market", 5e12, Unit.CYCLES, {"measure": "balance"}),
            metric("x1", 4, cycles, "market", 1.0, Unit.DAYS, {"measure": "runway_days"}, source="client"),
        ],
        T0,
    )
    rows = warehouse.query(load_query("canister_kpi"), {"start": T0, "end": T0 + 10 * MINUTE})
    assert [(r["name"], r["measure"], r["value"]) for r in rows] == [
        ("ledger", "runway_days", 400.0),
        ("market", "headroom_pct", 61.0),
        ("market", "runway_days", 38.5),
    ]


def test_topup_history_is_the_acts_of_the_action_since(warehouse: DuckDBWarehouse) -> None:
    base = {"rule": "canister_cycles_runway", "endpoint_or_operation": "market", "acted_by": "remediation"}
    acts = [
        ("t0", -90, "cycles_top_up", "executed", "ok", "sent"),  # before @since
        ("t1", 2, "cycles_top_up", "dry_run", "skipped", "would send"),
        ("t2", 3, "scale_out_hint", "executed", "ok", None),  # another action
        ("t3", 4, "cycles_top_up", "skipped", "skipped", "cap"),  # decided nothing
        ("t4", 6, "cycles_top_up", "executed", "failed", "unknown outcome: x"),
    ]
    warehouse.append_rows(
        "remediation_actions",
        [
            {**base, "alert_id": a, "action": action, "mode": mode, "outcome": outcome, "detail": detail,
             "acted_at": T0 + m * MINUTE}
            for a, m, action, mode, outcome, detail in acts
        ],
    )  # fmt: skip
    rows = warehouse.query(load_query("topup_history"), {"action": "cycles_top_up", "since": T0 - 60 * MINUTE})
    assert [(r["mode"], r["outcome"], r["detail"], r["acted_at"]) for r in rows] == [
        ("dry_run", "skipped", "would send", T0 + 2 * MINUTE),
        ("executed", "failed", "unknown outcome: x", T0 + 6 * MINUTE),
    ]
    assert set(rows[0]) == {"endpoint_or_operation", "mode", "outcome", "detail", "acted_at"}
