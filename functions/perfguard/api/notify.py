"""`notify_alert`: deliver one alert state change to every configured channel, exactly once per channel.

Each attempt is recorded in `alert_notifications`. A redelivered event skips the channels that already took
it, a resolved alert updates the channel's earlier message, and a channel that still fails after its own
retries raises DeliveryError, so the bus delivers the event again (then dead-letters it): an alert is
never silently lost.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from perfguard.bus.cloudevent import Message
from perfguard.errors import DeliveryError
from perfguard.notify.port import AlertEvent, Delivery, Notifier
from perfguard.runtime import Runtime
from perfguard.warehouse.sql import load_query

log = logging.getLogger(__name__)
HISTORY = dt.timedelta(days=30)  # how far back a resolved alert looks for the message it updates


def notify_alert(runtime: Runtime, message: Message) -> list[Delivery]:
    """Send the event to each channel that has not taken it yet; record every attempt."""
    event = AlertEvent.from_message(message.data)
    history = runtime.warehouse.query(
        load_query("alert_notifications"), {"alert_id": event.id, "since": event.changed_at - HISTORY}
    )
    deliveries = [
        _send(notifier, event, history) for notifier in runtime.channels() if not _sent(history, notifier, event)
    ]
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


def _send(notifier: Notifier, event: AlertEvent, history: Sequence[Mapping[str, Any]]) -> Delivery:
    earlier = [row for row in history if row["ok"] and row["channel"] == notifier.name and row["reference"]]
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
