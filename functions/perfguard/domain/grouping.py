"""Notification groups and Alertmanager's three timers: when a group's pending changes go out.

Alerts whose `group_by` label values agree form a group. A new group (no notification in the last
`repeat_interval`) waits `group_wait` after its first pending change, so the alerts a shared cause opens
together go out together, and an alert that opens and resolves within it is never sent. After a notification,
the group's next changes wait until `group_interval` after it and go out in one batch. A group still firing
with nothing new is notified again `repeat_interval` after its last notification. A timer of 0 sends at once.

>>> timers = GroupTimers(dt.timedelta(seconds=30), dt.timedelta(minutes=5), dt.timedelta(hours=4))
>>> t0 = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
>>> timers.due(first_pending=t0, last_sent=None, at=t0 + dt.timedelta(seconds=20))
False
>>> timers.due(first_pending=t0, last_sent=None, at=t0 + dt.timedelta(seconds=30))
True
>>> timers.due(first_pending=t0, last_sent=t0 - dt.timedelta(minutes=2), at=t0)
False
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

GroupKey = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class GroupTimers:
    """group_wait, group_interval, repeat_interval (Alertmanager's defaults are 30 s, 5 min and 4 h)."""

    wait: dt.timedelta
    interval: dt.timedelta
    repeat: dt.timedelta

    @property
    def grouping(self) -> bool:
        """Whether any timer holds notifications back (all 0: every change is sent at once)."""
        return bool(self.wait or self.interval)

    def due(self, first_pending: dt.datetime, last_sent: dt.datetime | None, at: dt.datetime) -> bool:
        """Whether a group with changes pending since `first_pending` is notified at `at`."""
        if last_sent is None or (self.repeat and at - last_sent >= self.repeat):
            return at >= first_pending + self.wait  # a new group
        return at >= last_sent + self.interval

    def reminder_due(self, last_sent: dt.datetime | None, at: dt.datetime) -> bool:
        """Whether a firing group with nothing pending is notified again."""
        return bool(self.repeat) and last_sent is not None and at - last_sent >= self.repeat

    def memory(self) -> dt.timedelta:
        """How far back a group's last notification matters."""
        return max(self.repeat, self.interval, self.wait, dt.timedelta(minutes=1))


def group_key(labels: Mapping[str, str], group_by: Sequence[str]) -> GroupKey:
    """The group of an alert with these labels (a missing label is the empty value, as in Alertmanager)."""
    return tuple((name, labels.get(name, "")) for name in group_by)


def describe(key: GroupKey) -> str:
    """A group for people and logs: `{alertname="p95_api_latency"}`."""
    return "{" + ", ".join(f'{name}="{value}"' for name, value in key) + "}"
