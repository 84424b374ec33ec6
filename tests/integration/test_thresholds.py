"""The seed's scenario over HTTP: P95 above 2 s for 5 consecutive minutes raises an alert; the evaluator
records it when new data arrives on the bus."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from tests.integration.conftest import RunningStack
from tests.integration.traffic import isolated_hour, minute_of, record, unique
from tests.seed import KPI_KEYS, SEED_ALERT_FIELDS

pytestmark = pytest.mark.stack
MINUTE = dt.timedelta(minutes=1)
SLOW = [2500.0] * 12  # P95 2500 ms, 12 samples (minimum 10)
FAST = [300.0] * 12


def backfill(stack: RunningStack, endpoint: str, start: dt.datetime, minutes: list[list[float]]) -> None:
    records = [r for i, values in enumerate(minutes) for r in minute_of(endpoint, start + i * MINUTE, values)]
    answer = stack.call("record_performance_metric", json={"metrics": records}).json()
    assert answer["stored"] == len(records), answer


def backfill_until_now(stack: RunningStack, endpoint: str, minutes: int) -> None:
    """`minutes` complete breaching minutes before now, plus breaching records of the current minute: if the
    minute ends while the test runs, the newly complete minute breaches too, so the streak still holds."""
    now = dt.datetime.now(dt.UTC)
    current = now.replace(second=0, microsecond=0)
    backfill(stack, endpoint, current - minutes * MINUTE, [SLOW] * minutes)
    step = (now - current) / len(SLOW)
    records = [record(endpoint, value, current + i * step) for i, value in enumerate(SLOW)]
    assert stack.call("record_performance_metric", json={"metrics": records}).json()["stored"] == len(records)


def alerts_at(stack: RunningStack, at: dt.datetime, endpoint: str) -> list[dict[str, Any]]:
    response = stack.call("check_thresholds", params={"metric_type": "api_latency", "at": at.isoformat()})
    assert response.status_code == 200, response.text
    alerts: list[dict[str, Any]] = response.json()["alerts"]
    return [a for a in alerts if json.loads(a["context"])["endpoint_or_operation"] == endpoint]


def test_fires_on_exactly_the_fifth_consecutive_breaching_minute(stack: RunningStack) -> None:
    start, endpoint = isolated_hour(), unique("POST /swaps")
    backfill(stack, endpoint, start, [SLOW] * 5)
    assert alerts_at(stack, start + 4 * MINUTE + dt.timedelta(seconds=59), endpoint) == []
    [alert] = alerts_at(stack, start + 5 * MINUTE, endpoint)
    assert alert["alert_type"] == "threshold_exceeded" and alert["metric_type"] == "api_latency"
    assert (alert["current_value"], alert["threshold_value"], alert["status"]) == (2500.0, 2000.0, "open")
    assert alert["triggered_at"] == (start + 5 * MINUTE).isoformat().replace("+00:00", "Z")
    assert alert["severity"] == "high" and alert["resolved_at"] is None
    context = json.loads(alert["context"])
    assert [w["count"] for w in context["windows"]] == [12] * 5
    assert set(alert) >= SEED_ALERT_FIELDS


def test_four_breaching_minutes_and_a_good_one_do_not_fire(stack: RunningStack) -> None:
    start, endpoint = isolated_hour(), unique("POST /swaps")
    backfill(stack, endpoint, start, [SLOW, SLOW, FAST, SLOW, SLOW, SLOW, SLOW])
    assert alerts_at(stack, start + 7 * MINUTE, endpoint) == []


def test_windows_below_the_minimum_sample_count_do_not_fire(stack: RunningStack) -> None:
    start, endpoint = isolated_hour(), unique("POST /swaps")
    backfill(stack, endpoint, start, [SLOW, SLOW, [2500.0] * 9, SLOW, SLOW])
    assert alerts_at(stack, start + 5 * MINUTE, endpoint) == []


def test_the_same_episode_keeps_its_alert_id_and_clears_when_latency_recovers(stack: RunningStack) -> None:
    start, endpoint = isolated_hour(), unique("POST /swaps")
    backfill(stack, endpoint, start, [SLOW] * 7 + [FAST])
    first = alerts_at(stack, start + 5 * MINUTE, endpoint)
    later = alerts_at(stack, start + 7 * MINUTE, endpoint)
    assert len(first) == 1 and [a["id"] for a in later] == [first[0]["id"]]
    assert alerts_at(stack, start + 8 * MINUTE, endpoint) == []


def test_new_data_on_the_bus_makes_the_evaluator_open_the_alert(stack: RunningStack) -> None:
    endpoint = unique("POST /swaps/live")
    backfill_until_now(stack, endpoint, 6)
    assert stack.wait_for_output(f"alert open: p95_api_latency {endpoint}", timeout=30), stack.output()[-2000:]


def test_kpi_dashboard_lists_every_kpi_with_status(stack: RunningStack) -> None:
    endpoint = unique("GET /kpi")
    now = dt.datetime.now(dt.UTC)
    records = [record(endpoint, 100.0, now - dt.timedelta(seconds=i)) for i in range(30)]
    stack.call("record_performance_metric", json={"metrics": records})
    body = stack.call("get_kpi_status").json()
    kpis = {k["key"]: k for k in body["kpis"]}
    assert set(kpis) == set(KPI_KEYS)
    latency = kpis["api_latency_p95"]
    assert latency["sample_size"] >= 30 and latency["status"] in ("ok", "at_risk", "breach")
    assert latency["target"] == 2000.0 and latency["comparator"] == "<="
    assert kpis["crash_free_sessions"]["status"] == "no_data" and kpis["crash_free_sessions"]["target"] == 99.5
