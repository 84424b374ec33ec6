"""`escalate_alerts`: on every evaluation tick, escalate the open alerts nobody acknowledged in time.

The candidates are the open alerts without an ok level-1 row in `alert_escalations` since they were (last)
opened (queries/escalation_candidates.sql); `perfguard.domain.escalation` decides which are due now. A due
alert is sent to every channel as a new message (no earlier message is updated, so the mention notifies)
with `context.escalation` = {level, mention, unacknowledged_minutes}, which the message builders show at
the top; the email channel adds `escalation_email_to` to its recipients.

Each alert gets one row per attempt. A channel that fails is recorded (ok false, its error) and not raised,
so one bad channel does not hold up the tick or the other alerts; the next tick retries the alert, sending
only to the channels that have not taken it yet. An alert that an active silence matches is not escalated.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from perfguard.bus.cloudevent import Message
from perfguard.domain.escalation import due_level, escalation_policy, unacknowledged_minutes
from perfguard.domain.silences import silence_from_row, silencing
from perfguard.notify.message import alert_labels
from perfguard.notify.port import AlertEvent, Delivery, Notifier
from perfguard.runtime import Runtime
from perfguard.warehouse.sql import load_query

log = logging.getLogger(__name__)
TABLE = "alert_escalations"


def escalate_alerts(runtime: Runtime, message: Message | None = None) -> list[dict[str, Any]]:
    """Send every escalation due now; the alert_escalations rows appended (one per alert escalated)."""
    del message  # any tick will do: what is due depends only on the stored alerts and the clock
    now, settings = runtime.clock(), runtime.settings
    policy = escalation_policy(settings.escalation_after_minutes, settings.escalation_critical_immediately == "yes")
    candidates = runtime.warehouse.query(load_query("escalation_candidates"), {})
    due = [
        (row, level)
        for row in candidates
        if (level := due_level(policy, row["severity"], row["status"], _opened(row), frozenset(), now)) is not None
    ]
    if not due:
        return []
    channels = runtime.channels()
    if not channels:
        log.warning("%d alert(s) due for escalation, but no notification channel is configured", len(due))
        return []
    silences = [silence_from_row(r) for r in runtime.warehouse.query(load_query("active_silences"), {"at": now})]
    rows = []
    for row, level in due:
        event = _escalation_event(row, level, settings.escalation_mention, now)
        silence = silencing(silences, alert_labels(event), now)
        if silence:
            log.info("alert %s not escalated: silenced by %s", event.id, silence.id)
            continue
        rows.append(_escalate(event, level, _remaining(channels, row), now))
    if rows:
        runtime.warehouse.append_rows(TABLE, rows)
    return rows


def _opened(row: Mapping[str, Any]) -> dt.datetime:
    """When the alert became open: the changed_at of its current (open) row."""
    return AlertEvent.from_message(row).changed_at


def _escalation_event(row: Mapping[str, Any], level: int, mention: str, now: dt.datetime) -> AlertEvent:
    event = AlertEvent.from_message(row)
    minutes = unacknowledged_minutes(event.changed_at, now)
    escalation = {"level": level, "mention": mention, "unacknowledged_minutes": minutes}
    return dataclasses.replace(event, context={**event.context, "escalation": escalation})


def _remaining(channels: Sequence[Notifier], row: Mapping[str, Any]) -> list[Notifier]:
    """The channels that have not taken this escalation in an earlier, partly failed attempt."""
    delivered = set(filter(None, str(row.get("delivered_channels") or "").split(",")))
    return [notifier for notifier in channels if notifier.name not in delivered]


def _escalate(event: AlertEvent, level: int, channels: Sequence[Notifier], now: dt.datetime) -> dict[str, Any]:
    deliveries = [_send(notifier, event) for notifier in channels]
    failed = [d for d in deliveries if not d.ok]
    if failed:
        log.error("escalation of alert %s failed on %s; retried next tick", event.id, _errors(failed))
    return {
        "alert_id": event.id,
        "level": level,
        "escalated_at": now,
        "channels": ",".join(d.channel for d in deliveries if d.ok),
        "ok": not failed,
        "error": _errors(failed) or None,
    }


def _send(notifier: Notifier, event: AlertEvent) -> Delivery:
    """A new message (no earlier one to update, so the mention notifies); a raising notifier is a failure."""
    try:
        return notifier.send(event, None)
    except Exception as exc:  # a notifier must not raise, but one that does must not stop the others
        log.exception("notifier %s raised on the escalation of alert %s", notifier.name, event.id)
        return Delivery(notifier.name, False, error=f"{type(exc).__name__}: {exc}")


def _errors(failed: Sequence[Delivery]) -> str:
    return "; ".join(f"{d.channel}: {d.error}" for d in failed)
