"""Summaries: exact rows, per-bucket histogram rows folded into percentiles, baselines a day and a week back."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from perfguard.domain.histogram import RELATIVE_ACCURACY, bucket_of
from perfguard.domain.summary import (
    BASELINE_SHIFTS,
    EXACT,
    HISTOGRAM,
    SummaryGroup,
    choose_method,
    groups_from_exact,
    groups_from_histogram,
    with_baselines,
)

T0 = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
DAY, WEEK = dt.timedelta(days=1), dt.timedelta(days=7)


def histogram_rows(
    endpoint: str, bucket_start: dt.datetime | None, values: Sequence[float], outcomes: Sequence[str]
) -> list[dict[str, Any]]:
    """The rows summary_histogram.sql returns: one per histogram bucket, built by hand with bucket_of."""
    by_bucket: dict[int, list[tuple[float, str]]] = defaultdict(list)
    for value, outcome in zip(values, outcomes, strict=True):
        by_bucket[bucket_of(value)].append((value, outcome))
    return [
        {
            "endpoint_or_operation": endpoint,
            "bucket_start": bucket_start,
            "bucket": bucket,
            "count": len(items),
            "sum": sum(v for v, _ in items),
            "min": min(v for v, _ in items),
            "max": max(v for v, _ in items),
            "error_count": sum(1 for _, o in items if o != "ok"),  # as the rollup: timeouts are errors too
            "timeout_count": sum(1 for _, o in items if o == "timeout"),
        }
        for bucket, items in by_bucket.items()
    ]


def within(estimate: float, exact: float) -> bool:
    return abs(estimate - exact) <= RELATIVE_ACCURACY * abs(exact) + 1e-9


def group(endpoint: str = "/a", start: dt.datetime | None = None, p95: float = 100.0, **kw: Any) -> SummaryGroup:
    fields: dict[str, Any] = {
        "count": 10,
        "mean": 50.0,
        "min": 1.0,
        "max": 200.0,
        "p50": 40.0,
        "p99": 180.0,
        "error_rate": 0.1,
        "timeout_rate": 0.0,
    }
    fields.update(kw)
    return SummaryGroup(endpoint_or_operation=endpoint, bucket_start=start, p95=p95, **fields)


# --- choose_method ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "method"),
    [
        (dt.timedelta(minutes=5), EXACT),
        (dt.timedelta(hours=24), EXACT),
        (dt.timedelta(hours=24, microseconds=1), HISTOGRAM),
        (dt.timedelta(days=7), HISTOGRAM),
    ],
)
def test_choose_method_is_exact_up_to_and_including_the_limit(length: dt.timedelta, method: str) -> None:
    assert choose_method(T0, T0 + length, dt.timedelta(hours=24)) == method


# --- exact ------------------------------------------------------------------------------------------------------


def test_groups_from_exact_copies_statistics_and_divides_rates() -> None:
    row = {
        "endpoint_or_operation": "/swap",
        "bucket_start": T0,
        "count": 8,
        "mean": 12.5,
        "min": 1,
        "max": 99,
        "p50": 10,
        "p95": 90.5,
        "p99": 98.1,
        "error_count": 2,
        "timeout_count": 1,
    }
    (result,) = groups_from_exact([row])
    assert result == SummaryGroup("/swap", T0, 8, 12.5, 1.0, 99.0, 10.0, 90.5, 98.1, 0.25, 0.125)
    assert isinstance(result.min, float) and result.baseline == {}


def test_groups_from_exact_keeps_row_order_and_keys() -> None:
    rows = [
        {"endpoint_or_operation": e, "bucket_start": None, "count": 1, "mean": 1, "min": 1, "max": 1, "p50": 1}
        | {"p95": 1, "p99": 1, "error_count": 0, "timeout_count": 0}
        for e in ("/b", "/a")
    ]
    assert [g.key() for g in groups_from_exact(rows)] == [("/b", None), ("/a", None)]


# --- histogram --------------------------------------------------------------------------------------------------


def sample(seed: int, size: int) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    values = rng.lognormal(5.5, 1.0, size)
    outcomes = list(rng.choice(["ok", "ok", "ok", "ok", "ok", "ok", "ok", "error", "timeout"], size))
    return values, outcomes


def test_groups_from_histogram_percentiles_match_numpy_within_accuracy() -> None:
    values, outcomes = sample(1, 4000)
    (result,) = groups_from_histogram(histogram_rows("/listings", None, list(values), outcomes))
    assert result.count == 4000
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        assert within(getattr(result, name), float(np.percentile(values, q))), name
    assert result.min == values.min() and result.max == values.max()
    assert result.mean == pytest.approx(values.mean(), rel=1e-12)


def test_groups_from_histogram_rates_are_exact() -> None:
    values, outcomes = sample(2, 1500)
    (result,) = groups_from_histogram(histogram_rows("/listings", None, list(values), outcomes))
    errors = sum(1 for o in outcomes if o != "ok")
    timeouts = outcomes.count("timeout")
    assert result.error_rate == errors / 1500
    assert result.timeout_rate == timeouts / 1500


def test_groups_from_histogram_separates_endpoints_and_time_buckets_and_sorts_them() -> None:
    rows: list[dict[str, Any]] = []
    data: dict[tuple[str, dt.datetime], np.ndarray] = {}
    for seed, key in enumerate([("/z", T0 + dt.timedelta(hours=1)), ("/a", T0 + dt.timedelta(hours=1)), ("/a", T0)]):
        values, outcomes = sample(10 + seed, 300 + 100 * seed)
        data[key] = values
        rows += histogram_rows(key[0], key[1], list(values), outcomes)
    result = groups_from_histogram(reversed(rows))
    assert [g.key() for g in result] == [
        ("/a", T0),
        ("/a", T0 + dt.timedelta(hours=1)),
        ("/z", T0 + dt.timedelta(hours=1)),
    ]
    for g in result:
        assert g.bucket_start is not None
        values = data[(g.endpoint_or_operation, g.bucket_start)]
        assert g.count == len(values)
        assert within(g.p95, float(np.percentile(values, 95)))


def test_groups_from_histogram_clamps_to_min_and_max() -> None:
    (result,) = groups_from_histogram(histogram_rows("/c", None, [250.0] * 40, ["ok"] * 40))
    assert (result.p50, result.p95, result.p99) == (250.0, 250.0, 250.0)


def test_groups_from_histogram_of_two_values() -> None:
    (result,) = groups_from_histogram(histogram_rows("/two", None, [10.0, 1000.0], ["ok", "error"]))
    assert within(result.p50, 505.0)
    assert within(result.p99, float(np.percentile([10.0, 1000.0], 99)))
    assert result.error_rate == 0.5


def test_groups_from_histogram_with_no_rows_is_empty() -> None:
    assert groups_from_histogram([]) == []


# --- baselines --------------------------------------------------------------------------------------------------


def test_baselines_match_by_endpoint_and_shifted_bucket_start() -> None:
    current = [group("/a", T0, p95=150.0, error_rate=0.2), group("/b", T0, p95=80.0)]
    day_ago = [group("/a", T0 - DAY, p95=100.0, error_rate=0.05), group("/b", T0 - WEEK, p95=1.0)]
    week_ago = [group("/b", T0 - WEEK, p95=160.0, count=33)]
    a, b = with_baselines(current, {"day_ago": day_ago, "week_ago": week_ago})
    assert a.baseline["day_ago"] == {
        "count": 10,
        "mean": 50.0,
        "p50": 40.0,
        "p95": 100.0,
        "p99": 180.0,
        "error_rate": 0.05,
        "p95_change": pytest.approx(0.5),
        "error_rate_change": pytest.approx(0.15),
    }
    assert a.baseline["week_ago"] is None
    assert b.baseline["day_ago"] is None  # the /b row a week back is not the day-ago counterpart
    assert b.baseline["week_ago"]["p95_change"] == pytest.approx(-0.5)
    assert b.baseline["week_ago"]["count"] == 33


def test_baselines_for_bucketed_groups_follow_each_bucket() -> None:
    hours = [T0 + dt.timedelta(hours=h) for h in range(3)]
    current = [group("/a", h, p95=200.0) for h in hours]
    day_ago = [group("/a", h - DAY, p95=100.0 * (i + 1)) for i, h in enumerate(hours[:2])]
    result = with_baselines(current, {"day_ago": day_ago})
    changes = [g.baseline["day_ago"] and g.baseline["day_ago"]["p95_change"] for g in result]
    assert changes == [pytest.approx(1.0), pytest.approx(0.0), None]


def test_unbucketed_groups_match_unbucketed_baselines() -> None:
    (result,) = with_baselines([group("/a", None, p95=120.0)], {"week_ago": [group("/a", None, p95=100.0)]})
    assert result.baseline["week_ago"]["p95_change"] == pytest.approx(0.2)


def test_zero_baseline_p95_gives_no_change() -> None:
    (result,) = with_baselines([group("/a", T0, p95=5.0)], {"day_ago": [group("/a", T0 - DAY, p95=0.0)]})
    assert result.baseline["day_ago"]["p95_change"] is None


def test_no_earlier_windows_gives_an_empty_baseline_and_keeps_statistics() -> None:
    original = group("/a", T0)
    (result,) = with_baselines([original], {})
    assert result.baseline == {}
    assert result.p95 == original.p95 and result.key() == original.key()


def test_with_baselines_does_not_modify_its_input() -> None:
    original = group("/a", T0)
    with_baselines([original], {"day_ago": [group("/a", T0 - DAY)]})
    assert original.baseline == {}


def test_baseline_shifts_are_a_day_and_a_week() -> None:
    assert BASELINE_SHIFTS == {"day_ago": DAY, "week_ago": WEEK}
