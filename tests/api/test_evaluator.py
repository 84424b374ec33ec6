"""The evaluator over a real DuckDB store and a fake clock: one alert per episode, however long it lasts,
resolved when the condition clears; a duplicated evaluation changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

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


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Runtime, Clock, MemoryBus]]:
    store = embedded_store(tmp_path / "e.duckdb")
    clock, bus = Clock(), MemoryBus()
    yield Runtime(Settings(data_dir=str(tmp_path)), store, bus, KeyRing([]), clock=clock), clock, bus
    store.close()


def minutes_of(value: float, first: dt.datetime, count: int) -> list[PerformanceMetric]:
    return [
        PerformanceMetric(
            f"{first.isoformat()}-{m}-{i}",
            MetricType.API_LATENCY,
            "POST /swaps",
            value,
            Unit.MS,
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


def statuses(runtime: Runtime) -> list[tuple[str, str]]:
    sql = "SELECT id, status FROM performance_alerts WHERE endpoint_or_operation = 'POST /swaps' ORDER BY changed_at"
    rows = runtime.warehouse.query(sql, {})
    return [(row["id"], row["status"]) for row in rows]


def test_a_ninety_minute_episode_is_one_alert_opened_once_and_resolved_once(
    world: tuple[Runtime, Clock, MemoryBus],
) -> None:
    runtime, clock, bus = world
    runtime.warehouse.ingest_metrics(minutes_of(2600.0, START, 90) + minutes_of(200.0, START + 90 * MINUTE, 3), START)
    for minute in range(1, 95):
        clock.now = START + minute * MINUTE
        evaluate_thresholds(runtime, TICK)
    changes = statuses(runtime)
    assert [status for _, status in changes] == ["open", "resolved"]
    assert changes[0][0] == changes[1][0]
    opened = [d for d in bus.on("performance-alerts") if d["status"] == "open" and d["endpoint_or_operation"]]
    assert len(opened) == 1 and opened[0]["triggered_at"] == "2026-11-25T08:05:00Z"


def test_an_evaluation_repeated_at_the_same_time_records_nothing_new(world: tuple[Runtime, Clock, MemoryBus]) -> None:
    runtime, clock, _ = world
    runtime.warehouse.ingest_metrics(minutes_of(2600.0, START, 6), START)
    clock.now = START + 6 * MINUTE
    first = evaluate_thresholds(runtime, TICK)
    again = evaluate_thresholds(runtime, TICK)
    # One for the endpoint and one for all endpoints together (it is the only endpoint).
    assert sorted((c["endpoint_or_operation"] or "", c["status"]) for c in first) == [
        ("", "open"),
        ("POST /swaps", "open"),
    ]
    assert again == []


def test_an_ingest_message_older_than_the_last_evaluation_is_coalesced(
    world: tuple[Runtime, Clock, MemoryBus],
) -> None:
    runtime, clock, _ = world
    runtime.warehouse.ingest_metrics(minutes_of(2600.0, START, 6), START)
    clock.now = START + 6 * MINUTE
    evaluate_thresholds(runtime, TICK)
    stale = Message({}, {"source": "record_performance_metric"}, "2", clock.now - dt.timedelta(seconds=1))
    assert evaluate_thresholds(runtime, stale) == []
    assert runtime.evaluation.last_started == clock.now


def ingest_message(oldest: dt.datetime, published: dt.datetime) -> Message:
    data = {"stored": 1, "oldest_timestamp": oldest.isoformat()}
    return Message(data, {"source": "record_performance_metric"}, "3", published)


def test_a_batch_of_the_current_minute_only_waits_for_the_tick(world: tuple[Runtime, Clock, MemoryBus]) -> None:
    runtime, clock, _ = world
    runtime.warehouse.ingest_metrics(minutes_of(2600.0, START, 6), START)
    clock.now = START + 6 * MINUTE + dt.timedelta(seconds=30)
    current = ingest_message(START + 6 * MINUTE + dt.timedelta(seconds=10), clock.now)
    assert evaluate_thresholds(runtime, current) == [] and statuses(runtime) == []
    late = ingest_message(START + 5 * MINUTE + dt.timedelta(seconds=59), clock.now)
    assert [c["status"] for c in evaluate_thresholds(runtime, late)] == ["open", "open"]
