"""The escalation policy: level 1 after the delay for open alerts only, at once for critical ones."""

from __future__ import annotations

import datetime as dt

import pytest

from perfguard.domain.escalation import (
    EscalationLevel,
    EscalationPolicy,
    due_level,
    escalation_policy,
    unacknowledged_minutes,
)

OPENED = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
POLICY = escalation_policy(after_minutes=15, critical_immediately=True)


def due(minutes: float, severity: str = "high", status: str = "open", sent: frozenset[int] = frozenset()) -> int | None:
    return due_level(POLICY, severity, status, OPENED, sent, OPENED + minutes * MINUTE)


def test_an_open_alert_escalates_to_level_1_once_the_delay_has_passed() -> None:
    assert [due(m) for m in (0, 14, 14.99, 15, 16, 600)] == [None, None, None, 1, 1, 1]


@pytest.mark.parametrize("status", ["investigating", "resolved", "false_positive"])
def test_acknowledged_and_closed_alerts_never_escalate(status: str) -> None:
    assert due(60, status=status) is None and due(0, "critical", status) is None


def test_a_level_already_sent_is_not_due_again() -> None:
    assert due(30, sent=frozenset({1})) is None


def test_critical_alerts_escalate_when_opened_unless_configured_otherwise() -> None:
    assert due(0, "critical") == 1
    waiting = escalation_policy(after_minutes=15, critical_immediately=False)
    assert due_level(waiting, "critical", "open", OPENED, frozenset(), OPENED + 14 * MINUTE) is None
    assert due_level(waiting, "critical", "open", OPENED, frozenset(), OPENED + 15 * MINUTE) == 1


def test_more_levels_escalate_in_turn_and_critical_ones_start_higher() -> None:
    policy = EscalationPolicy((EscalationLevel(1, 15 * MINUTE), EscalationLevel(2, 45 * MINUTE)))
    at = [OPENED + m * MINUTE for m in (10, 15, 45, 60)]
    assert [due_level(policy, "high", "open", OPENED, frozenset(), t) for t in at] == [None, 1, 2, 2]
    assert due_level(policy, "high", "open", OPENED, frozenset({1}), at[1]) is None
    assert due_level(policy, "high", "open", OPENED, frozenset({2}), at[3]) is None  # no late lower level
    # Critical: level 1 at once, level 2 after 30 minutes (every delay shortened by the first level's).
    assert due_level(policy, "critical", "open", OPENED, frozenset(), OPENED) == 1
    assert due_level(policy, "critical", "open", OPENED, frozenset({1}), OPENED + 30 * MINUTE) == 2


def test_unacknowledged_minutes_are_whole_minutes_never_negative() -> None:
    assert unacknowledged_minutes(OPENED, OPENED + dt.timedelta(minutes=17, seconds=59)) == 17
    assert unacknowledged_minutes(OPENED, OPENED - MINUTE) == 0
