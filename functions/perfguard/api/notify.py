"""`notify_alert`: alert state changes to the channels, when their notification group's timers allow.

With the timers off (group_wait_seconds and group_interval_seconds 0) each event is delivered as it arrives.
With them on (Alertmanager's defaults: 30 s, 5 min, 4 h), an event goes out with its group once the group is
due (perfguard.domain.grouping), and the one-minute tick, delivered to this function too, sends the groups
whose time has come: a group_wait ends at the first tick after it. The state lives in the warehouse (the
alert changes and the notification log), so a restarted or duplicated function decides the same, and a
change a channel has not taken is tried again at every tick until it is (at least once, never lost).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from perfguard.api.delivery import GROUPED, MUTED, deliver_event, record, routed_channels
from perfguard.bus.cloudevent import Message
from perfguard.domain.grouping import GroupKey, GroupTimers, describe, group_key
from perfguard.errors import DeliveryError
from perfguard.notify.message import alert_labels
from perfguard.notify.port import AlertEvent, Delivery
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from perfguard.warehouse.sql import load_query

log = logging.getLogger(__name__)
ACTIVE = ("open", "investigating")
# How long a change a channel has not taken is tried again at each tick (the bus also retries the event and
# dead-letters it); older ones are left to the dead letters.
RETRY_HORIZON = dt.timedelta(hours=1)


def notify_alert(runtime: Runtime, message: Message) -> list[Delivery]:
    """An alert event: sent now to each channel that has not taken it yet, or, while its notification group's
    timers hold it, left for the tick (`dispatch`). A tick: the groups whose time has come."""
    timers = group_timers(runtime.settings)
    if "job" in message.data:
        return dispatch(runtime, runtime.clock()) if timers.grouping else []
    event = AlertEvent.from_message(message.data)
    deliveries = dispatch(runtime, runtime.clock(), event) if timers.grouping else deliver_event(runtime, event)
    failed = [d for d in deliveries if not d.ok]
    if failed:
        names = ", ".join(f"{d.channel} ({d.error})" for d in failed)
        raise DeliveryError(f"alert {event.id} ({event.status}) not delivered to {names}; the bus will retry")
    return deliveries


def group_timers(settings: Settings) -> GroupTimers:
    """The timers of the settings."""
    return GroupTimers(
        dt.timedelta(seconds=settings.group_wait_seconds),
        dt.timedelta(seconds=settings.group_interval_seconds),
        dt.timedelta(seconds=settings.repeat_interval_seconds),
    )


def dispatch(runtime: Runtime, now: dt.datetime, event: AlertEvent | None = None) -> list[Delivery]:
    """Send every due group's pending changes (only `event`'s group when given), then the due reminders."""
    timers = group_timers(runtime.settings)
    since = now - max(timers.memory(), RETRY_HORIZON)
    changes = runtime.warehouse.query(load_query("unsent_changes"), {"since": since})
    events = [(AlertEvent.from_message(row), set(filter(None, str(row["sent_to"]).split(",")))) for row in changes]
    groups = {e.id: _key(runtime, e) for e, _ in events}
    last_sent = _last_sent(runtime, since, groups)
    pending: dict[GroupKey, list[AlertEvent]] = defaultdict(list)
    for change, sent_to in events:
        if {n.name for n in routed_channels(runtime, change)} - sent_to:
            pending[groups[change.id]].append(change)
    wanted = None if event is None else _key(runtime, event)
    deliveries: list[Delivery] = []
    never_sent = {e.id for e, sent_to in events if e.status == "open" and not sent_to}
    for key, waiting in pending.items():
        if wanted in (None, key) and timers.due(min(e.changed_at for e in waiting), last_sent.get(key), now):
            log.info("notification group %s: %d change(s) due", describe(key), len(waiting))
            deliveries += _flush(runtime, waiting, never_sent)
    if event is None and timers.repeat:
        deliveries += _reminders(runtime, now, timers, set(pending), last_sent)
    return deliveries


def _key(runtime: Runtime, event: AlertEvent) -> GroupKey:
    return group_key(alert_labels(event), runtime.settings.group_by)


def _last_sent(runtime: Runtime, since: dt.datetime, groups: Mapping[str, GroupKey]) -> dict[GroupKey, dt.datetime]:
    """When each group last had a notification go out (muted ones do not count); alerts with no recent change
    are grouped from their current state."""
    rows = [r for r in runtime.warehouse.query(load_query("recent_notifications"), {"since": since}) if _real(r)]
    missing = {row["alert_id"] for row in rows} - set(groups)
    known = dict(groups) | _current_groups(runtime, missing)
    last: dict[GroupKey, dt.datetime] = {}
    for row in rows:
        key = known.get(row["alert_id"])
        if key is not None:
            last[key] = max(last.get(key, row["attempted_at"]), row["attempted_at"])
    return last


def _real(row: Mapping[str, Any]) -> bool:
    return not str(row["reference"] or "").startswith(MUTED)


def _current_groups(runtime: Runtime, ids: set[str]) -> dict[str, GroupKey]:
    if not ids:
        return {}
    return {e.id: _key(runtime, e) for e in _active(runtime) if e.id in ids}


def _active(runtime: Runtime) -> list[AlertEvent]:
    params = {"statuses": list(ACTIVE), "metric_type": None, "limit": 1000}
    return [AlertEvent.from_message(row) for row in runtime.warehouse.query(load_query("current_alerts"), params)]


def _flush(runtime: Runtime, events: Sequence[AlertEvent], never_sent: set[str]) -> list[Delivery]:
    """A due group's changes, oldest first; an alert that opened and closed before anything was sent for it
    is marked done instead (Alertmanager: resolved within group_wait, never notified)."""
    moot = _moot(events) & never_sent
    ordered = sorted(events, key=lambda e: (e.changed_at, e.id))
    opening = [e for e in ordered if e.status == "open" and e.id not in moot]
    deliveries: list[Delivery] = []
    thread = ""
    for event in ordered:
        if event.id in moot:
            deliveries += _mark_moot(runtime, event)
            continue
        if event.status == "open" and len(opening) > 1:
            event = _grouped(event, len(opening), thread)
        sent = deliver_event(runtime, event)
        deliveries += sent
        if not thread and event.status == "open":
            thread = _slack_message_of(sent)
    return deliveries


def _grouped(event: AlertEvent, size: int, thread: str) -> AlertEvent:
    """An alert opened with others of its group: the first message says how many, the others go to its Slack
    thread (`group_thread`, read by notify.slack), so a shared cause makes one message in the channel."""
    extra: dict[str, Any] = {"group_size": size}
    if thread:
        extra["group_thread"] = thread
    return dataclasses.replace(event, context={**event.context, **extra})


def _slack_message_of(deliveries: Sequence[Delivery]) -> str:
    return next((d.reference for d in deliveries if d.ok and d.channel == "slack" and ":" in d.reference), "")


def _moot(events: Sequence[AlertEvent]) -> set[str]:
    statuses: dict[str, set[str]] = defaultdict(set)
    for event in events:
        statuses[event.id].add(event.status)
    return {alert for alert, seen in statuses.items() if "open" in seen and seen - set(ACTIVE)}


def _mark_moot(runtime: Runtime, event: AlertEvent) -> list[Delivery]:
    why = f"{GROUPED}closed before its group was notified"
    return record(runtime, event, [Delivery(n.name, True, reference=why) for n in routed_channels(runtime, event)])


def _reminders(
    runtime: Runtime,
    now: dt.datetime,
    timers: GroupTimers,
    busy: set[GroupKey],
    last_sent: Mapping[GroupKey, dt.datetime],
) -> list[Delivery]:
    """The open alerts of each firing group with nothing pending whose repeat_interval has passed, again."""
    by_group: dict[GroupKey, list[AlertEvent]] = defaultdict(list)
    for alert in _active(runtime):
        by_group[_key(runtime, alert)].append(alert)
    deliveries: list[Delivery] = []
    for key, alerts in by_group.items():
        if key not in busy and timers.reminder_due(last_sent.get(key), now):
            log.info("notification group %s: still firing, reminder", describe(key))
            for alert in alerts:
                again = dataclasses.replace(alert, changed_at=now, context={**alert.context, "reminder": True})
                deliveries += deliver_event(runtime, again, reminder=True)
    return deliveries
