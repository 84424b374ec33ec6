"""The canister queries give the same rows on the BigQuery emulator as on DuckDB (the oracle): history, call
records, recent insights, KPI and top-up history, over the same appended and ingested rows."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from perfguard.domain.metric import MetricType, Outcome, PerformanceMetric, Unit
from perfguard.warehouse.bigquery_warehouse import BigQueryWarehouse, make_client
from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse
from perfguard.warehouse.schema import default_schemas_dir, load_tables, load_views, partition_expiration_days
from perfguard.warehouse.sql import load_query

pytestmark = pytest.mark.emulator
SCHEMAS = default_schemas_dir()
START = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
MINUTE = dt.timedelta(minutes=1)
A, B = "rrkah-fqaaa-aaaaa-aaaaq-cai", "ryjl3-tyaaa-aaaaa-aaaba-cai"


@dataclass(frozen=True)
class Stores:
    emulated: BigQueryWarehouse
    oracle: DuckDBWarehouse


def snapshot(canister_id: str, minute: int, status: str = "ok") -> dict[str, Any]:
    return {
        "polled_at": START + minute * MINUTE,
        "canister_id": canister_id,
        "name": "market" if canister_id == A else "ledger",
        "poll_status": status,
        "error": None if status == "ok" else "canister_status: no answer within the timeout",
        "cycles": 25_731_649_271_052 - minute * 10**9 if status == "ok" else None,
        "idle_cycles_burned_per_day": 31_243_414,
        "module_hash": "ab" * 32,
        "method_counters": '{"calls": {"swap": 3}}',
        "wasm_memory_size": 2**30,
        "stable_memory_size": 2**31,
        "seconds": 0.25,
    }


def metric(record_id: str, minute: int, kind: MetricType, name: str, value: float, unit: Unit,
           tags: dict[str, str], source: str = "canister_poller") -> PerformanceMetric:  # fmt: skip
    stamp = (START + minute * MINUTE - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    outcome = Outcome.ERROR if tags.get("status") == "rejected" else Outcome.OK
    return PerformanceMetric(record_id, kind, name, value, unit, None, stamp, tags, outcome, source, None, "test")


def gauge(record_id: str, minute: int, kind: MetricType, name: str, value: float, measure: str) -> PerformanceMetric:
    unit = Unit.DAYS if measure == "runway_days" else Unit.PERCENTAGE
    canister = A if name == "market" else B
    return metric(record_id, minute, kind, name, value, unit, {"canister_id": canister, "measure": measure})


CALL_TAGS = {"canister_id": A, "method": "swap", "call_type": "update", "status": "rejected", "reject_code": "5"}
METRICS = [
    gauge("r1", 1, MetricType.CANISTER_CYCLES, "market", 40.0, "runway_days"),
    gauge("r2", 3, MetricType.CANISTER_CYCLES, "market", 38.5, "runway_days"),
    gauge("r3", 2, MetricType.CANISTER_CYCLES, "ledger", 400.0, "runway_days"),
    gauge("h1", 3, MetricType.MEMORY_USAGE, "market", 61.5, "headroom_pct"),
    metric(
        "c1",
        4,
        MetricType.API_LATENCY,
        "canister:swap",
        2100.5,
        Unit.MS,
        {**CALL_TAGS, "instructions": "41250000"},
        "web",
    ),
    metric("c2", 5, MetricType.API_LATENCY, "canister:get", 95.0, Unit.MS, {"canister_id": A}, "web"),
    metric("c3", 6, MetricType.API_LATENCY, "GET /x", 90.0, Unit.MS, {}, "web"),
]
TOPUPS = [
    (-90, "executed", "ok", "sent 5"),
    (2, "dry_run", "skipped", "would send"),
    (4, "skipped", "skipped", "cap"),
    (6, "executed", "failed", "unknown outcome: x"),
]


@pytest.fixture(scope="module")
def stores(bigquery_emulator: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    endpoint, project = bigquery_emulator
    dataset = f"perfguard_{uuid.uuid4().hex[:8]}"
    tables = load_tables(SCHEMAS)
    views = load_views(SCHEMAS, f"`{project}.{dataset}`")
    client = make_client(project, endpoint)
    emulated = BigQueryWarehouse(client, project, dataset, tables, views, partition_expiration_days(SCHEMAS))
    oracle = DuckDBWarehouse(tmp_path_factory.mktemp("canister") / "o.duckdb", tables, load_views(SCHEMAS, "main"))
    insight = {"name": "market", "kind": "recommendation", "severity": "low", "message": "m", "evidence": "{}"}
    topup = {"action": "cycles_top_up", "rule": "canister_cycles_runway", "acted_by": "remediation"}
    for store in (emulated, oracle):
        store.ensure_tables()
        store.append_rows("canister_snapshots", [snapshot(A, 5), snapshot(A, 1), snapshot(A, 3, "timeout"),
                                                 snapshot(B, 2), snapshot(A, 20)])  # fmt: skip
        store.ingest_metrics(METRICS, START + 30 * MINUTE)
        store.append_rows("canister_insights", [
            {**insight, "generated_at": START + m * MINUTE, "canister_id": c, "rule": r}
            for m, c, r in [(1, A, "heartbeat"), (2, A, "heartbeat"), (3, B, "large_heap"), (-5, A, "old")]
        ])  # fmt: skip
        store.append_rows("remediation_actions", [
            {**topup, "alert_id": f"t{m}", "endpoint_or_operation": "market", "mode": mode, "outcome": outcome,
             "detail": detail, "acted_at": START + m * MINUTE}
            for m, mode, outcome, detail in TOPUPS
        ])  # fmt: skip
    yield Stores(emulated, oracle)
    emulated.close()
    oracle.close()


def same(stores: Stores, name: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    emulated, oracle = stores.emulated.query(load_query(name), params), stores.oracle.query(load_query(name), params)
    assert oracle, "the oracle returned no rows: the check would prove nothing"
    assert len(emulated) == len(oracle)
    for got, want in zip(emulated, oracle, strict=True):
        assert got.keys() == want.keys()
        for column, value in want.items():
            if isinstance(value, float):
                assert math.isclose(got[column], value, rel_tol=1e-9), (column, got, want)
            else:
                assert got[column] == value, (column, got, want)
    return oracle


def test_canister_history_matches(stores: Stores) -> None:
    rows = same(stores, "canister_history", {"since": START, "until": START + 10 * MINUTE, "canister_ids": [A, B]})
    assert [(r["canister_id"], r["polled_at"]) for r in rows] == [(A, START + MINUTE), (A, START + 5 * MINUTE),
                                                                 (B, START + 2 * MINUTE)]  # fmt: skip


def test_canister_calls_match(stores: Stores) -> None:
    rows = same(stores, "canister_calls", {"start": START, "end": START + 10 * MINUTE, "canister_ids": [A]})
    assert [(r["method"], r["outcome"], r["reject_code"], r["instructions"]) for r in rows] == [
        ("swap", "error", "5", "41250000"),
        ("canister:get", "ok", None, None),
    ]


def test_canister_insights_recent_match(stores: Stores) -> None:
    rows = same(stores, "canister_insights_recent", {"since": START})
    assert rows == [{"canister_id": A, "rule": "heartbeat"}, {"canister_id": B, "rule": "large_heap"}]


def test_canister_kpi_matches(stores: Stores) -> None:
    rows = same(stores, "canister_kpi", {"start": START, "end": START + 10 * MINUTE})
    assert [(r["name"], r["measure"], r["value"]) for r in rows] == [
        ("ledger", "runway_days", 400.0),
        ("market", "headroom_pct", 61.5),
        ("market", "runway_days", 38.5),
    ]


def test_topup_history_matches(stores: Stores) -> None:
    rows = same(stores, "topup_history", {"action": "cycles_top_up", "since": START - 60 * MINUTE})
    assert [(r["mode"], r["detail"]) for r in rows] == [("dry_run", "would send"), ("executed", "unknown outcome: x")]
