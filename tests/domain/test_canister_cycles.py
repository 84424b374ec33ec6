"""Burn, runway and spike checked against hand-computed values of the reference's formulas."""

from __future__ import annotations

import datetime as dt

import numpy as np

from perfguard.domain.canister_cycles import (
    BalancePoint,
    Burn,
    bucket_rates,
    burn_rate,
    find_spike,
    freezing_limit,
    interval_burn,
    runway,
)

T0 = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def test_burn_is_the_drop_over_time_in_cycles_per_day() -> None:
    # 1,000,000 cycles gone in 10 minutes = 144 x 1,000,000 a day
    points = [BalancePoint(at(0), 5_000_000), BalancePoint(at(10), 4_000_000)]
    assert burn_rate(points, None) == Burn(144_000_000, 144_000_000, 144_000_000, 1, 0)


def test_a_top_up_is_not_negative_burn_its_interval_is_left_out() -> None:
    points = [
        BalancePoint(at(0), 10_000_000),
        BalancePoint(at(10), 9_000_000),  # burned 1,000,000 in 10 min
        BalancePoint(at(20), 50_000_000),  # deposit: unknown burn, left out
        BalancePoint(at(30), 48_000_000),  # burned 2,000,000 in 10 min
    ]
    burn = burn_rate(points, None)
    assert burn is not None
    # 3,000,000 in 20 kept minutes -> 3,000,000 x 72 = 216,000,000 a day
    assert (burn.per_day, burn.intervals, burn.deposits) == (216_000_000, 2, 1)
    rates = [144_000_000, 288_000_000]
    assert (burn.low, burn.high) == (int(np.percentile(rates, 10)), int(np.percentile(rates, 90)))


def test_idle_burn_is_the_floor() -> None:
    points = [BalancePoint(at(0), 1_000), BalancePoint(at(60), 1_000)]  # nothing moved in an hour
    assert burn_rate(points, 31_243_414) == Burn(31_243_414, 31_243_414, 31_243_414, 1, 0)
    assert burn_rate([BalancePoint(at(0), 5)], 7) == Burn(7, 7, 7, 0, 0)
    assert burn_rate([BalancePoint(at(0), 5)], None) is None


def test_runway_runs_to_the_freezing_limit_not_to_zero() -> None:
    # The dfx sample: idle 31,243,414 a day, threshold 2,592,000 s (30 days) -> limit 937,302,420
    limit = freezing_limit(31_243_414, 2_592_000)
    assert limit == 31_243_414 * 30
    burn = Burn(per_day=1_000_000_000, low=500_000_000, high=2_000_000_000, intervals=5, deposits=0)
    result = runway(196_157_756_924, 0, limit, burn)
    liquid = 196_157_756_924 - 937_302_420
    assert result.liquid == liquid and result.freezing_limit == limit
    assert result.days == liquid / 1e9 and result.low_days == liquid / 2e9 and result.high_days == liquid / 5e8


def test_reserved_cycles_count_toward_the_freezing_limit() -> None:
    burn = Burn(100, 100, 100, 1, 0)
    assert runway(10_000, 300, 1_000, burn).liquid == 10_000 - 700
    assert runway(10_000, 5_000, 1_000, burn).liquid == 10_000  # reserve above the limit: all liquid
    assert runway(500, 0, 1_000, burn).days == 0.0  # below the limit: frozen


def test_bucket_rates_and_a_spike_against_the_median_baseline() -> None:
    # 1,000 cycles a minute for an hour, then 10,000 a minute
    points = [BalancePoint(at(m), 10**9 - 1_000 * m) for m in range(61)]
    points += [BalancePoint(at(60 + m), points[-1].cycles - 10_000 * m) for m in range(1, 11)]
    baseline = bucket_rates(points, at(0), at(60), dt.timedelta(minutes=10))
    assert baseline == [1_440_000] * 6
    recent = burn_rate([p for p in points if p.at >= at(60)], None)
    assert recent is not None and recent.per_day == 14_400_000
    spike = find_spike(recent.per_day, baseline, factor=3.0, min_extra_per_day=1_000_000)
    assert spike is not None and spike.factor == 10.0 and spike.baseline_per_day == 1_440_000
    assert find_spike(4_000_000, baseline, 3.0, 1_000_000) is None  # under 3x
    assert find_spike(14_400_000, baseline[:5], 3.0, 1_000_000) is None  # too little history
    assert find_spike(14_400_000, baseline, 3.0, 20_000_000) is None  # too small to matter


def test_bucket_runs_follow_the_readings_whatever_their_spacing() -> None:
    # readings every 10 minutes, 5 minutes off the bucket edges: 2,000 cycles a minute = 2,880,000 a day
    points = [BalancePoint(at(5 + 10 * n), 10**9 - 20_000 * n) for n in range(6)]
    assert bucket_rates(points, at(0), at(60), dt.timedelta(minutes=10)) == [2_880_000] * 5
    # readings every 4 minutes: runs of 3 intervals (12 minutes) each
    points = [BalancePoint(at(4 * n), 10**9 - 8_000 * n) for n in range(10)]
    assert bucket_rates(points, at(0), at(36), dt.timedelta(minutes=10)) == [2_880_000] * 3


def test_interval_burn_is_each_interval_per_day_without_deposits() -> None:
    points = [BalancePoint(at(0), 1_000_000), BalancePoint(at(1), 999_000), BalancePoint(at(2), 5_000_000),
              BalancePoint(at(4), 4_990_000)]  # fmt: skip
    # 1,000 in a minute = 1,440,000 a day; the deposit interval is left out; 10,000 in 2 minutes = 7,200,000
    assert interval_burn(points) == [(at(1), 1_440_000), (at(4), 7_200_000)]
