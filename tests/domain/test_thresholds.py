"""find_breaches: P95 above the threshold in each of the last N complete minutes before `at`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from perfguard.domain.alert_state import reconcile, recorded_alert
from perfguard.domain.rule_kinds import find_breaches
from perfguard.domain.thresholds import (
    MINUTE,
    OVERALL,
    Breach,
    ThresholdRule,
    evaluation_range,
    floor_minute,
)

RULE = ThresholdRule()  # 2000 ms, 5 windows, 10 samples, 60 min lookback
T0 = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
BAD, GOOD = 2500.0, 900.0


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


def only(breaches: list[Breach]) -> Breach:
    assert len(breaches) == 1
    return breaches[0]


def test_fires_on_the_fifth_breaching_minute() -> None:
    data = rows([BAD] * 5)
    assert find_breaches(RULE, data, minute(4) + dt.timedelta(seconds=59)) == []  # minute 4 still incomplete
    breach = only(find_breaches(RULE, data, minute(5)))
    assert breach.triggered_at == minute(5)
    assert breach.endpoint_or_operation == "/swap"


def test_four_breaching_minutes_are_not_enough() -> None:
    assert find_breaches(RULE, rows([BAD] * 4), minute(4)) == []


def test_a_good_minute_in_the_last_five_prevents_firing() -> None:
    for good in range(5):
        p95s = [BAD] * 5
        p95s[good] = GOOD
        assert find_breaches(RULE, rows(p95s), minute(5)) == [], good


def test_a_good_minute_before_the_last_five_does_not_matter() -> None:
    breach = only(find_breaches(RULE, rows([GOOD] + [BAD] * 5), minute(6)))
    assert breach.triggered_at == minute(6)


def test_a_window_under_min_samples_breaks_the_streak() -> None:
    data = rows([BAD] * 5)
    data[2]["count"] = RULE.min_samples - 1
    assert find_breaches(RULE, data, minute(5)) == []
    data[2]["count"] = RULE.min_samples
    assert len(find_breaches(RULE, data, minute(5))) == 1


def test_a_missing_minute_breaks_the_streak() -> None:
    assert find_breaches(RULE, rows([BAD, BAD, None, BAD, BAD, BAD]), minute(6)) == []
    assert len(find_breaches(RULE, rows([BAD, BAD, None, BAD, BAD, BAD, BAD, BAD]), minute(8))) == 1


def test_p95_equal_to_the_threshold_does_not_breach() -> None:
    assert find_breaches(RULE, rows([RULE.threshold] * 5), minute(5)) == []
    assert len(find_breaches(RULE, rows([RULE.threshold + 0.001] * 5), minute(5))) == 1


def test_the_minute_containing_at_is_ignored() -> None:
    # Four complete breaching minutes and a breaching partial minute: not yet.
    data = rows([BAD] * 5)
    assert find_breaches(RULE, data, minute(4) + dt.timedelta(seconds=30)) == []
    # Five complete breaching minutes and a good partial minute: fires.
    data = rows([BAD] * 5 + [GOOD])
    assert only(find_breaches(RULE, data, minute(5) + dt.timedelta(seconds=30))).triggered_at == minute(5)


def test_the_streak_must_reach_the_last_complete_minute() -> None:
    assert find_breaches(RULE, rows([BAD] * 5 + [GOOD]), minute(6)) == []
    assert find_breaches(RULE, rows([BAD] * 5), minute(6)) == []  # minute 5 has no data


def test_triggered_at_is_the_first_breaching_minute_plus_five_minutes() -> None:
    data = rows([GOOD, GOOD] + [BAD] * 20)
    for at in (minute(7), minute(12), minute(17) + dt.timedelta(seconds=5)):
        assert only(find_breaches(RULE, data, at)).triggered_at == minute(2) + 5 * MINUTE


def test_current_value_is_the_last_complete_minute_and_windows_are_the_last_five() -> None:
    p95s = [2100.0, 2200.0, 2300.0, 2400.0, 2500.0, 2600.0, 2700.0]
    breach = only(find_breaches(RULE, rows(p95s), minute(7)))
    assert breach.current_value == 2700.0
    assert [w.value for w in breach.windows] == [2300.0, 2400.0, 2500.0, 2600.0, 2700.0]
    assert [w.minute for w in breach.windows] == [minute(i) for i in range(2, 7)]


def test_alert_id_is_stable_for_the_same_episode() -> None:
    data = rows([BAD] * 30)
    ids = {only(find_breaches(RULE, data, minute(i))).alert_id() for i in range(5, 16)}
    assert len(ids) == 1
    (alert_id,) = ids
    assert alert_id.startswith("alrt_") and len(alert_id) == 25


def test_alert_id_differs_for_another_endpoint_episode_or_rule() -> None:
    first = only(find_breaches(RULE, rows([BAD] * 5), minute(5)))
    other_endpoint = only(find_breaches(RULE, rows([BAD] * 5, endpoint="/list"), minute(5)))
    later_episode = only(find_breaches(RULE, rows([BAD] * 5 + [GOOD] + [BAD] * 5), minute(11)))
    other_rule = only(find_breaches(ThresholdRule(name="p95_strict"), rows([BAD] * 5), minute(5)))
    ids = [b.alert_id() for b in (first, other_endpoint, later_episode, other_rule)]
    assert len(set(ids)) == 4


def test_each_endpoint_and_the_overall_group_are_judged_separately() -> None:
    data = rows([BAD] * 5, "/swap") + rows([GOOD] * 5, "/list") + rows([BAD] * 5, None)
    breaches = find_breaches(RULE, data, minute(5))
    assert sorted(b.endpoint_or_operation or "" for b in breaches) == ["", "/swap"]


def test_overall_group_context_names_all_endpoints() -> None:
    breach = only(find_breaches(RULE, rows([BAD] * 5, None), minute(5)))
    assert breach.endpoint_or_operation is None
    assert breach.context()["endpoint_or_operation"] == OVERALL == "(all endpoints)"


def test_context_describes_the_rule_and_each_window() -> None:
    data = rows([2100.0, 2200.0, 2300.0, 2400.0, 2500.0], count=12)
    context = only(find_breaches(RULE, data, minute(5))).context()
    assert context == {
        "endpoint_or_operation": "/swap",
        "rule": "p95_api_latency",
        "kind": "threshold",
        "statistic": "p95",
        "comparator": ">",
        "threshold": 2000.0,
        "unit": "ms",
        "threshold_ms": 2000.0,
        "resolve_threshold": 2000.0,
        "window_seconds": 60,
        "consecutive_windows": 5,
        "min_samples": 10,
        "runbook": "runbooks/p95_api_latency.md",
        "windows": [{"minute": minute(i).isoformat(), "p95": 2100.0 + 100 * i, "count": 12} for i in range(5)],
    }


def test_runbook_of_the_default_rule_exists() -> None:
    runbook = Path(__file__).parents[2] / only(find_breaches(RULE, rows([BAD] * 5), minute(5))).context()["runbook"]
    assert runbook.is_file()


def test_custom_rule_windows_threshold_and_min_samples() -> None:
    rule = ThresholdRule(threshold=500.0, windows=2, min_samples=3)
    data = rows([600.0, 600.0], count=3)
    breach = only(find_breaches(rule, data, minute(2)))
    assert breach.triggered_at == minute(2)
    assert len(breach.windows) == 2
    assert find_breaches(rule, rows([600.0, 600.0], count=2), minute(2)) == []


def test_no_rows_no_breaches() -> None:
    assert find_breaches(RULE, [], minute(5)) == []


@pytest.mark.parametrize(
    ("at", "floored"),
    [(minute(3), minute(3)), (minute(3) + dt.timedelta(seconds=59, microseconds=999_999), minute(3))],
)
def test_floor_minute(at: dt.datetime, floored: dt.datetime) -> None:
    assert floor_minute(at) == floored


def test_evaluation_range_covers_the_complete_minutes_of_the_lookback() -> None:
    assert evaluation_range(RULE, minute(90) + dt.timedelta(seconds=42)) == (minute(75), minute(90))


def test_breach_found_within_the_evaluation_range() -> None:
    start, end = evaluation_range(RULE, minute(12))
    data = [row for row in rows([BAD] * 40) if start <= row["minute"] < end]
    assert only(find_breaches(RULE, data, minute(12))).triggered_at == minute(5)


def test_an_episode_longer_than_the_lookback_stays_one_recorded_alert() -> None:
    # find_breaches reads only the lookback, so past it the streak's start (and the id) moves; the evaluator
    # keeps the recorded alert of the same rule and endpoint (the fix of a bug these tests found).
    data = rows([BAD] * 120)

    def evaluate(at: dt.datetime) -> Breach:
        start, end = evaluation_range(RULE, at)
        return only(find_breaches(RULE, [row for row in data if start <= row["minute"] < end], at))

    first, later = evaluate(minute(5)), evaluate(minute(71))
    assert later.triggered_at == minute(71) - RULE.lookback + RULE.windows * MINUTE
    assert later.alert_id() != first.alert_id()
    recorded = {"id": first.alert_id(), "rule": RULE.name, "endpoint_or_operation": "/swap", "status": "open"}
    assert recorded_alert(later, [recorded]) is recorded
    assert reconcile([later], [recorded]) == ([], [])
