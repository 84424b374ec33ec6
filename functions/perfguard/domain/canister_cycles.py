"""Cycles: burn rate corrected for top-ups, runway to the freezing limit with a band, and burn spikes.

Formulas (icp-canisters.md §1.2, §4, §7):

* burn: over consecutive balance readings, a drop is burn; a rise is a deposit, so that interval is left
  out (its burn is unknown), never counted as negative burn (canfund's deposit-adjusted estimate). The rate is
  the burn of the kept intervals over their time, in cycles per day, never below the idle burn
  (`idle_cycles_burned_per_day`: storage rent is paid whatever the traffic).
* freezing_limit = idle_burn_per_day x freezing_threshold / 86,400; liquid = balance − max(freezing_limit −
  reserved_cycles, 0); runway_days = liquid / burn_per_day. The canister freezes at the limit, not at zero.
* band: the same runway over the 90th and 10th percentile of the per-interval burn rates (floored by the idle
  burn): the spread of the burn the canister actually showed.
* spike: the recent burn above `factor` x the median burn of the baseline buckets and above it by at least
  `min_extra_per_day` (a robust baseline of the canister's own history, not a fixed threshold).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

DAY_US = 86_400_000_000


@dataclass(frozen=True)
class BalancePoint:
    """One reading of a canister's cycle balance."""

    at: dt.datetime
    cycles: int


@dataclass(frozen=True)
class Burn:
    """Cycles burned per day (top-up corrected, floored by idle burn), with the P10/P90 of interval rates."""

    per_day: int
    low: int
    high: int
    intervals: int
    deposits: int


@dataclass(frozen=True)
class Runway:
    """Days until the freezing limit at the burn rate, with the band of the burn's spread."""

    days: float
    low_days: float
    high_days: float
    liquid: int
    freezing_limit: int


@dataclass(frozen=True)
class Spike:
    """A burn rate well above the canister's own baseline."""

    recent_per_day: int
    baseline_per_day: int
    factor: float


def _interval_rates(points: Sequence[BalancePoint]) -> tuple[list[int], int, int, int]:
    """Per-interval burn rates (cycles/day), total burn, total microseconds, and deposits seen."""
    ordered = sorted(points, key=lambda p: p.at)
    rates, burned, elapsed, deposits = [], 0, 0, 0
    for before, after in zip(ordered, ordered[1:], strict=False):
        micros = (after.at - before.at) // dt.timedelta(microseconds=1)
        if micros <= 0:
            continue
        if after.cycles > before.cycles:
            deposits += 1  # a top-up: this interval's burn is unknown, leave it out
            continue
        drop = before.cycles - after.cycles
        rates.append(drop * DAY_US // micros)
        burned, elapsed = burned + drop, elapsed + micros
    return rates, burned, elapsed, deposits


def interval_burn(points: Sequence[BalancePoint]) -> list[tuple[dt.datetime, int]]:
    """Each interval's burn per day, at the interval's end, deposits left out (the alert's table of windows)."""
    ordered = sorted(points, key=lambda p: p.at)
    found = []
    for before, after in zip(ordered, ordered[1:], strict=False):
        micros = (after.at - before.at) // dt.timedelta(microseconds=1)
        if micros > 0 and after.cycles <= before.cycles:
            found.append((after.at, (before.cycles - after.cycles) * DAY_US // micros))
    return found


def burn_rate(points: Sequence[BalancePoint], idle_per_day: int | None) -> Burn | None:
    """The top-up corrected burn per day; None when there is neither an interval nor an idle burn."""
    rates, burned, elapsed, deposits = _interval_rates(points)
    floor = idle_per_day or 0
    if not elapsed:
        return Burn(floor, floor, floor, 0, deposits) if idle_per_day else None
    per_day = max(burned * DAY_US // elapsed, floor)
    low, high = _p10_p90(rates)
    return Burn(per_day, max(low, floor), max(high, floor), len(rates), deposits)


def _p10_p90(rates: Sequence[int]) -> tuple[int, int]:
    """Linear-interpolated 10th and 90th percentiles (numpy's default method)."""
    ordered = sorted(rates)
    return int(_quantile(ordered, 0.1)), int(_quantile(ordered, 0.9))


def _quantile(ordered: Sequence[int], q: float) -> float:
    position = q * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def freezing_limit(idle_per_day: int, freezing_threshold: int) -> int:
    """Cycles a canister must hold not to freeze."""
    return idle_per_day * freezing_threshold // 86_400


def runway(cycles: int, reserved: int, limit: int, burn: Burn) -> Runway:
    """Days of liquid cycles left at the burn rate, the band from the burn's P90 (short) and P10 (long)."""
    liquid = max(cycles - max(limit - reserved, 0), 0)
    return Runway(_days(liquid, burn.per_day), _days(liquid, burn.high), _days(liquid, burn.low), liquid, limit)


def _days(liquid: int, per_day: int) -> float:
    return liquid / per_day if per_day > 0 else float("inf")


def bucket_rates(
    points: Sequence[BalancePoint], start: dt.datetime, end: dt.datetime, width: dt.timedelta
) -> list[int]:
    """Burn per day over consecutive runs of intervals in [start, end), each run at least `width` long.

    Runs follow the readings, not the clock, so any poll spacing works: one-minute polls give 10-interval
    runs of 10 minutes, polls every 10 minutes give one interval each. Deposit intervals are left out.
    """
    inside = sorted((p for p in points if start <= p.at <= end), key=lambda p: p.at)
    width_us = width // dt.timedelta(microseconds=1)
    rates, burned, elapsed = [], 0, 0
    for before, after in zip(inside, inside[1:], strict=False):
        micros = (after.at - before.at) // dt.timedelta(microseconds=1)
        if micros <= 0 or after.cycles > before.cycles:
            continue
        burned, elapsed = burned + before.cycles - after.cycles, elapsed + micros
        if elapsed >= width_us:
            rates.append(burned * DAY_US // elapsed)
            burned, elapsed = 0, 0
    return rates


def find_spike(
    recent_per_day: int, baseline_rates: Sequence[int], factor: float, min_extra_per_day: int, min_buckets: int = 6
) -> Spike | None:
    """A spike when the recent burn exceeds factor x the baseline median and the median by min_extra_per_day."""
    if len(baseline_rates) < min_buckets:
        return None  # too little history to know what normal is
    baseline = int(statistics.median(baseline_rates))
    if recent_per_day > factor * baseline and recent_per_day - baseline >= min_extra_per_day:
        ratio = recent_per_day / baseline if baseline else float("inf")
        return Spike(recent_per_day, baseline, ratio)
    return None
