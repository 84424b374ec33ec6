"""`notify_alert`: deliver one alert state change to every configured channel, exactly once per channel.

Each attempt is recorded in `alert_notifications`. A redelivered event skips the channels that already took
it, a resolved alert updates the channel's earlier message, and a channel that still fails after its own
retries raises DeliveryError, so the bus delivers the event again (then dead-letters it): an alert is
never silently lost.

A change that an active silence matches (at the change's own time, so a redelivery decides the same) is
sent nowhere: each channel gets a row with ok and the reference `silenced:<silence id>`, which marks it done.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from perfguard.bus.cloudevent import Message
from perfguard.domain.silences import Silence, silence_from_row, silencing
from perfguard.errors import DeliveryError
from perfguard.notify.message import alert_labels
from perfguard.notify.port import AlertEvent, Delivery, Notifier
from perfguard.runtime import Runtime
from perfguard.warehouse.sql import load_query

log = logging.getLogger(__name__)
HISTORY = dt.timedelta(days=30)  # how far back a resolved alert looks for the message it updates
SILENCED = "silenced:"  # the reference of a change a silence muted: done, but no message to update


def notify_alert(runtime: Runtime, message: Message) -> list[Delivery]:
    """Send the event to each channel that has not taken it yet; record every attempt."""
    event = AlertEvent.from_message(message.data)
    history = runtime.warehouse.query(
        load_query("alert_notifications"), {"alert_id": event.id, "since": event.changed_at - HISTORY}
    )
    channels = [notifier for notifier in runtime.channels() if not _sent(history, notifier, event)]
    silence = _silence(runtime, event) if channels else None
    deliveries = _muted(event, channels, silence) if silence else [_send(n, event, history) for n in channels]
    if deliveries:
        runtime.warehouse.append_rows("alert_notifications", [_row(event, d, runtime.clock()) for d in deliveries])
    failed = [d for d in deliveries if not d.ok]
    if failed:
        names = ", ".join(f"{d.channel} ({d.error})" for d in failed)
        raise DeliveryError(f"alert {event.id} ({event.status}) not delivered to {names}; the bus will retry")
    return deliveries


def _sent(history: Sequence[Mapping[str, Any]], notifier: Notifier, event: AlertEvent) -> bool:
    return any(
        row["ok"]
        and row["channel"] == notifier.name
        and row["alert_status"] == event.status
        and row["event_changed_at"] == event.changed_at
        for row in history
    )


def _silence(runtime: Runtime, event: AlertEvent) -> Silence | None:
    """The silence that mutes the event at its own time, if any (matched on the webhook payload's labels)."""
    rows = runtime.warehouse.query(load_query("active_silences"), {"at": event.changed_at})
    return silencing([silence_from_row(row) for row in rows], alert_labels(event), event.changed_at)


def _muted(event: AlertEvent, channels: Sequence[Notifier], silence: Silence) -> list[Delivery]:
    names = ", ".join(notifier.name for notifier in channels)
    log.info("alert %s (%s) silenced by %s: not sent to %s", event.id, event.status, silence.id, names)
    return [Delivery(notifier.name, True, reference=SILENCED + silence.id) for notifier in channels]


def _send(notifier: Notifier, event: AlertEvent, history: Sequence[Mapping[str, Any]]) -> Delivery:
    earlier = [row for row in history if row["ok"] and row["channel"] == notifier.name and _message(row)]
    previous = Delivery(notifier.name, True, earlier[0]["reference"]) if earlier else None  # the first message
    try:
        delivery = notifier.send(event, previous)
    except Exception as exc:  # a notifier must not raise, but one that does must not stop the others
        log.exception("notifier %s raised on alert %s", notifier.name, event.id)
        delivery = Delivery(notifier.name, False, error=f"{type(exc).__name__}: {exc}")
    level = logging.INFO if delivery.ok else logging.ERROR
    log.log(
        level,
        "alert %s (%s) to %s: %s",
        event.id,
        event.status,
        notifier.name,
        "sent" if delivery.ok else delivery.error,
    )
    return delivery


def _message(row: Mapping[str, Any]) -> bool:
    """Whether a notification row points at a message a later event can update (a muted one does not)."""
    return bool(row["reference"]) and not str(row["reference"]).startswith(SILENCED)


def _row(event: AlertEvent, delivery: Delivery, now: dt.datetime) -> dict[str, Any]:
    return {
        "alert_id": event.id,
        "channel": delivery.channel,
        "alert_status": event.status,
        "event_changed_at": event.changed_at,
        "ok": delivery.ok,
        "reference": delivery.reference or None,
        "error": delivery.error or None,
        "attempted_at": now,
    }
