"""get_performance_data and get_performance_summary over real HTTP, checked against numpy."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import numpy as np
import pytest

from tests.integration.conftest import RunningStack
from tests.integration.traffic import isolated_hour, record, unique

pytestmark = pytest.mark.stack
HOUR = dt.timedelta(hours=1)


def ingest(stack: RunningStack, records: list[dict[str, Any]]) -> None:
    for start in range(0, len(records), 5000):
        answer = stack.call("record_performance_metric", json={"metrics": records[start : start + 5000]}).json()
        assert answer["rejected"] == [], answer["rejected"][:3]


def summary(stack: RunningStack, **params: Any) -> dict[str, Any]:
    response = stack.call("get_performance_summary", params={"metric_type": "api_latency", **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def latencies(n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [round(rng.lognormvariate(5.0, 0.8), 3) for _ in range(n)]


def test_pages_return_every_record_once_in_time_order(stack: RunningStack) -> None:
    hour, endpoint = isolated_hour(), unique("GET /paged")
    batch = [record(endpoint, float(i), hour + dt.timedelta(seconds=i // 2)) for i in range(25)]
    ingest(stack, batch)
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(5):
        params = {
            "metric_type": "api_latency",
            "start": hour.isoformat(),
            "end": (hour + HOUR).isoformat(),
            "endpoint_or_operation": endpoint,
            "limit": 10,
            **({"cursor": cursor} if cursor else {}),
        }
        page = stack.call("get_performance_data", params=params).json()
        seen.extend(page["metrics"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(m["id"] for m in seen) == sorted(r["id"] for r in batch)
    assert [m["timestamp_ns"] for m in seen] == sorted(m["timestamp_ns"] for m in seen)


def test_tag_filters_select_matching_records(stack: RunningStack) -> None:
    hour, endpoint = isolated_hour(), unique("GET /tagged")
    batch = [record(endpoint, float(i), hour, tags={"platform": "ios" if i % 3 else "android"}) for i in range(9)]
    ingest(stack, batch)
    params = {
        "metric_type": "api_latency",
        "start": hour.isoformat(),
        "end": (hour + HOUR).isoformat(),
        "tag.platform": "android",
    }
    metrics = stack.call("get_performance_data", params=params).json()["metrics"]
    assert sorted(m["value"] for m in metrics) == [0.0, 3.0, 6.0]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z"}, "metric_type is required"),
        ({"metric_type": "api_latency", "end": "2026-11-02T00:00:00Z"}, "start is required"),
        (
            {"metric_type": "api_latency", "start": "2026-11-02T00:00:00Z", "end": "2026-11-01T00:00:00Z"},
            "end must be after start",
        ),
        (
            {"metric_type": "api_latency", "start": "1795687200000", "end": "2026-11-02T00:00:00Z"},
            "start: timestamp 1795687200000 looks like milliseconds",
        ),
        (
            {
                "metric_type": "api_latency",
                "start": "2026-11-01T00:00:00Z",
                "end": "2026-11-02T00:00:00Z",
                "limit": "0",
            },
            "limit must be between 1 and 10000",
        ),
        (
            {
                "metric_type": "api_latency",
                "start": "2026-11-01T00:00:00Z",
                "end": "2026-11-02T00:00:00Z",
                "cursor": "garbage",
            },
            "cursor is not one this server issued",
        ),
    ],
)
def test_bad_query_parameters_get_400_with_the_reason(
    stack: RunningStack, params: dict[str, str], message: str
) -> None:
    response = stack.call("get_performance_data", params=params)
    assert response.status_code == 400 and message in response.json()["error"]["message"]


def test_summary_matches_numpy_exactly_within_a_day(stack: RunningStack) -> None:
    hour, endpoint = isolated_hour(), unique("GET /search")
    values = latencies(997, seed=1)
    statuses = ["timeout" if i % 50 == 0 else "error" if i % 20 == 0 else "ok" for i in range(len(values))]
    batch = [
        record(endpoint, v, hour + dt.timedelta(seconds=i * 3), tags={"status": s})
        for i, (v, s) in enumerate(zip(values, statuses, strict=True))
    ]
    ingest(stack, batch)
    body = summary(stack, start=hour.isoformat(), end=(hour + HOUR).isoformat(), endpoint_or_operation=endpoint)
    assert body["method"] == "exact"
    [group] = body["groups"]
    data = np.array(values)
    assert group["count"] == len(values)
    for name, expected in (("p50", 50), ("p95", 95), ("p99", 99)):
        assert group[name] == pytest.approx(np.percentile(data, expected), rel=1e-12)
    assert group["mean"] == pytest.approx(data.mean(), rel=1e-12)
    assert (group["min"], group["max"]) == (data.min(), data.max())
    assert group["timeout_rate"] == pytest.approx(statuses.count("timeout") / len(values))
    assert group["error_rate"] == pytest.approx((statuses.count("timeout") + statuses.count("error")) / len(values))


def test_summary_buckets_by_interval(stack: RunningStack) -> None:
    hour, endpoint = isolated_hour(), unique("GET /bucketed")
    batch = [record(endpoint, float(i), hour + dt.timedelta(minutes=i)) for i in range(60)]
    ingest(stack, batch)
    body = summary(
        stack, start=hour.isoformat(), end=(hour + HOUR).isoformat(), endpoint_or_operation=endpoint, interval="5m"
    )
    groups = body["groups"]
    assert len(groups) == 12 and all(g["count"] == 5 for g in groups)
    assert groups[1]["bucket_start"] == (hour + dt.timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    assert groups[1]["p50"] == 7.0


def test_summary_compares_with_the_same_window_a_day_earlier(stack: RunningStack) -> None:
    hour, endpoint = isolated_hour(), unique("GET /baseline")
    before = [record(endpoint, 100.0 + i, hour - dt.timedelta(days=1) + dt.timedelta(seconds=i)) for i in range(101)]
    now = [record(endpoint, 150.0 + 1.5 * i, hour + dt.timedelta(seconds=i)) for i in range(101)]
    ingest(stack, before + now)
    [group] = summary(stack, start=hour.isoformat(), end=(hour + HOUR).isoformat(), endpoint_or_operation=endpoint)[
        "groups"
    ]
    day = group["baseline"]["day_ago"]
    assert day["p95"] == pytest.approx(195.0) and group["p95"] == pytest.approx(292.5)
    assert day["p95_change"] == pytest.approx(292.5 / 195.0 - 1)
    assert group["baseline"]["week_ago"] is None


def test_long_ranges_use_the_histograms_within_one_percent(stack: RunningStack) -> None:
    hour, endpoint = isolated_hour(), unique("GET /long")
    values = latencies(2000, seed=2)
    ingest(stack, [record(endpoint, v, hour + dt.timedelta(seconds=i)) for i, v in enumerate(values)])
    body = summary(
        stack,
        start=(hour - dt.timedelta(days=2)).isoformat(),
        end=(hour + HOUR).isoformat(),
        endpoint_or_operation=endpoint,
    )
    assert body["method"] == "histogram"
    [group] = body["groups"]
    data = np.array(values)
    assert group["count"] == len(values) and group["mean"] == pytest.approx(data.mean(), rel=1e-9)
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        assert group[name] == pytest.approx(np.percentile(data, q), rel=0.01)


def test_an_unknown_interval_is_refused(stack: RunningStack) -> None:
    response = stack.call(
        "get_performance_summary",
        params={
            "metric_type": "api_latency",
            "interval": "2m",
            "start": "2026-11-01T00:00:00Z",
            "end": "2026-11-01T01:00:00Z",
        },
    )
    assert response.status_code == 400 and "interval must be one of 1m, 5m, 1h, 1d" in response.text
