"""Delivering one alert state change to every configured channel its rule routes it to (the rule's `route`;
all when it names none), exactly once per channel (`perfguard.api.notify` decides when).

Each attempt is recorded in `alert_notifications`. A redelivered event skips the channels that already took
it, a resolved alert updates the channel's earlier message, and a channel that still fails after its own
retries raises DeliveryError, so the bus delivers the event again (then dead-letters it): an alert is
never silently lost.

A change that an active silence matches (at the change's own time, so a redelivery decides the same) is
sent nowhere: each channel gets a row with ok and the reference `silenced:<silence id>`, which marks it done.
Then, in that order (perfguard.domain.fatigue has the rules):

* inhibition (`inhibit_lower_severities`): the open event of an alert whose group has a more severe active
  alert is muted with the reference `inhibited:<that alert's id>`; its later events follow the open's fate;
* flapping (`flap_threshold`, `flap_window_minutes`): the first flapping event of an identity is sent with
  `context.flapping` = {opened, window_minutes}; the next ones are held with the reference `flapping:<opened>`.

All three are checked only when some channel still needs the event.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from perfguard.domain import fatigue
from perfguard.domain.silences import Silence, silence_from_row, silencing
from perfguard.notify.message import alert_labels
from perfguard.notify.port import AlertEvent, Delivery, Notifier
from perfguard.runtime import Runtime
from perfguard.warehouse.sql import load_query

log = logging.getLogger(__name__)
HISTORY = dt.timedelta(days=30)  # how far back a resolved alert looks for the message it updates
SILENCED = "silenced:"  # the reference of a change a silence muted: done, but no message to update
GROUPED = "grouped:"  # a change a group's timers made moot (opened and resolved before it was sent)
MUTED = (SILENCED, fatigue.INHIBITED, fatigue.FLAPPING, GROUPED)  # references of muted changes: no message behind them
REMINDER = "reminder"  # alert_status of a group's repeat notification rows


def deliver_event(runtime: Runtime, event: AlertEvent, reminder: bool = False) -> list[Delivery]:
    """Send the event to each routed channel that has not taken it yet (a reminder: to every routed channel,
    as a new message); record every attempt."""
    history = runtime.warehouse.query(
        load_query("alert_notifications"), {"alert_id": event.id, "since": event.changed_at - HISTORY}
    )
    channels = [n for n in routed_channels(runtime, event) if reminder or not _sent(history, n, event)]
    deliveries = _deliver(runtime, event, channels, [] if reminder else history) if channels else []
    return record(runtime, event, deliveries, REMINDER if reminder else event.status)


def record(runtime: Runtime, event: AlertEvent, deliveries: Sequence[Delivery], status: str = "") -> list[Delivery]:
    """Append a notification row per delivery (`status`: the event's own unless a reminder's)."""
    if deliveries:
        now = runtime.clock()
        runtime.warehouse.append_rows(
            "alert_notifications", [_row(event, d, now, status or event.status) for d in deliveries]
        )
    return list(deliveries)


def routed_channels(runtime: Runtime, event: AlertEvent) -> list[Notifier]:
    """The configured channels the event's rule routes it to."""
    route = _route(runtime, event)
    return [n for n in runtime.channels() if _routed(n, route)]


def _route(runtime: Runtime, event: AlertEvent) -> tuple[str, ...]:
    """The channels the event's rule names in its `route` (empty: every channel; other detectors: every)."""
    return next((rule.route for rule in runtime.threshold_rules() if rule.name == event.rule), ())


def _routed(notifier: Notifier, route: Sequence[str]) -> bool:
    # The second and later webhooks are webhook-2, webhook-3 (notify.channels); a route names the kind.
    return not route or notifier.name.split("-")[0] in route


def _sent(history: Sequence[Mapping[str, Any]], notifier: Notifier, event: AlertEvent) -> bool:
    return any(
        row["ok"]
        and row["channel"] == notifier.name
        and row["alert_status"] == event.status
        and row["event_changed_at"] == event.changed_at
        for row in history
    )


def _deliver(
    runtime: Runtime, event: AlertEvent, channels: Sequence[Notifier], history: Sequence[Mapping[str, Any]]
) -> list[Delivery]:
    """Silences, then inhibition, then flapping decide whether the event is muted, sent, or sent flagged."""
    silence = _silence(runtime, event)
    if silence:
        return _muted(event, channels, SILENCED + silence.id, f"silenced by {silence.id}")
    alerts = _alert_history(runtime, event)
    inhibitor = _inhibitor(runtime, event, history, alerts)
    if inhibitor:
        return _muted(event, channels, fatigue.INHIBITED + inhibitor, f"inhibited by {inhibitor}")
    window = dt.timedelta(minutes=runtime.settings.flap_window_minutes)
    flap = fatigue.flapping(alerts, event.rule, event.changed_at, window, runtime.settings.flap_threshold)
    if flap and not flap.first:
        return _muted(event, channels, f"{fatigue.FLAPPING}{flap.opened}", f"flapping ({flap.opened} openings)")
    if flap:  # the first flapping event goes out once, flagged, so people learn why the next ones do not
        event = dataclasses.replace(event, context=fatigue.flapping_context(event.context, flap, window))
    return [_send(notifier, event, history) for notifier in channels]


def _alert_history(runtime: Runtime, event: AlertEvent) -> list[fatigue.AlertChange]:
    """The changes of the event's group, two flap windows back (fatigue.flapping needs both)."""
    settings = runtime.settings
    if settings.inhibit_lower_severities != "yes" and settings.flap_threshold <= 0:
        return []
    since = event.changed_at - 2 * dt.timedelta(minutes=settings.flap_window_minutes)
    params = {"endpoint": event.endpoint_or_operation, "since": since}
    return [fatigue.change_from_row(row) for row in runtime.warehouse.query(load_query("alert_history"), params)]


def _inhibitor(
    runtime: Runtime,
    event: AlertEvent,
    history: Sequence[Mapping[str, Any]],
    alerts: Sequence[fatigue.AlertChange],
) -> str | None:
    """The id of the alert that mutes this event: decided at the open, inherited by the later events."""
    if runtime.settings.inhibit_lower_severities != "yes":
        return None
    if event.status != fatigue.OPEN:
        return fatigue.inherited_inhibitor(history)
    return fatigue.inhibitor(alerts, event.id, event.severity, event.changed_at)


def _silence(runtime: Runtime, event: AlertEvent) -> Silence | None:
    """The silence that mutes the event at its own time, if any (matched on the webhook payload's labels)."""
    rows = runtime.warehouse.query(load_query("active_silences"), {"at": event.changed_at})
    return silencing([silence_from_row(row) for row in rows], alert_labels(event), event.changed_at)


def _muted(event: AlertEvent, channels: Sequence[Notifier], reference: str, why: str) -> list[Delivery]:
    names = ", ".join(notifier.name for notifier in channels)
    log.info("alert %s (%s) %s: not sent to %s", event.id, event.status, why, names)
    return [Delivery(notifier.name, True, reference=reference) for notifier in channels]


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
    return bool(row["reference"]) and not str(row["reference"]).startswith(MUTED)


def _row(event: AlertEvent, delivery: Delivery, now: dt.datetime, status: str) -> dict[str, Any]:
    return {
        "alert_id": event.id,
        "channel": delivery.channel,
        "alert_status": status,
        "event_changed_at": event.changed_at,
        "ok": delivery.ok,
        "reference": delivery.reference or None,
        "error": delivery.error or None,
        "attempted_at": now,
    }
