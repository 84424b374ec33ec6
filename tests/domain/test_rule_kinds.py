"""The rule kinds and the state machine's options, each on hand-made windows with hand-computed answers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from typing import Any

import pytest

from perfguard.domain.rule_kinds import data_ranges, find_breaches, quantile
from perfguard.domain.thresholds import (
    MINUTE,
    AnomalySpec,
    BurnWindow,
    ThresholdRule,
    TrendSpec,
    window_from_row,
)

T0 = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)
RULE = dataclasses.replace(ThresholdRule(), group="overall")  # P95 > 2000 ms, 5 windows, 10 samples


def at(i: int) -> dt.datetime:
    return T0 + i * MINUTE


def row(start: dt.datetime, value: float | None, count: int = 20, **extra: Any) -> dict[str, Any]:
    return {"endpoint_or_operation": None, "minute": start, "count": count, "p95": value, "mean": value, **extra}


def series(values: list[float | None], first: int = 0) -> list[dict[str, Any]]:
    """One row a minute from T0 + `first` minutes; None leaves the minute out."""
    return [row(at(first + i), v) for i, v in enumerate(values) if v is not None]


def firing(rule: ThresholdRule, rows: list[dict[str, Any]], moment: dt.datetime) -> bool:
    return bool(find_breaches(rule, rows, moment))


@pytest.mark.parametrize(
    ("statistic", "expected"),
    [("p95", 900.0), ("mean", 400.0), ("count", 30.0), ("rate", 0.5), ("ratio", 0.25)],
)
def test_each_statistic_reads_its_column_or_is_computed(statistic: str, expected: float) -> None:
    rule = dataclasses.replace(RULE, statistic=statistic)
    window = window_from_row(rule, row(T0, 900.0, count=30, mean=400.0, numerator=5, denominator=20))
    assert window.value == expected


def test_less_than_fires_on_low_values() -> None:
    rule = dataclasses.replace(RULE, comparator="<", threshold=90.0, windows=2, statistic="mean", min_samples=1)
    assert firing(rule, series([95.0, 89.0, 88.0]), at(3))
    assert not firing(rule, series([95.0, 89.0, 90.0]), at(3))


def test_a_resolve_threshold_keeps_the_alert_until_the_value_is_past_it() -> None:
    rule = dataclasses.replace(RULE, resolve_threshold=1500.0)
    data = series([2500.0] * 5 + [1800.0, 1600.0, 1400.0])
    assert [firing(rule, data, at(i)) for i in (5, 6, 7, 8)] == [True, True, True, False]
    assert [firing(RULE, data, at(i)) for i in (5, 6)] == [True, False]  # without it: resolved at once


def test_keep_firing_for_holds_through_short_recoveries() -> None:
    rule = dataclasses.replace(RULE, keep_firing_for=3 * MINUTE)
    data = series([2500.0] * 5 + [900.0, 2500.0, 900.0, 900.0, 900.0, 900.0])
    # Miss at the end of minute 5 (06), held; condition back at 07; misses from 08: resolves at 08 + 3 min.
    assert [firing(rule, data, at(i)) for i in range(5, 12)] == [True, True, True, True, True, True, False]
    (breach,) = find_breaches(rule, data, at(10))
    assert breach.triggered_at == at(5)


def test_no_data_policies_for_a_missing_window_of_a_firing_group() -> None:
    data = series([2500.0] * 5 + [None, None, 2500.0])
    results = {
        policy: [firing(dataclasses.replace(RULE, no_data=policy), data, at(i)) for i in (6, 7)]
        for policy in ("no_data", "ok", "keep_last", "alerting")
    }
    assert results == {"no_data": [False, False], "ok": [False, False], "keep_last": [True, True],
                       "alerting": [True, True]}  # fmt: skip


def test_alerting_on_no_data_fires_for_a_rule_with_no_rows_at_all() -> None:
    rule = dataclasses.replace(RULE, no_data="alerting", windows=3)
    assert not firing(dataclasses.replace(RULE, windows=3), [], at(20))
    (breach,) = find_breaches(rule, [], at(20))
    assert breach.endpoint_or_operation is None and breach.current_value is None


def test_keep_last_does_not_build_or_break_a_streak() -> None:
    rule = dataclasses.replace(RULE, no_data="keep_last")
    assert firing(rule, series([2500.0, 2500.0, None, 2500.0, 2500.0, 2500.0]), at(6))
    assert not firing(RULE, series([2500.0, 2500.0, None, 2500.0, 2500.0, 2500.0]), at(6))


# ---- SLO burn rate -----------------------------------------------------------------------------------------
PAGE = ThresholdRule(
    name="crash_free_sessions_page",
    kind="slo_burn_rate",
    statistic="ratio",
    objective=99.5,
    burn_windows=(BurnWindow(HOUR, 5 * MINUTE, 14.4), BurnWindow(6 * HOUR, 30 * MINUTE, 6.0)),
    threshold=6.0,
    windows=1,
    min_samples=100,
    group="overall",
    lookback=dt.timedelta(minutes=30),
)


def sessions(minutes: int, crashed: int, first: dt.datetime, per_minute: int = 1000) -> list[dict[str, Any]]:
    return [
        {"endpoint_or_operation": None, "minute": first + i * MINUTE, "count": per_minute + crashed,
         "numerator": crashed, "denominator": per_minute}
        for i in range(minutes)
    ]  # fmt: skip


def test_burn_rate_pages_once_both_windows_burn_faster_than_the_factor() -> None:
    spike = T0 + 7 * HOUR
    # 0.1 % crashes (burn 0.2) for 7 hours, then 50 % (burn 100). After m spike minutes the 1 h burn is
    # ((60 - m) * 1 + 500 m) / 60,000 / 0.005 = (60 + 499 m) / 300, above 14.4 from m = 9; the 5 m burn is 100
    # from m = 5; the 6 h/30 m pair needs (360 + 499 m) / 1800 > 6, m >= 21.
    data = sessions(7 * 60, 1, T0) + sessions(30, 500, spike)
    assert not find_breaches(PAGE, data, spike + 8 * MINUTE)
    (breach,) = find_breaches(PAGE, data, spike + 9 * MINUTE)
    assert breach.triggered_at == spike + 9 * MINUTE
    assert breach.current_value == pytest.approx((60 + 499 * 9) / 300)  # min(1 h, 5 m) of the strongest pair
    rates = breach.detail["burn_rates"]["1h/5m"]
    assert (rates["long"], rates["short"]) == (pytest.approx((60 + 499 * 9) / 300), pytest.approx(100.0))


def test_burn_rate_resolves_when_the_short_window_recovers_and_needs_enough_events() -> None:
    spike = T0 + 7 * HOUR
    data = sessions(7 * 60, 1, T0) + sessions(20, 500, spike) + sessions(10, 1, spike + 20 * MINUTE)
    assert find_breaches(PAGE, data, spike + 20 * MINUTE)
    assert not find_breaches(PAGE, data, spike + 25 * MINUTE)  # the 5 m window is back at burn 0.2
    few = sessions(30, 1, spike, per_minute=1)  # every session crashed, but 30 events < min_samples (100)
    assert not find_breaches(PAGE, few, spike + 30 * MINUTE)


def test_burn_rate_reads_its_longest_window_before_the_lookback() -> None:
    (data_range,) = data_ranges(PAGE, T0)
    assert data_range == (T0 - PAGE.lookback - 6 * HOUR, T0)


# ---- trend -------------------------------------------------------------------------------------------------
TREND = ThresholdRule(
    name="p95_trend",
    kind="trend",
    window=HOUR,
    windows=1,
    min_samples=10,
    group="overall",
    trend=TrendSpec(relative=0.5, absolute=200.0),
    lookback=3 * HOUR,
)


def hourly(now_value: float, day_ago: float | None, week_ago: float | None) -> list[dict[str, Any]]:
    start = T0 - HOUR
    found = [row(start, now_value), row(start - DAY, day_ago), row(start - 7 * DAY, week_ago)]
    return [r for r in found if r["p95"] is not None]


@pytest.mark.parametrize(
    ("now", "day", "week", "fires"),
    [
        (1600.0, 1000.0, 1000.0, True),  # 60 % and 600 ms worse than both
        (1400.0, 1000.0, 1000.0, False),  # only 40 % worse
        (1600.0, 1000.0, 1500.0, False),  # no worse than a week ago
        (300.0, 100.0, 100.0, False),  # 200 % worse, but only 200 ms: not past the absolute margin
        (1600.0, 1000.0, None, True),  # a missing baseline: judged on the other
    ],
)
def test_trend_needs_both_margins_against_every_baseline(
    now: float, day: float, week: float | None, fires: bool
) -> None:
    assert firing(TREND, hourly(now, day, week), T0) is fires


def test_trend_without_baselines_has_no_data_and_its_ranges_are_shifted() -> None:
    assert not firing(TREND, hourly(5000.0, None, None), T0)
    ranges = data_ranges(TREND, T0)
    assert ranges[1] == (ranges[0][0] - DAY, T0 - DAY) and ranges[2] == (ranges[0][0] - 7 * DAY, T0 - 7 * DAY)


# ---- anomaly -----------------------------------------------------------------------------------------------
ANOMALY = ThresholdRule(
    name="p95_anomaly",
    kind="anomaly",
    window=5 * MINUTE,
    windows=1,
    min_samples=10,
    group="overall",
    anomaly=AnomalySpec(seasons=7, k=3, n=5, relative=0.0, neighbours=6),
    lookback=dt.timedelta(minutes=80),
)
FIVE = 5 * MINUTE


def seasonal_history(today: dict[int, float], seed: int = 7) -> list[dict[str, Any]]:
    """Seven earlier days and today of 5-minute windows around T0: a daily shape (busier at 10:00) plus noise
    of +-5 %; `today` overrides windows by their index before T0 (1 = the window that just ended)."""
    generator = random.Random(seed)
    rows = []
    for day in range(8):
        for i in range(-40, 20):
            start = T0 - day * DAY + i * FIVE
            if day == 0 and start >= T0:
                continue
            normal = 800.0 + 10.0 * i
            value = today.get(-i, normal) if day == 0 else normal * generator.uniform(0.95, 1.05)
            rows.append(row(start, value * (generator.uniform(0.95, 1.05) if day == 0 and -i not in today else 1)))
    return rows


def test_anomaly_fires_when_k_of_the_last_n_windows_leave_the_calibrated_band() -> None:
    spike = {1: 1500.0, 2: 1400.0, 3: 1450.0}  # the last three windows ~75 % above their seasonal median
    (breach,) = find_breaches(ANOMALY, seasonal_history(spike), T0)
    assert breach.detail["anomalous_windows"] == 3
    assert breach.detail["residual"] > breach.detail["bound"] > 0
    assert not find_breaches(ANOMALY, seasonal_history({1: 1500.0, 2: 1400.0}), T0)  # 2 of 5: not yet
    assert not find_breaches(ANOMALY, seasonal_history({}), T0)


def test_anomaly_needs_min_seasons_of_history() -> None:
    recent = [r for r in seasonal_history({1: 1500.0, 2: 1400.0, 3: 1450.0}) if r["minute"] > T0 - 2.5 * DAY]
    assert not find_breaches(ANOMALY, recent, T0)  # today and two earlier days: below 3 seasons


def test_anomaly_bound_is_an_empirical_quantile_of_the_days_residuals() -> None:
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    # One slot, no neighbours: earlier days 100 x 6 and 130. Leave-one-out residuals 0 x 6 and 30; their 0.99
    # quantile is 30 * 0.94 = 28.2 (position 5.94 of 0..6), the baseline (median) 100.
    rule = dataclasses.replace(ANOMALY, anomaly=AnomalySpec(k=1, n=1, relative=0.0, neighbours=0))
    start = T0 - FIVE
    history = [row(start - d * DAY, 130.0 if d == 7 else 100.0) for d in range(1, 8)]
    (breach,) = find_breaches(rule, [*history, row(start, 128.3)], T0)
    assert (breach.detail["baseline"], breach.detail["bound"]) == (100.0, pytest.approx(28.2))
    assert not find_breaches(rule, [*history, row(start, 128.1)], T0)
