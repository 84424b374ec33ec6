"""Funnels over journey steps: ordered steps, a conversion window from the first step, per unit (a user, a
session or a journey id), with completion, drop-off per step, time to convert and `in progress`.

Semantics follow PostHog's funnel UDF (rum-mobile-otlp.md 4.1): every event matching step 1 starts an
attempt; an event counts for step k when step k-1 was reached in the same attempt and it is within the window
of the attempt's step-1 event; one event advances an attempt by at most one step; the unit's furthest attempt
counts. Orders: `sequential` (other events may come between steps), `strict` (any other event of the unit
ends the attempt), `any` (every step, in any order, within the window). An exclusion event between two
given steps removes the unit from the whole funnel. Unlike the vendors, a unit that has not converted while
its window is still open is `in progress`, not dropped, unless an `abandon` event (a failure) ended it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

SEQUENTIAL, STRICT, ANY = "sequential", "strict", "any"
CONVERTED, DROPPED, IN_PROGRESS, EXCLUDED = "converted", "dropped", "in_progress", "excluded"


@dataclass(frozen=True)
class Event:
    """One event of a unit: its name and time."""

    unit: str
    name: str
    at: dt.datetime


@dataclass(frozen=True)
class Exclusion:
    """An event that, between step `after` and step `before` (1-based), removes the unit from the funnel."""

    name: str
    after: int
    before: int


@dataclass(frozen=True)
class FunnelSpec:
    """The steps, the conversion window (from the step-1 event) and the order."""

    steps: tuple[str, ...]
    window: dt.timedelta
    order: str = SEQUENTIAL
    exclusions: tuple[Exclusion, ...] = ()
    abandon: tuple[str, ...] = ()  # events that end an attempt at once (a swap's `failed`): settled, not in progress


@dataclass(frozen=True)
class Progress:
    """How far one unit got: steps reached (0-n), the time between consecutive steps, and its state."""

    unit: str
    reached: int
    deltas: tuple[dt.timedelta, ...]
    entered_at: dt.datetime | None
    state: str

    def time_to_convert(self) -> dt.timedelta | None:
        """From step 1 to the last step, for a converted unit."""
        return sum(self.deltas, dt.timedelta()) if self.state == CONVERTED else None


@dataclass(frozen=True)
class FunnelResult:
    """Counts per step, drop-off, completion and time to convert over every unit."""

    steps: tuple[str, ...]
    reached: tuple[int, ...]  # units that reached step k (in progress included)
    dropped_after: tuple[int, ...]  # settled units whose furthest step was k (the last entry is 0)
    converted: int
    in_progress: int
    excluded: int
    times_to_convert: tuple[dt.timedelta, ...] = field(default=())

    def completion_rate(self) -> float | None:
        """Converted over settled units (converted + dropped); None when no unit has settled."""
        settled = self.converted + sum(self.dropped_after)
        return self.converted / settled if settled else None

    def median_time_to_convert(self) -> dt.timedelta | None:
        """The median time from step 1 to the last step of converted units."""
        times = sorted(self.times_to_convert)
        if not times:
            return None
        middle = len(times) // 2
        return times[middle] if len(times) % 2 else (times[middle - 1] + times[middle]) / 2


@dataclass
class _Attempt:
    entry: dt.datetime
    times: list[dt.datetime]
    alive: bool = True
    excluded: bool = False


def progress(unit: str, events: Sequence[Event], spec: FunnelSpec, now: dt.datetime) -> Progress:
    """The furthest progress of one unit's events (any order of input; sorted by time here)."""
    ordered = sorted(events, key=lambda e: e.at)
    attempts = _any_order(ordered, spec) if spec.order == ANY else _ordered(ordered, spec)
    if any(a.excluded for a in attempts):
        return Progress(unit, 0, (), None, EXCLUDED)
    best = max(attempts, key=lambda a: (len(a.times), a.entry), default=None)
    if best is None:
        return Progress(unit, 0, (), None, DROPPED)
    deltas = tuple(later - earlier for earlier, later in zip(best.times, best.times[1:], strict=False))
    return Progress(unit, len(best.times), deltas, best.entry, _state(attempts, best, spec, now))


def _state(attempts: Sequence[_Attempt], best: _Attempt, spec: FunnelSpec, now: dt.datetime) -> str:
    if len(best.times) == len(spec.steps):
        return CONVERTED
    open_ = any(a.alive and now - a.entry <= spec.window for a in attempts)
    return IN_PROGRESS if open_ else DROPPED


def _ordered(events: Sequence[Event], spec: FunnelSpec) -> list[_Attempt]:
    attempts: list[_Attempt] = []
    for event in events:
        for attempt in attempts:
            _advance(attempt, event, spec)
        if event.name == spec.steps[0]:
            attempts.append(_Attempt(event.at, [event.at]))
    return attempts


def _advance(attempt: _Attempt, event: Event, spec: FunnelSpec) -> None:
    """Move one attempt by at most one step (or end / exclude it)."""
    if not attempt.alive or len(attempt.times) == len(spec.steps):
        return
    if event.at - attempt.entry > spec.window:
        attempt.alive = False
        return
    reached = len(attempt.times)
    if any(x.name == event.name and x.after <= reached < x.before for x in spec.exclusions):
        attempt.excluded = True
    elif event.name in spec.abandon:
        attempt.alive = False
    elif event.name == spec.steps[reached]:
        attempt.times.append(event.at)
    elif spec.order == STRICT:
        attempt.alive = False


def _any_order(events: Sequence[Event], spec: FunnelSpec) -> list[_Attempt]:
    """An attempt from every step event: the distinct steps that follow it within the window."""
    attempts = []
    for i, first in enumerate(events):
        if first.name not in spec.steps:
            continue
        done = {first.name}
        attempt = _Attempt(first.at, [first.at])
        for later in events[i + 1 :]:
            if later.at - first.at > spec.window:
                break
            if later.name in spec.steps and later.name not in done:
                done.add(later.name)
                attempt.times.append(later.at)
        attempts.append(attempt)
    return attempts


def funnel(events: Iterable[Event], spec: FunnelSpec, now: dt.datetime) -> FunnelResult:
    """The funnel over every unit of `events`."""
    by_unit: dict[str, list[Event]] = {}
    for event in events:
        by_unit.setdefault(event.unit, []).append(event)
    results = [progress(unit, unit_events, spec, now) for unit, unit_events in sorted(by_unit.items())]
    return summarise(results, spec)


def summarise(results: Sequence[Progress], spec: FunnelSpec) -> FunnelResult:
    """Counts per step and the settled units' drop-off from each unit's progress."""
    counted = [p for p in results if p.state != EXCLUDED and p.reached > 0]
    n = len(spec.steps)
    reached = tuple(sum(1 for p in counted if p.reached >= k) for k in range(1, n + 1))
    dropped = tuple(sum(1 for p in counted if p.state == DROPPED and p.reached == k) for k in range(1, n + 1))
    times = tuple(t for p in counted if (t := p.time_to_convert()) is not None)
    return FunnelResult(
        spec.steps,
        reached,
        dropped,
        sum(1 for p in counted if p.state == CONVERTED),
        sum(1 for p in counted if p.state == IN_PROGRESS),
        sum(1 for p in results if p.state == EXCLUDED),
        times,
    )
