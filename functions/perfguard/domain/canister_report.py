"""One canister at one poll: its reading and stored history turned into burn, runway, memory, spike and advice.

History is the canister's earlier snapshots (oldest first). Windows: the burn and runway use the last
`burn_window`; a spike compares the burn of the last `spike_window` with the median of the `spike_window`
buckets of the `baseline` before it; the methods that explain it compare their per-method counters over the
same two spans; a module_hash change within the last hour is a deploy that may explain it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from perfguard.domain.canister_advice import Advice, Facts, advise
from perfguard.domain.canister_config import CanisterConfig
from perfguard.domain.canister_cycles import (
    BalancePoint,
    Burn,
    Runway,
    Spike,
    bucket_rates,
    burn_rate,
    find_spike,
    freezing_limit,
    interval_burn,
    runway,
)
from perfguard.domain.canister_memory import Headroom, headroom, heap_limit
from perfguard.domain.canister_methods import Bottleneck, CallRecord, bottlenecks, method_figures, pair_figures
from perfguard.domain.canister_status import DEFAULT_FREEZING_THRESHOLD, CanisterStatus
from perfguard.domain.canister_usage import Counters, Culprit, culprits, deploys, usage

DEPLOY_LOOKBACK = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Snapshot:
    """A stored reading of a canister (queries/canister_history.sql)."""

    at: dt.datetime
    cycles: int
    idle_per_day: int | None = None
    module_hash: str | None = None
    counters: Counters = field(default_factory=dict)
    heap_bytes: int | None = None
    stable_bytes: int | None = None


@dataclass(frozen=True)
class Windows:
    """The spans a report looks at, and the spike rule's parameters."""

    burn: dt.timedelta = dt.timedelta(hours=1)
    spike: dt.timedelta = dt.timedelta(minutes=10)
    baseline: dt.timedelta = dt.timedelta(hours=6)
    spike_factor: float = 3.0
    min_extra_per_day: int = 100_000_000_000  # 0.1T/day: below this a "spike" costs too little to page
    runway_target_days: float = 30.0


@dataclass(frozen=True)
class Report:
    """Everything derived for one canister at one poll."""

    burn: Burn | None
    runway: Runway | None
    headrooms: tuple[Headroom, ...]
    spike: Spike | None
    culprits: tuple[Culprit, ...]
    deploys: tuple[tuple[object, str], ...]
    bottlenecks: tuple[Bottleneck, ...]
    advice: tuple[Advice, ...]
    recent_burn: tuple[tuple[dt.datetime, int], ...] = ()  # (end of interval, cycles/day) over 2 spike windows


def report(
    config: CanisterConfig,
    status: CanisterStatus,
    now_snapshot: Snapshot,
    history: Sequence[Snapshot],
    calls: Sequence[CallRecord],
    windows: Windows,
    upgrade_instructions: int | None = None,
) -> Report:
    """The derived figures and advice of one canister now."""
    now = now_snapshot.at
    snapshots = [s for s in history if s.at < now] + [now_snapshot]
    idle = status.idle_cycles_burned_per_day
    burn = burn_rate(_points(snapshots, now - windows.burn), idle)
    limit = freezing_limit(idle or 0, DEFAULT_FREEZING_THRESHOLD if status.freezing_threshold is None
                           else status.freezing_threshold)  # fmt: skip
    reach = runway(status.cycles, status.reserved_cycles or 0, limit, burn) if burn else None
    spike = _spike(snapshots, now, windows)
    found = tuple(_culprits(snapshots, now, windows, config.subnet_nodes)) if spike else ()
    changes = tuple(deploys([(s.at, s.module_hash) for s in snapshots if s.at >= now - DEPLOY_LOOKBACK]))
    rooms = _headrooms(config, status, snapshots)
    seconds = windows.burn.total_seconds()
    methods = method_figures(calls, seconds, config.subnet_nodes)
    facts = Facts(
        config.name, status, burn, reach, rooms, spike, found, changes if spike else (), methods,
        pair_figures(calls), frozenset(_method_names(now_snapshot, calls)), upgrade_instructions,
        windows.runway_target_days,
    )  # fmt: skip
    recent = tuple(interval_burn(_points(snapshots, now - 2 * windows.spike)))
    return Report(burn, reach, rooms, spike, found, changes, tuple(bottlenecks(methods)), tuple(advise(facts)), recent)


def _points(snapshots: Sequence[Snapshot], since: dt.datetime) -> list[BalancePoint]:
    return [BalancePoint(s.at, s.cycles) for s in snapshots if s.at >= since]


def _spike(snapshots: Sequence[Snapshot], now: dt.datetime, windows: Windows) -> Spike | None:
    recent = burn_rate(_points(snapshots, now - windows.spike), None)
    if recent is None:
        return None
    points = _points(snapshots, now - windows.spike - windows.baseline)
    baseline = bucket_rates(points, now - windows.spike - windows.baseline, now - windows.spike, windows.spike)
    return find_spike(recent.per_day, baseline, windows.spike_factor, windows.min_extra_per_day)


def _culprits(snapshots: Sequence[Snapshot], now: dt.datetime, windows: Windows, nodes: int) -> list[Culprit]:
    """Methods whose cost grew: counters over the recent span against counters over the baseline span."""
    split = now - windows.spike
    start = _at_or_after(snapshots, split - windows.baseline)
    middle = _at_or_after(snapshots, split)
    end = snapshots[-1]
    if start is None or middle is None or not (start.at < middle.at < end.at):
        return []
    recent = usage(middle.counters, end.counters, (end.at - middle.at).total_seconds())
    baseline = usage(start.counters, middle.counters, (middle.at - start.at).total_seconds())
    return culprits(recent, baseline, nodes)


def _at_or_after(snapshots: Sequence[Snapshot], moment: dt.datetime) -> Snapshot | None:
    return next((s for s in snapshots if s.at >= moment), None)


def _headrooms(config: CanisterConfig, status: CanisterStatus, snapshots: Sequence[Snapshot]) -> tuple[Headroom, ...]:
    rooms = []
    if status.wasm_memory_size is not None:
        history = [(s.at, s.heap_bytes) for s in snapshots if s.heap_bytes is not None]
        limit = heap_limit(config.heap_limit, status.wasm_memory_limit)
        rooms.append(headroom("heap", status.wasm_memory_size, limit, history))
    if status.stable_memory_size is not None:
        history = [(s.at, s.stable_bytes) for s in snapshots if s.stable_bytes is not None]
        rooms.append(headroom("stable", status.stable_memory_size, config.stable_limit, history))
    return tuple(rooms)


def _method_names(snapshot: Snapshot, calls: Sequence[CallRecord]) -> set[str]:
    names: set[str] = {call.method for call in calls}
    for per_method in snapshot.counters.values():
        names.update(per_method)
    return names


def counters_of(calls: Mapping[str, int | float], instructions: Mapping[str, int | float]) -> Counters:
    """Per-method counters as snapshots keep them (whole numbers)."""
    return {
        "calls": {method: int(value) for method, value in calls.items()},
        "instructions": {method: int(value) for method, value in instructions.items()},
    }
