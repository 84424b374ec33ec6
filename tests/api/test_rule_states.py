"""The evaluator with every kind of rule: each rule's state in check_thresholds (the KPI rules say no_data until
their data exist), alert types per kind, what a failing query does under each on_error policy, and alerts of
other detectors left alone (real DuckDB, fake clock)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from perfguard.api.alerting import check_thresholds, evaluate_thresholds, record_alert_changes
from perfguard.api.auth import ADMIN, KeyRing, key
from perfguard.api.rule_evaluation import evaluate_rules
from perfguard.bus.cloudevent import Message
from perfguard.bus.memory import MemoryBus
from perfguard.domain.metric import MetricType, Outcome, PerformanceMetric, Unit
from perfguard.domain.thresholds import ThresholdRule
from perfguard.errors import WarehouseError
from perfguard.runtime import Runtime, load_threshold_rules
from perfguard.settings import Settings
from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse
from tests.support.doubles import embedded_store

START = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
TICK = Message({"job": "evaluate_thresholds"}, {"source": "scheduler"}, "1", START)
TOKEN = "k" * 32


class FailingFor:
    """The real store, except that rule queries of one metric type fail (a stand-in for a BigQuery outage,
    which cannot be produced on DuckDB)."""

    def __init__(self, store: DuckDBWarehouse) -> None:
        self.store, self.failing = store, ""

    def query(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        if self.failing and params.get("metric_type") == self.failing and "window_us" in params:
            raise WarehouseError("query failed: 503 backend unavailable")
        return self.store.query(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@dataclasses.dataclass
class World:
    runtime: Runtime
    warehouse: FailingFor
    bus: MemoryBus

    def at(self, moment: dt.datetime) -> None:
        self.runtime.clock = lambda: moment


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    store = embedded_store(tmp_path / "e.duckdb")
    warehouse, bus = FailingFor(store), MemoryBus()
    runtime = Runtime(Settings(data_dir=str(tmp_path)), warehouse, bus, KeyRing([key("t", TOKEN, [ADMIN])]))  # type: ignore[arg-type]
    yield World(runtime, warehouse, bus)
    store.close()


def latency(value: float, first: dt.datetime, minutes: int, endpoint: str = "POST /swaps") -> list[PerformanceMetric]:
    return [
        PerformanceMetric(
            f"l-{endpoint}-{first.isoformat()}-{m}-{i}",
            MetricType.API_LATENCY,
            endpoint,
            value,
            Unit.MS,
            None,
            int((first + m * MINUTE).timestamp() * 1e6) + i,
            {},
            Outcome.OK,
            "t",
            None,
            "t",
        )  # fmt: skip
        for m in range(minutes)
        for i in range(12)
    ]


def check(world: World, **query: str) -> dict[str, Any]:
    request = Request(EnvironBuilder(query_string=query, headers={"Authorization": f"Bearer {TOKEN}"}).get_environ())
    response = check_thresholds(world.runtime, request)
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


def states(body: Mapping[str, Any]) -> dict[str, str]:
    return {rule["rule"]: rule["state"] for rule in body["rules"]}


def test_every_packaged_rule_has_a_state_and_kpi_rules_say_no_data(world: World) -> None:
    world.warehouse.store.ingest_metrics(latency(2600.0, START, 6), START)
    body = check(world, at=(START + 6 * MINUTE).isoformat())
    names = [rule.name for rule in load_threshold_rules(Settings())]
    assert list(states(body)) == names
    assert states(body)["p95_api_latency"] == "firing"
    no_data = {name for name, state in states(body).items() if state == "no_data"}
    assert no_data >= {"crash_free_sessions_page", "crash_free_sessions_ticket", "swap_success_rate",
                       "swap_completion_median", "canister_cycles_runway", "canister_memory_headroom",
                       "canister_not_reporting", "p95_api_latency_anomaly"}  # fmt: skip
    assert {alert["rule"] for alert in body["alerts"]} == {"p95_api_latency"}
    narrowed = check(world, metric_type="crash_rate", at=(START + 6 * MINUTE).isoformat())
    assert set(states(narrowed)) == {"crash_free_sessions_page", "crash_free_sessions_ticket"}


def test_a_failing_query_keeps_the_rules_alerts_and_says_error(world: World) -> None:
    world.warehouse.store.ingest_metrics(latency(2600.0, START, 6), START)
    world.at(START + 6 * MINUTE)
    opened = evaluate_thresholds(world.runtime, TICK)
    assert {row["status"] for row in opened} == {"open"} and len(opened) == 2

    world.warehouse.failing = "api_latency"
    world.at(START + 20 * MINUTE)  # the data stopped: without the outage both alerts would resolve
    assert evaluate_thresholds(world.runtime, TICK) == []
    body = check(world, metric_type="api_latency", at=(START + 20 * MINUTE).isoformat())
    assert body["rules"][0]["state"] == "error" and "503" in body["rules"][0]["error"]

    world.warehouse.failing = ""
    assert {row["status"] for row in evaluate_thresholds(world.runtime, TICK)} == {"resolved"}


def test_on_error_ok_resolves_and_alerting_opens_an_error_alert(world: World) -> None:
    world.warehouse.store.ingest_metrics(latency(2600.0, START, 6), START)
    world.at(START + 6 * MINUTE)
    rules = [r for r in load_threshold_rules(Settings()) if r.name == "p95_api_latency"]
    world.runtime.rules = [dataclasses.replace(rules[0], on_error="ok")]
    evaluate_thresholds(world.runtime, TICK)
    world.warehouse.failing = "api_latency"
    world.at(START + 7 * MINUTE)
    assert {row["status"] for row in evaluate_thresholds(world.runtime, TICK)} == {"resolved"}

    world.runtime.rules = [dataclasses.replace(rules[0], on_error="alerting")]
    world.at(START + 8 * MINUTE)
    (row,) = evaluate_thresholds(world.runtime, TICK)
    assert (row["status"], row["endpoint_or_operation"], row["current_value"]) == ("open", None, None)
    assert "503" in row["context"]


def test_the_evaluator_leaves_alerts_of_other_detectors_alone(world: World) -> None:
    foreign = {
        "id": "alrt_crash_cluster_1", "alert_type": "anomaly_detected", "rule": "crash_cluster_velocity",
        "metric_type": "crash_rate", "endpoint_or_operation": "issue 42", "current_value": 3.0,
        "threshold_value": 1.0, "severity": "critical", "status": "open", "context": "{}",
        "triggered_at": START, "resolved_at": None, "changed_at": START, "changed_by": "firebase_import",
    }  # fmt: skip
    record_alert_changes(world.runtime, [foreign])
    assert [d["rule"] for d in world.bus.on("performance-alerts")] == ["crash_cluster_velocity"]
    world.at(START + 30 * MINUTE)
    assert evaluate_thresholds(world.runtime, TICK) == []  # crash_rate rules have no data, yet keep their hands off


def test_alert_types_follow_the_rule_kind(world: World) -> None:
    # An hour of 2.6 s P95 against 1.0 s at the same hour a day and a week earlier: a trend.
    hour = START.replace(minute=0)
    for offset in (dt.timedelta(days=7), dt.timedelta(days=1)):
        world.warehouse.store.ingest_metrics(latency(1000.0, hour - offset, 60), START)
    world.warehouse.store.ingest_metrics(latency(2600.0, hour, 60), START)
    world.at(hour + dt.timedelta(hours=1, seconds=5))
    changes = evaluate_thresholds(world.runtime, TICK)
    types = {(row["rule"], row["alert_type"]) for row in changes}
    assert ("p95_api_latency_trend", "trend_degradation") in types
    assert ("p95_api_latency", "threshold_exceeded") in types


def test_rules_reading_one_selector_share_one_query_with_the_percentiles_some_need(world: World) -> None:
    world.warehouse.store.ingest_metrics(latency(2600.0, START, 6), START)
    queries: list[str] = []
    real_query = world.warehouse.query

    def counting(sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        queries.append(sql)
        return real_query(sql, params)

    world.warehouse.query = counting  # type: ignore[method-assign]
    p95 = ThresholdRule()
    count = dataclasses.replace(p95, name="too_few", statistic="count", comparator="<", threshold=5.0)
    (fast, slow) = evaluate_rules(world.warehouse, [count, p95], START + 6 * MINUTE)
    assert len(queries) == 1 and "p95" in queries[0]  # window_stats, not window_counts and window_stats
    assert (fast.state, slow.state) == ("ok", "firing")
