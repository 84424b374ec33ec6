"""The context an alert opens with: 30 minutes of the statistic, the worst slices, deploys and related alerts,
computed by the evaluator from stored records (real DuckDB, fake clock)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfguard.api.alerting import evaluate_thresholds, record_alert_changes
from perfguard.api.auth import KeyRing
from perfguard.api.incident_context import incident_context
from perfguard.api.rule_evaluation import WindowFetcher
from perfguard.bus.cloudevent import Message
from perfguard.bus.memory import MemoryBus
from perfguard.domain.metric import MetricType, Outcome, PerformanceMetric, Unit
from perfguard.domain.rule_kinds import find_breaches
from perfguard.errors import WarehouseError
from perfguard.runtime import Runtime, load_threshold_rules
from perfguard.settings import Settings
from tests.support.doubles import embedded_store

START = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
TICK = Message({"job": "evaluate_thresholds"}, {"source": "scheduler"}, "1", START)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    store = embedded_store(tmp_path / "c.duckdb")
    rules = [r for r in load_threshold_rules(Settings()) if r.name == "p95_api_latency"]
    yield Runtime(Settings(data_dir=str(tmp_path)), store, MemoryBus(), KeyRing([]), rules=rules)
    store.close()


def record(n: str, at: dt.datetime, value: float, release: str, platform: str, ok: bool = True) -> PerformanceMetric:
    return PerformanceMetric(n, MetricType.API_LATENCY, "POST /swaps", value, Unit.MS, None,
                             int(at.timestamp() * 1e6), {"platform": platform}, Outcome.OK if ok else Outcome.ERROR,
                             "t", release, "production")  # fmt: skip


def history() -> list[PerformanceMetric]:
    """40 minutes of POST /swaps: release 1.4.1 fast all along; 1.4.2 deployed at minute 25, slow on android."""
    records = []
    for m in range(40):
        at = START + m * MINUTE
        records += [record(f"a{m}-{i}", at + i * dt.timedelta(seconds=5), 300.0, "1.4.1", "ios") for i in range(6)]
        if m >= 25:
            records += [
                record(f"b{m}-{i}", at + i * dt.timedelta(seconds=5), 4000.0, "1.4.2", "android", ok=i > 0)
                for i in range(10)
            ]
    return records


def opened_context(runtime: Runtime, at: dt.datetime) -> dict[str, Any]:
    runtime.clock = lambda: at
    changes = [c for c in evaluate_thresholds(runtime, TICK) if c["endpoint_or_operation"] == "POST /swaps"]
    assert [c["status"] for c in changes] == ["open"]
    context: dict[str, Any] = json.loads(changes[0]["context"])
    return context


def test_a_new_alert_carries_the_investigation_context(runtime: Runtime) -> None:
    other = {
        "id": "alrt_other", "alert_type": "threshold_exceeded", "rule": "canister_cycles_runway",
        "metric_type": "canister_cycles", "endpoint_or_operation": "ledger", "current_value": 12.0,
        "threshold_value": 30.0, "severity": "high", "status": "open", "context": "{}", "triggered_at": START,
        "resolved_at": None, "changed_at": START, "changed_by": "evaluator",
    }  # fmt: skip
    record_alert_changes(runtime, [other])
    runtime.warehouse.ingest_metrics(history(), START)
    context = opened_context(runtime, START + 30 * MINUTE)  # minutes 25-29 breach: fires at 08:30

    minutes = context["last_30_minutes"]
    assert [m["minute"] for m in minutes] == [(START + i * MINUTE).isoformat() for i in range(30)]
    assert [m["count"] for m in minutes] == [6] * 25 + [16] * 5
    assert minutes[0]["p95"] == 300.0 and minutes[-1]["p95"] == 4000.0

    slices = context["worst_slices"]
    assert [s["value"] for s in slices["release"]] == ["1.4.2", "1.4.1"]
    assert slices["release"][0] == {"value": "1.4.2", "count": 50, "share": round(50 / 230, 4), "mean": 4000.0,
                                    "max": 4000.0, "failures": 5}  # fmt: skip
    assert [s["value"] for s in slices["platform"]] == ["android", "ios"]
    assert "method" not in slices  # no such tag: nothing to compare

    assert context["deploys"] == [{"release": "1.4.2", "first_seen": (START + 25 * MINUTE).isoformat(), "count": 50}]
    assert [a["id"] for a in context["related_alerts"]] == ["alrt_other"]
    assert context["windows"][-1]["p95"] == 4000.0  # the judged windows stay as they were


class FailingDeploys:
    """The real store, except that the deploys query fails (a stand-in for a BigQuery error on one query)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def query(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        if "since" in params and "HAVING" in sql:
            raise WarehouseError("query failed: 400 resources exceeded")
        return self.store.query(sql, params)  # type: ignore[no-any-return]


def test_a_part_whose_query_fails_is_left_out_and_the_rest_kept(runtime: Runtime) -> None:
    runtime.warehouse.ingest_metrics(history(), START)
    at = START + 30 * MINUTE
    rule = runtime.threshold_rules()[0]
    (breach,) = [b for b in find_breaches(rule, _rows(runtime, rule, at), at) if b.endpoint_or_operation]
    context = incident_context(FailingDeploys(runtime.warehouse), breach, at)  # type: ignore[arg-type]
    assert set(context) == {"last_30_minutes", "worst_slices", "related_alerts"}


def _rows(runtime: Runtime, rule: Any, at: dt.datetime) -> list[dict[str, Any]]:
    return WindowFetcher(runtime.warehouse).rows(rule, at)
