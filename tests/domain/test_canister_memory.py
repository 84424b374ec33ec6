"""Memory headroom and growth forecasts against hand-computed values."""

from __future__ import annotations

import datetime as dt

import numpy as np

from perfguard.domain.canister_memory import growth_per_day, headroom, heap_limit, lowest

GIB = 2**30
T0 = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)


def test_the_heap_limit_is_wasm_memory_limit_when_set() -> None:
    assert heap_limit(4 * GIB, 3 * GIB) == 3 * GIB
    assert heap_limit(4 * GIB, 0) == 4 * GIB and heap_limit(4 * GIB, None) == 4 * GIB
    assert heap_limit(2 * GIB, 3 * GIB) == 2 * GIB


def test_headroom_percent_and_days_to_the_limit() -> None:
    # 2.25 GiB of a 3 GiB limit: 25 % headroom; growing 0.25 GiB a day: 3 days left
    history = [(T0 + dt.timedelta(days=d), int(1.25 * GIB + 0.25 * GIB * d)) for d in range(5)]
    result = headroom("heap", int(2.25 * GIB), 3 * GIB, history)
    assert result.percent == 25.0
    assert result.growth_per_day == 0.25 * GIB and result.days_to_limit == 3.0


def test_growth_is_the_least_squares_slope() -> None:
    days = [0.0, 0.5, 1.0, 2.0, 3.0]
    values = [100, 180, 190, 420, 500]
    history = [(T0 + dt.timedelta(days=d), v) for d, v in zip(days, values, strict=True)]
    expected = np.polyfit(days, values, 1)[0]
    assert abs((growth_per_day(history) or 0) - expected) < 1e-9
    assert growth_per_day(history[:1]) is None


def test_no_forecast_when_memory_does_not_grow_and_lowest_wins() -> None:
    flat = [(T0, GIB), (T0 + dt.timedelta(hours=1), GIB)]
    heap = headroom("heap", GIB, 4 * GIB, flat)
    assert heap.percent == 75.0 and heap.days_to_limit is None and heap.growth_per_day == 0.0
    stable = headroom("stable", 450 * GIB, 500 * GIB)
    assert lowest([heap, stable]) == stable and stable.percent == 10.0
    assert headroom("heap", 5 * GIB, 4 * GIB).percent == 0.0
