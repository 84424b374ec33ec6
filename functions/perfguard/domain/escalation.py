"""Escalation policy: when an open alert nobody acknowledged is escalated, and to which level.

Levels are numbered from 1, each with the delay after the alert was (last) opened at which it is due:
level 1 is the on-call group's mention and the escalation email, `escalation_after_minutes` after opening.
Critical alerts start higher: with `critical_immediately`, every delay is shortened by the first level's,
so level 1 is due the moment a critical alert opens. Only `open` alerts escalate: acknowledging
(`investigating`) stops escalation, and an `investigating → open` change restarts the clock from then.

>>> policy = escalation_policy(after_minutes=15, critical_immediately=True)
>>> opened = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
>>> due_level(policy, "high", "open", opened, frozenset(), opened + dt.timedelta(minutes=15))
1
>>> due_level(policy, "high", "investigating", opened, frozenset(), opened + dt.timedelta(minutes=15)) is None
True
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Set
from dataclasses import dataclass

ESCALATING_STATUS = "open"  # the only status that escalates: investigating means acknowledged
CRITICAL = "critical"


@dataclass(frozen=True)
class EscalationLevel:
    """One step of the policy: its number and how long after opening it is due."""

    level: int
    after: dt.timedelta


@dataclass(frozen=True)
class EscalationPolicy:
    """The levels, by increasing delay; whether critical alerts skip the first level's wait."""

    levels: tuple[EscalationLevel, ...]
    critical_immediately: bool = True

    def delay(self, level: EscalationLevel, severity: str) -> dt.timedelta:
        """How long after opening `level` is due for an alert of `severity`."""
        if severity == CRITICAL and self.critical_immediately and self.levels:
            return max(dt.timedelta(0), level.after - self.levels[0].after)
        return level.after


def escalation_policy(after_minutes: int, critical_immediately: bool) -> EscalationPolicy:
    """The policy of the settings: one level, `after_minutes` after opening."""
    return EscalationPolicy((EscalationLevel(1, dt.timedelta(minutes=after_minutes)),), critical_immediately)


def due_level(
    policy: EscalationPolicy,
    severity: str,
    status: str,
    opened_at: dt.datetime,
    sent_levels: Set[int],
    now: dt.datetime,
) -> int | None:
    """The highest level due at `now` and not sent yet, or None (never for an alert that is not open)."""
    if status != ESCALATING_STATUS:
        return None
    waited = now - opened_at
    due = [
        step.level for step in policy.levels if waited >= policy.delay(step, severity) and step.level not in sent_levels
    ]
    # A level below one already sent is not sent late: the higher one has reached more people.
    due = [level for level in due if level > max(sent_levels, default=0)]
    return max(due, default=None)


def unacknowledged_minutes(opened_at: dt.datetime, now: dt.datetime) -> int:
    """Whole minutes since the alert was opened (0 when the clocks disagree)."""
    return max(0, int((now - opened_at).total_seconds() // 60))
