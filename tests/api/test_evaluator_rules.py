"""The evaluator with rules from a rules file: every rule evaluated on its own metric type, one alert per rule
and group, and one rule's breaches never resolve another rule's alert (real DuckDB, fake clock)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from perfguard.api.alerting import evaluate_thresholds
from perfguard.api.auth import KeyRing
from perfguard.bus.cloudevent import Message
from perfguard.bus.memory import MemoryBus
from perfguard.domain.metric import MetricType, Outcome, PerformanceMetric, Unit
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from tests.support.doubles import embedded_store

START = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
TICK = Message({"job": "evaluate_thresholds"}, {"source": "scheduler"}, "1", START)
RULES = [
    {
        "name": "p95_api_latency",
        "metric_type": "api_latency",
        "statistic": "p95",
        "comparator": ">",
        "threshold": 2000,
        "windows": 5,
        "min_samples": 10,
        "severity": "high",
        "runbook": "p95_api_latency.md",
    },
    {
        "name": "p95_memory",
        "metric_type": "memory_usage",
        "statistic": "p95",
        "comparator": ">=",
        "threshold": 1000,
        "windows": 3,
        "min_samples": 5,
        "severity": "medium",
        "group": "endpoint",
        "runbook": "p95_api_latency.md",
    },
]


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Runtime, Clock, MemoryBus]]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"rules": RULES}), encoding="utf-8")
    store = embedded_store(tmp_path / "e.duckdb")
    clock, bus = Clock(), MemoryBus()
    settings = Settings(data_dir=str(tmp_path), rules_file=str(rules))
    yield Runtime(settings, store, bus, KeyRing([]), clock=clock), clock, bus
    store.close()


def records(
    metric_type: MetricType, unit: Unit, value: float, first: dt.datetime, count: int
) -> list[PerformanceMetric]:
    return [
        PerformanceMetric(
            f"{metric_type}-{first.isoformat()}-{m}-{i}",
            metric_type,
            "canister_a" if metric_type == MetricType.MEMORY_USAGE else "POST /swaps",
            value,
            unit,
            None,
            int((first + m * MINUTE).timestamp() * 1e6) + i * 1000,
            {},
            Outcome.OK,
            "t",
            None,
            "t",
        )
        for m in range(count)
        for i in range(12)
    ]


def current(runtime: Runtime) -> list[tuple[str, str, str, str | None, float]]:
    sql = (
        "SELECT rule, metric_type, status, endpoint_or_operation, threshold_value FROM performance_alerts_current "
        "ORDER BY rule, endpoint_or_operation NULLS FIRST"
    )
    return [tuple(row.values()) for row in runtime.warehouse.query(sql, {})]  # type: ignore[misc]


def test_two_rules_on_two_metric_types_each_open_and_resolve_their_own_alerts(
    world: tuple[Runtime, Clock, MemoryBus],
) -> None:
    runtime, clock, bus = world
    latency = records(MetricType.API_LATENCY, Unit.MS, 2600.0, START, 10)
    memory = records(MetricType.MEMORY_USAGE, Unit.BYTES, 1000.0, START, 4)  # >= 1000: breaches at the threshold
    runtime.warehouse.ingest_metrics(latency + memory, START)

    clock.now = START + 4 * MINUTE  # memory has 3 complete breaching minutes (its rule's windows), latency 4
    evaluate_thresholds(runtime, TICK)
    assert current(runtime) == [("p95_memory", "memory_usage", "open", "canister_a", 1000.0)]

    clock.now = START + 6 * MINUTE  # latency's 5th minute is complete; memory's minute 4 had no data
    evaluate_thresholds(runtime, TICK)
    assert current(runtime) == [
        ("p95_api_latency", "api_latency", "open", None, 2000.0),
        ("p95_api_latency", "api_latency", "open", "POST /swaps", 2000.0),
        ("p95_memory", "memory_usage", "resolved", "canister_a", 1000.0),
    ]
    assert evaluate_thresholds(runtime, TICK) == []  # a duplicated evaluation changes nothing
    published = [(d["rule"], d["status"]) for d in bus.on("performance-alerts")]
    assert published.count(("p95_memory", "open")) == 1
    assert published.count(("p95_api_latency", "open")) == 2
