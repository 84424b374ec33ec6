"""A backtest of a threshold rule: when it would have fired over stored history, how often, for how long.

It replays the evaluator minute by minute from per-minute rows (the output of `minute_p95.sql`) without
calling it per minute: a group's episode is a streak of consecutive breaching minutes (`thresholds`'s own
window rule) at least `windows` long. The evaluation at `at` reports the group exactly when the `windows`
complete minutes before `at` breach, so an episode fires at the end of the streak's `windows`-th minute and
resolves at the end of the first minute after the streak (non-breaching, missing or under-sampled). Only
minutes inside the range count: the backtest starts cold, like a store whose history begins at `start`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from perfguard.domain.thresholds import (
    MINUTE,
    OVERALL,
    ThresholdRule,
    Window,
    breaching,  # the evaluator's own window rule, not a copy
    floor_minute,
)


@dataclass(frozen=True)
class Episode:
    """One alert the rule would have raised for one group (None: all endpoints together)."""

    group: str | None
    fired_at: dt.datetime
    resolved_at: dt.datetime | None  # None: still firing at the end of the range
    duration: dt.timedelta  # up to the end of the range while still firing
    peak_p95: float
    windows_breached: int  # breaching minutes of the streak, the ones before firing included

    def covers(self, at: dt.datetime) -> bool:
        """Whether an evaluation at `at` (within the range) would report this episode's group."""
        return self.fired_at <= at and (self.resolved_at is None or at < self.resolved_at)


@dataclass(frozen=True)
class Summary:
    """Totals of a backtest over [start, end)."""

    episodes: int
    groups: int
    firing_time: dt.timedelta  # summed over episodes, so overlapping groups count twice
    firing_fraction: float  # share of the range during which at least one group was firing
    per_group: dict[str | None, int]


@dataclass(frozen=True)
class Backtest:
    """The episodes of a rule over [start, end), ordered by group then firing time, and their summary."""

    rule: ThresholdRule
    start: dt.datetime
    end: dt.datetime
    episodes: tuple[Episode, ...]
    summary: Summary


def complete_minutes(start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) narrowed to whole minutes: a partial first minute would hold too few records to judge."""
    first = floor_minute(start)
    return (first if first == start else first + MINUTE), floor_minute(end)


def breaching_rows(rule: ThresholdRule, rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows whose window breaches: the only ones a backtest needs, so long ranges stay small in memory."""
    return [row for row in rows if breaching(rule, _window(row))]


def backtest(rule: ThresholdRule, rows: Iterable[Mapping[str, Any]], start: dt.datetime, end: dt.datetime) -> Backtest:
    """Replay `rule` over the per-minute `rows` of [start, end) (whole minutes) and collect its episodes."""
    streaks = _breaching_minutes(rule, rows, start, end)
    episodes = tuple(
        episode
        for group in sorted(streaks, key=_group_order)
        for episode in _episodes(rule, group, streaks[group], end)
    )
    return Backtest(rule, start, end, episodes, _summary(episodes, start, end))


def group_label(group: str | None) -> str:
    """How a group is shown: its endpoint, or the label of all endpoints together."""
    return OVERALL if group is None else group


def _window(row: Mapping[str, Any]) -> Window:
    return Window(row["minute"], int(row["count"]), float(row["p95"]))


def _group_order(group: str | None) -> tuple[bool, str]:
    return (group is not None, group or "")  # all endpoints first, then by name


def _breaching_minutes(
    rule: ThresholdRule, rows: Iterable[Mapping[str, Any]], start: dt.datetime, end: dt.datetime
) -> dict[str | None, list[Window]]:
    by_group: dict[str | None, dict[dt.datetime, Window]] = defaultdict(dict)
    for row in rows:
        window = _window(row)
        if start <= window.minute < end and breaching(rule, window):
            by_group[row["endpoint_or_operation"]][window.minute] = window
    return {group: sorted(windows.values(), key=lambda w: w.minute) for group, windows in by_group.items()}


def _episodes(rule: ThresholdRule, group: str | None, windows: Sequence[Window], end: dt.datetime) -> list[Episode]:
    episodes = []
    for streak in _streaks(windows):
        if len(streak) >= rule.windows:
            episodes.append(_episode(rule, group, streak, end))
    return episodes


def _streaks(windows: Sequence[Window]) -> list[list[Window]]:
    """Runs of consecutive minutes; a gap is a minute that did not breach (or had no data)."""
    streaks: list[list[Window]] = []
    for window in windows:
        if streaks and streaks[-1][-1].minute + MINUTE == window.minute:
            streaks[-1].append(window)
        else:
            streaks.append([window])
    return streaks


def _episode(rule: ThresholdRule, group: str | None, streak: Sequence[Window], end: dt.datetime) -> Episode:
    fired_at = streak[0].minute + rule.windows * MINUTE
    # The minute after the streak is the first that does not breach; its evaluation is at its end.
    clearing_minute = streak[-1].minute + MINUTE
    resolved_at = clearing_minute + MINUTE if clearing_minute < end else None
    duration = (resolved_at or end) - fired_at
    return Episode(group, fired_at, resolved_at, duration, max(w.p95 for w in streak), len(streak))


def _summary(episodes: Sequence[Episode], start: dt.datetime, end: dt.datetime) -> Summary:
    per_group: dict[str | None, int] = defaultdict(int)
    for episode in episodes:
        per_group[episode.group] += 1
    firing_time = sum((episode.duration for episode in episodes), dt.timedelta())
    fraction = _union(episodes, end) / (end - start) if end > start else 0.0
    return Summary(len(episodes), len(per_group), firing_time, fraction, dict(per_group))


def _union(episodes: Iterable[Episode], end: dt.datetime) -> dt.timedelta:
    """Time covered by at least one episode, so two groups firing together are not counted twice."""
    total, reach = dt.timedelta(), None
    for fired, resolved in sorted((e.fired_at, e.resolved_at or end) for e in episodes):
        begin = fired if reach is None else max(fired, reach)
        if resolved > begin:
            total += resolved - begin
        reach = resolved if reach is None else max(reach, resolved)
    return total
