"""Against alert fatigue: inhibition and flap detection, decided from an alert group's history.

The history is the list of state changes (`AlertChange`) of one group: the alerts of one endpoint (or of the
overall group, no endpoint), as the `alert_history` query reads them. Every decision is taken at the event's
own `changed_at`, from the changes up to then, so a redelivered event is decided the same way.

*Inhibition* (Alertmanager's inhibit rules, with `equal: [endpoint]`): an alert is muted while another alert
of its group is active (open or investigating) with a strictly higher severity (low < medium < high <
critical). Only its `open` event is decided that way; its later events (acknowledged, resolved) follow the
open's fate, so people never get the end of an alert whose start they were spared, nor miss the end of one
they were told about (`inherited_inhibitor`).

*Flapping*: an alert identity (rule + endpoint) that opened `threshold` or more times in the `window` before
an event is flapping at that event. Each opening is a new alert id (a breach after a resolution is a new
episode, perfguard.domain.lifecycle), so an opening is an alert's first change, when that is `open`. The first
flapping event of an episode is sent, flagged, so people learn the alert flaps; the next ones are held until
the identity opens fewer than `threshold` times in the window.

>>> t0, minute = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC), dt.timedelta(minutes=1)
>>> critical = AlertChange("a-1", "p95_api_latency", "open", "critical", t0)
>>> inhibitor([critical], "a-2", "high", t0 + minute)
'a-1'
>>> inhibitor([critical], "a-2", "critical", t0 + minute) is None  # strictly higher only
True
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

SEVERITIES = ("low", "medium", "high", "critical")  # lowest first
ACTIVE = frozenset({"open", "investigating"})
OPEN = "open"
INHIBITED, FLAPPING = "inhibited:", "flapping:"  # prefixes of the references of muted notifications


@dataclasses.dataclass(frozen=True)
class AlertChange:
    """One state change of an alert: a row of performance_alerts, reduced to what these decisions read."""

    id: str
    rule: str
    status: str
    severity: str
    changed_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class Flapping:
    """An identity found flapping at an event: `opened` times in the window; `first` of its flapping episode."""

    opened: int
    first: bool


def change_from_row(row: Mapping[str, Any]) -> AlertChange:
    """The change an `alert_history` row records."""
    return AlertChange(str(row["id"]), str(row["rule"]), str(row["status"]), str(row["severity"]), row["changed_at"])


def severity_rank(severity: str) -> int:
    """0 for low up to 3 for critical; an unknown severity ranks below low, so it never inhibits anything."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def states_at(history: Iterable[AlertChange], at: dt.datetime) -> dict[str, AlertChange]:
    """Each alert's state at `at`: its latest change at or before `at` (later changes are ignored)."""
    states: dict[str, AlertChange] = {}
    for change in sorted(history, key=lambda c: c.changed_at):
        if change.changed_at <= at:
            states[change.id] = change
    return states


def inhibitor(history: Iterable[AlertChange], alert_id: str, severity: str, at: dt.datetime) -> str | None:
    """The id of the active alert of the group that mutes alert `alert_id` of `severity` at `at`, or None.

    Of several, the most severe, then the earliest changed, then the smallest id: a stable answer.
    """
    rank = severity_rank(severity)
    candidates = [
        state
        for state in states_at(history, at).values()
        if state.id != alert_id and state.status in ACTIVE and severity_rank(state.severity) > rank
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda s: (-severity_rank(s.severity), s.changed_at, s.id)).id


def inherited_inhibitor(notifications: Iterable[Mapping[str, Any]]) -> str | None:
    """The alert that muted this alert's `open` event, from its notification rows; None if the open was not muted.

    Rows are those of the alert_notifications query (alert_status, ok, reference); a later event of the alert
    is muted by the same alert, whether or not that one is still active.
    """
    for row in notifications:
        reference = str(row.get("reference") or "")
        if row["ok"] and row["alert_status"] == OPEN and reference.startswith(INHIBITED):
            return reference[len(INHIBITED) :]
    return None


def openings(history: Iterable[AlertChange], rule: str, at: dt.datetime, window: dt.timedelta) -> int:
    """How many alerts of `rule` opened in [at - window, at): the event at `at` itself does not count."""
    first: dict[str, AlertChange] = {}
    for change in sorted(history, key=lambda c: c.changed_at):
        if change.rule == rule:
            first.setdefault(change.id, change)
    return sum(1 for c in first.values() if c.status == OPEN and at - window <= c.changed_at < at)


def flapping(
    history: Sequence[AlertChange], rule: str, at: dt.datetime, window: dt.timedelta, threshold: int
) -> Flapping | None:
    """Whether the identity of `rule` (in this group) flaps at `at`, and if this is its first flapping event.

    The first is the one whose previous event of the identity did not flap. The history must reach back two
    windows before `at`, so the previous event's own window is complete. A threshold of 0 turns this off.
    """
    opened = openings(history, rule, at, window)
    if threshold <= 0 or opened < threshold:
        return None
    earlier = [c.changed_at for c in history if c.rule == rule and c.changed_at < at]
    previous = max(earlier)  # there is one: the openings counted above are events of the identity
    return Flapping(opened, first=openings(history, rule, previous, window) < threshold)


def flapping_context(context: Mapping[str, Any], flap: Flapping, window: dt.timedelta) -> dict[str, Any]:
    """The event's context with the flag that tells people the alert flaps (its first flapping event)."""
    return {**context, "flapping": {"opened": flap.opened, "window_minutes": int(window / dt.timedelta(minutes=1))}}
