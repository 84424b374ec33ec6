"""The backtest's episodes, hand-computed, and checked minute by minute against find_breaches (the oracle)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable
from typing import Any

import pytest

from perfguard.domain.backtest import Episode, backtest, breaching_rows, complete_minutes
from perfguard.domain.rule_kinds import find_breaches
from perfguard.domain.thresholds import MINUTE, ThresholdRule, floor_minute

RULE = ThresholdRule()  # 2000 ms, 5 windows, 10 samples
T0 = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
BAD, GOOD = 2500.0, 900.0
END = T0 + 30 * MINUTE


def minute(i: int) -> dt.datetime:
    return T0 + i * MINUTE


def rows(
    p95s: Iterable[float | None], endpoint: str | None = "/swap", count: int = 20, first: int = 0
) -> list[dict[str, Any]]:
    """One row per minute from T0 + `first` minutes; None leaves that minute out."""
    return [
        {"endpoint_or_operation": endpoint, "minute": minute(first + i), "count": count, "p95": p95}
        for i, p95 in enumerate(p95s)
        if p95 is not None
    ]


def episodes(data: list[dict[str, Any]], end: dt.datetime = END, rule: ThresholdRule = RULE) -> list[Episode]:
    return list(backtest(rule, data, T0, end).episodes)


def test_five_breaching_minutes_fire_at_the_end_of_the_fifth_and_resolve_at_the_end_of_the_next() -> None:
    [episode] = episodes(rows([BAD] * 5 + [GOOD]))
    assert (episode.fired_at, episode.resolved_at) == (minute(5), minute(6))
    assert episode.duration == MINUTE and episode.windows_breached == 5 and episode.peak_p95 == BAD


def test_four_breaching_minutes_and_a_good_one_never_fire() -> None:
    assert episodes(rows([BAD] * 4 + [GOOD] + [BAD] * 4)) == []


def test_an_under_sampled_minute_breaks_the_streak() -> None:
    data = rows([BAD] * 3) + rows([BAD], count=9, first=3) + rows([BAD] * 4, first=4)
    assert episodes(data) == []


def test_a_missing_minute_breaks_the_streak_and_resolves_a_firing_episode() -> None:
    [episode] = episodes(rows([BAD] * 7 + [None] + [BAD] * 4))
    assert (episode.fired_at, episode.resolved_at, episode.windows_breached) == (minute(5), minute(8), 7)


def test_a_streak_running_to_the_end_of_the_range_is_still_firing() -> None:
    [episode] = episodes(rows([BAD] * 30))
    assert episode.resolved_at is None and episode.duration == END - minute(5)


def test_a_streak_cleared_by_the_last_minute_of_the_range_resolves_at_the_end() -> None:
    [episode] = episodes(rows([BAD] * 29))
    assert episode.resolved_at == END


def test_minutes_before_the_range_do_not_count() -> None:
    data = rows([BAD] * 10, first=-4)  # starts four minutes before T0, but the backtest starts cold at T0
    [episode] = episodes(data)
    assert (episode.fired_at, episode.resolved_at, episode.windows_breached) == (minute(5), minute(7), 6)


def test_the_overall_group_has_its_own_episodes_and_the_peak_is_the_worst_minute() -> None:
    data = rows([BAD, 3100.0, BAD, BAD, BAD, GOOD], endpoint=None) + rows([BAD] * 3)
    [episode] = episodes(data)
    assert episode.group is None and episode.peak_p95 == 3100.0


def test_the_summary_counts_episodes_per_group_and_the_share_of_time_something_fired() -> None:
    data = rows([BAD] * 5 + [GOOD] + [BAD] * 6) + rows([BAD] * 6, endpoint="/quote")
    result = backtest(RULE, data, T0, END)
    summary = result.summary
    assert (summary.episodes, summary.groups, summary.per_group) == (3, 2, {"/swap": 2, "/quote": 1})
    # /swap 10:05-10:06 and 10:11-10:13, /quote 10:05-10:07: 2 + 2 = 4 minutes of 30 with something firing.
    assert summary.firing_time == 5 * MINUTE and summary.firing_fraction == pytest.approx(4 / 30)
    assert [e.group for e in result.episodes] == ["/quote", "/swap", "/swap"]


def test_breaching_rows_keeps_only_windows_that_breach() -> None:
    data = rows([BAD, GOOD]) + rows([BAD], count=3, first=2)
    assert [row["minute"] for row in breaching_rows(RULE, data)] == [minute(0)]


def test_complete_minutes_drops_a_partial_first_and_last_minute() -> None:
    second = dt.timedelta(seconds=1)
    assert complete_minutes(T0 + second, END + second) == (minute(1), END)
    assert complete_minutes(T0, END) == (T0, END)


def synthetic_history(seed: int, length: int) -> list[dict[str, Any]]:
    """Random minutes of two endpoints and the overall: mostly breaching, some good, under-sampled or missing."""
    generator = random.Random(seed)
    data: list[dict[str, Any]] = []
    for group in ("/swap", "/quote", None):
        for i in range(length):
            kind = generator.choices(["bad", "good", "thin", "missing"], weights=[8, 1, 1, 1])[0]
            if kind != "missing":
                p95 = generator.uniform(2001, 4000) if kind != "good" else generator.uniform(100, 2000)
                data += rows([p95], endpoint=group, count=5 if kind == "thin" else 15, first=i)
    return data


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("windows", [1, 3, 5])
def test_an_episode_covers_at_exactly_when_find_breaches_reports_the_group(seed: int, windows: int) -> None:
    rule = ThresholdRule(windows=windows)
    length = 120
    data = synthetic_history(seed, length)
    end = minute(length)
    result = backtest(rule, data, T0, end)
    for i in range(length + 1):
        for at in (minute(i), minute(i) + dt.timedelta(seconds=30)):
            if at > end:
                continue
            expected = sorted((b.endpoint_or_operation or "", b.triggered_at) for b in find_breaches(rule, data, at))
            # find_breaches replays only the lookback: a longer episode's start is the lookback's start there.
            earliest = floor_minute(at) - rule.lookback + rule.windows * MINUTE
            covering = sorted((e.group or "", max(e.fired_at, earliest)) for e in result.episodes if e.covers(at))
            assert covering == expected, at
