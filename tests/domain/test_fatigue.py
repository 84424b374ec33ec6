"""Inhibition and flap detection (perfguard.domain.fatigue): pure decisions over a group's alert history."""

from __future__ import annotations

import datetime as dt

import pytest

from perfguard.domain.fatigue import (
    AlertChange,
    Flapping,
    change_from_row,
    flapping,
    flapping_context,
    inherited_inhibitor,
    inhibitor,
    openings,
    severity_rank,
    states_at,
)

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
HOUR = 60 * MINUTE
RULE = "p95_api_latency"


def change(alert_id: str, status: str, minute: int, severity: str = "high", rule: str = RULE) -> AlertChange:
    return AlertChange(alert_id, rule, status, severity, T0 + minute * MINUTE)


def test_severities_rank_low_to_critical_and_an_unknown_one_below_all() -> None:
    ranks = [severity_rank(s) for s in ("low", "medium", "high", "critical")]
    assert ranks == sorted(ranks) and len(set(ranks)) == 4
    assert severity_rank("page") < severity_rank("low")


def test_the_state_at_a_time_is_the_latest_change_up_to_it() -> None:
    history = [change("a", "resolved", 10), change("a", "open", 0)]
    assert states_at(history, T0 + 9 * MINUTE)["a"].status == "open"
    assert states_at(history, T0 + 10 * MINUTE)["a"].status == "resolved"
    assert states_at(history, T0 - MINUTE) == {}


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("low", "crit"), ("medium", "crit"), ("high", "crit"), ("critical", None)],
)
def test_an_active_more_severe_alert_inhibits(severity: str, expected: str | None) -> None:
    assert inhibitor([change("crit", "open", 0, "critical")], "me", severity, T0 + MINUTE) == expected


def test_the_same_severity_or_an_alert_itself_never_inhibits() -> None:
    history = [change("other", "open", 0, "high"), change("me", "open", 0, "critical")]
    assert inhibitor(history, "me", "high", T0) is None


def test_an_investigating_alert_inhibits_but_not_a_closed_or_a_later_one() -> None:
    acked = [change("crit", "open", 0, "critical"), change("crit", "investigating", 3, "critical")]
    assert inhibitor(acked, "me", "low", T0 + 5 * MINUTE) == "crit"
    closed = [*acked, change("crit", "resolved", 5, "critical")]
    assert inhibitor(closed, "me", "low", T0 + 5 * MINUTE) is None  # resolved at the very moment
    assert inhibitor(closed, "me", "low", T0 + 4 * MINUTE) == "crit"  # a redelivery decides at its own time
    assert inhibitor([change("crit", "open", 9, "critical")], "me", "low", T0 + 5 * MINUTE) is None


def test_of_several_inhibitors_the_most_severe_then_the_earliest_is_named() -> None:
    history = [change("b", "open", 2, "critical"), change("m", "open", 0, "medium"), change("a", "open", 4, "critical")]
    assert inhibitor(history, "me", "low", T0 + 5 * MINUTE) == "b"


def test_later_events_inherit_the_inhibition_of_the_open_from_the_notification_log() -> None:
    muted = [{"alert_status": "open", "ok": True, "reference": "inhibited:crit"}]
    assert inherited_inhibitor(muted) == "crit"
    sent = [{"alert_status": "open", "ok": True, "reference": "slack-msg-1"}]
    assert inherited_inhibitor(sent) is None
    assert inherited_inhibitor([{"alert_status": "open", "ok": True, "reference": "silenced:s1"}]) is None
    assert inherited_inhibitor([]) is None


def test_openings_count_first_changes_in_the_half_open_window_of_the_rule() -> None:
    history = [
        change("a", "open", 0),  # exactly at the window's start: counts
        change("a", "resolved", 5),
        change("b", "open", 30),
        change("c", "investigating", -30),  # opened before the history starts: no opening here
        change("c", "open", 20),  # an acknowledgement undone, not an opening
        change("d", "open", 10, rule="error_rate"),  # another identity
        change("e", "open", 60),  # the event itself, at `at`: does not count
    ]
    assert openings(history, RULE, T0 + HOUR, HOUR) == 2
    assert openings(history, RULE, T0 + HOUR + MINUTE, HOUR) == 2  # a left the window, e entered it


def flaps(count: int, every: int = 10) -> list[AlertChange]:
    """`count` alerts opening every `every` minutes from T0, each resolved 5 minutes after it opened."""
    history: list[AlertChange] = []
    for n in range(count):
        history += [change(f"f{n}", "open", n * every), change(f"f{n}", "resolved", n * every + 5)]
    return history


def test_an_identity_is_flapping_from_its_threshold_and_the_first_event_is_marked() -> None:
    history = flaps(5)  # opens at 0, 10, 20, 30, 40
    assert flapping(history, RULE, T0 + 30 * MINUTE, HOUR, 4) is None  # 3 openings before the 4th
    assert flapping(history, RULE, T0 + 35 * MINUTE, HOUR, 4) == Flapping(4, first=True)  # the 4th's resolution
    assert flapping(history, RULE, T0 + 40 * MINUTE, HOUR, 4) == Flapping(4, first=False)  # the 5th opening
    assert flapping(history, RULE, T0 + 45 * MINUTE, HOUR, 4) == Flapping(5, first=False)


def test_flapping_stops_when_fewer_openings_are_in_the_window() -> None:
    history = [*flaps(4), change("late", "open", 70)]
    # At minute 70 the window [10, 70) holds the openings at 10, 20 and 30: three.
    assert flapping(history, RULE, T0 + 70 * MINUTE, HOUR, 4) is None
    assert flapping(history, RULE, T0 + 60 * MINUTE, HOUR, 4) == Flapping(4, first=False)


def test_a_threshold_of_zero_turns_flap_detection_off() -> None:
    assert flapping(flaps(10), RULE, T0 + 95 * MINUTE, HOUR, 0) is None


def test_the_flag_is_added_to_the_context() -> None:
    context = flapping_context({"runbook": "r.md"}, Flapping(4, first=True), HOUR)
    assert context == {"runbook": "r.md", "flapping": {"opened": 4, "window_minutes": 60}}


def test_a_history_row_becomes_a_change() -> None:
    row = {"id": "a", "rule": RULE, "status": "open", "severity": "low", "changed_at": T0}
    assert change_from_row(row) == change("a", "open", 0, "low")
