"""A backtest of a threshold rule: when it would have fired over stored history, how often, for how long.

It replays the evaluator's own state machine (`thresholds.replay`) window by window over the rows of the
`window_stats` query: an episode fires at the end of the `windows`-th breaching window in a row and resolves
at the end of the first window that no longer holds (past the resolve threshold, missing or under-sampled),
or `keep_firing_for` later. Only windows inside the range count: the backtest starts cold, like a store whose
history begins at `start`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from perfguard.domain.rule_kinds import judge_for
from perfguard.domain.thresholds import (
    MINUTE,
    OVERALL,
    ThresholdRule,
    Window,
    compare,
    enough,
    floor_minute,
    replay,
    series_by_group,
    window_from_row,
)
from perfguard.domain.thresholds import Episode as Replayed


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
    """The rows a replay needs, so long ranges stay small in memory: those whose window holds (a missing window
    and one that does not hold judge alike), or every row when missing windows keep the last state."""
    if rule.no_data == "keep_last":
        return list(rows)
    return [row for row in rows if _holds(rule, window_from_row(rule, row))]


def _holds(rule: ThresholdRule, window: Window) -> bool:
    return enough(rule, window) and compare(rule.comparator, window.value or 0.0, rule.recovery)


def backtest(rule: ThresholdRule, rows: Iterable[Mapping[str, Any]], start: dt.datetime, end: dt.datetime) -> Backtest:
    """Replay `rule` over the window `rows` of [start, end) (whole windows) and collect its episodes."""
    series = series_by_group(rule, (row for row in rows if start <= row["minute"] < end))
    times = [start + i * rule.window for i in range(1, int((end - start) / rule.window) + 1)]
    episodes = tuple(
        _episode(episode, end)
        for group in sorted(series, key=_group_order)
        for episode in replay(rule, group, map(judge_for(rule, series[group]), times))
    )
    return Backtest(rule, start, end, episodes, _summary(episodes, start, end))


def group_label(group: str | None) -> str:
    """How a group is shown: its endpoint, or the label of all endpoints together."""
    return OVERALL if group is None else group


def _group_order(group: str | None) -> tuple[bool, str]:
    return (group is not None, group or "")  # all endpoints first, then by name


def _episode(replayed: Replayed, end: dt.datetime) -> Episode:
    duration = (replayed.resolved_at or end) - replayed.fired_at
    breached = sum(1 for j in replayed.judgements if j.breaching)
    return Episode(replayed.group, replayed.fired_at, replayed.resolved_at, duration, replayed.peak or 0.0, breached)


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
