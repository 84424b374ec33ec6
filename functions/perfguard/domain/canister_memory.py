"""Memory headroom of a canister against its limits, and when growth would reach them.

* heap limit: the canister's `wasm_memory_limit` when set (> 0), else the configured heap limit (4 GiB for
  wasm32, icp-canisters.md §5); the smaller of the two when both are given.
* stable limit: the configured stable limit (500 GiB).
* headroom % = (limit − used) / limit x 100, per memory; the canister's headroom is the lowest.
* growth: the least-squares slope of the readings over time (Prometheus' `predict_linear`), in bytes a day;
  days to the limit = (limit − used) / slope when the slope is positive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Headroom:
    """Headroom of one memory against its limit, with its growth and forecast."""

    memory: str  # heap or stable
    used: int
    limit: int
    percent: float
    growth_per_day: float | None = None
    days_to_limit: float | None = None


def heap_limit(configured: int, wasm_memory_limit: int | None) -> int:
    """The heap's effective limit."""
    return min(configured, wasm_memory_limit) if wasm_memory_limit else configured


def headroom(memory: str, used: int, limit: int, history: Sequence[tuple[dt.datetime, int]] = ()) -> Headroom:
    """Headroom of `used` bytes against `limit`, forecast from the (time, bytes) history."""
    percent = max(limit - used, 0) / limit * 100
    slope = growth_per_day(history)
    days = (limit - used) / slope if slope and slope > 0 and used < limit else None
    return Headroom(memory, used, limit, percent, slope, days)


def growth_per_day(history: Sequence[tuple[dt.datetime, int]]) -> float | None:
    """Least-squares slope of bytes over time, per day; None with fewer than two distinct moments."""
    if len(history) < 2:
        return None
    origin = history[0][0]
    xs = [(moment - origin).total_seconds() / 86_400 for moment, _ in history]
    ys = [float(value) for _, value in history]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def lowest(headrooms: Sequence[Headroom]) -> Headroom | None:
    """The memory with the least headroom."""
    return min(headrooms, key=lambda h: h.percent, default=None)
