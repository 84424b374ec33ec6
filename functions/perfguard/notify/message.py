"""What each channel says about an alert event: Slack Block Kit, an email, Alertmanager's webhook v4 JSON.

Pure: an AlertEvent and its runbook Guidance in, message content out. Only the event's own fields and named
keys of its context are shown (the windows; the investigation of `perfguard.api.incident_context`: worst
slices, deploys, related alerts; a detector's `recommendations`), each value cut short, never the context as
a whole, so nothing a detector adds later reaches a channel by accident, and no user data can.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from perfguard.domain.timestamps import format_rfc3339
from perfguard.notify.formatting import amount, unit_of, when
from perfguard.notify.investigation import investigation, suggestions
from perfguard.notify.port import AlertEvent
from perfguard.notify.runbook import Guidance

# The alert buttons' action ids and the status each one sets (the Slack interaction handler reads these).
ACTION_ACK = "perfguard_ack"
ACTION_RESOLVE = "perfguard_resolve"
ACTION_FALSE_POSITIVE = "perfguard_false_positive"
ACTION_STATUSES = {ACTION_ACK: "investigating", ACTION_RESOLVE: "resolved", ACTION_FALSE_POSITIVE: "false_positive"}
ACTIONS_BLOCK_ID = "perfguard_alert_actions"
CLOSED_STATUSES = frozenset({"resolved", "false_positive"})
NOT_ENDED = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt of a firing alert (Go's zero time)
MAX_WINDOWS = 10  # the last windows a message shows; the incident record keeps them all

_SEVERITY_EMOJI = {"critical": ":rotating_light:", "high": ":red_circle:", "medium": ":large_orange_circle:"}
_CLOSED_EMOJI = {"resolved": ":white_check_mark:", "false_positive": ":heavy_minus_sign:"}
_CLOSED_WORD = {"resolved": "Resolved", "false_positive": "False positive"}
_CLOSED_PHRASE = {"resolved": "Resolved", "false_positive": "Marked a false positive"}
_METRIC_NAMES = {"api_latency": "latency"}
_HEADER_LIMIT = 150  # Slack's limit on a header block's text


@dataclass(frozen=True)
class SlackMessage:
    """Block Kit blocks and the fallback text Slack shows in notifications."""

    text: str
    blocks: list[dict[str, Any]]


@dataclass(frozen=True)
class EmailContent:
    """Subject and plain-text body of an alert email."""

    subject: str
    body: str


def is_closed(event: AlertEvent) -> bool:
    """Whether the event ends the alert (resolved or marked a false positive)."""
    return event.status in CLOSED_STATUSES


def title(event: AlertEvent) -> str:
    """What is wrong, in a line: `P95 latency above 2 s: POST /swaps`."""
    statistic = str(event.context.get("statistic", "")).upper()
    metric = _METRIC_NAMES.get(event.metric_type, event.metric_type.replace("_", " "))
    direction = "below" if event.context.get("comparator") in ("<", "<=") else "above"
    threshold = _short_amount(event.threshold_value, unit_of(event))
    return f"{statistic} {metric} {direction} {threshold}: {event.subject()}".strip()


def facts(event: AlertEvent) -> str:
    """Value, threshold and since when (or how it ended), in a sentence."""
    value = (
        f"{amount(event.current_value, unit_of(event))} vs threshold {amount(event.threshold_value, unit_of(event))}"
    )
    if is_closed(event):
        return f"{closing(event)} (alert value {value})"
    return f"{value} since {when(event.triggered_at)}"


def closing(event: AlertEvent) -> str:
    """How the alert ended: `Resolved at 2026-11-25 09:22 UTC by evaluator after 17 min`."""
    ended = event.resolved_at or event.changed_at
    phrase = _CLOSED_PHRASE.get(event.status, event.status)
    return f"{phrase} at {when(ended)} by {event.changed_by} after {_duration(ended - event.triggered_at)}"


# --- escalation --------------------------------------------------------------------------------------------


def escalation_note(event: AlertEvent) -> str:
    """`ESCALATED (level 1): not acknowledged for 17 min` for an escalation (perfguard.api.escalation),
    `REMINDER: still firing after 4.0 h` for a group's repeat (perfguard.api.dispatch), else ''."""
    reminder = event.context.get("reminder")
    if isinstance(reminder, Mapping) and not is_closed(event):
        return f"REMINDER: still firing after {_duration(event.changed_at - event.triggered_at)}"
    escalation = event.context.get("escalation")
    if not isinstance(escalation, Mapping) or is_closed(event):
        return ""
    level, minutes = escalation.get("level"), escalation.get("unacknowledged_minutes")
    return f"ESCALATED (level {level}): not acknowledged for {minutes} min"


def escalation_mention(event: AlertEvent) -> str:
    """The configured mention of an escalation (e.g. `<!subteam^S0ONCALL>`), else ''."""
    escalation = event.context.get("escalation")
    mention = escalation.get("mention") if isinstance(escalation, Mapping) else None
    return mention if isinstance(mention, str) else ""


# --- Slack -------------------------------------------------------------------------------------------------


def slack_message(event: AlertEvent, guidance: Guidance) -> SlackMessage:
    """The Block Kit message for the event: the full alert while open, a short note once closed."""
    if is_closed(event):
        return SlackMessage(_escape(f"{_CLOSED_WORD.get(event.status, event.status)}: {title(event)}"), _closed(event))
    text = f"[{event.severity.upper()}] {title(event)} — {facts(event)}"
    note = escalation_note(event)
    if not note:
        return SlackMessage(_escape(text), _open(event, guidance))
    # The mention is the operator's own Slack syntax (a setting), so unlike event text it is not escaped.
    mention = escalation_mention(event)
    top = _section(f"{mention} *{_escape(note)}*".strip())
    return SlackMessage(f"{mention} {_escape(f'{note} — {text}')}".strip(), [top, *_open(event, guidance)])


def slack_thread_reply(event: AlertEvent) -> str:
    """The reply under the original message when the alert changes status."""
    if is_closed(event):
        return _escape(closing(event) + ".")
    return _escape(f"Status {event.status} (by {event.changed_by} at {when(event.changed_at)}).")


def _open(event: AlertEvent, guidance: Guidance) -> list[dict[str, Any]]:
    blocks = [
        _header(f"{_SEVERITY_EMOJI.get(event.severity, ':large_yellow_circle:')} {title(event)}"),
        {"type": "section", "fields": [_mrkdwn(f"*{name}*\n{value}") for name, value in _slack_fields(event)]},
    ]
    table = windows_table(event)
    if table:
        blocks.append(_section("*Last windows (UTC)*\n```" + _escape("\n".join(table)) + "```"))
    found = investigation(event)
    if found:
        blocks.append(_section("*Investigation*\n" + _bullets(found)))
    advice = suggestions(event, guidance)
    if advice:
        blocks.append(_section("*Suggested optimizations*\n" + _bullets(advice)))
    blocks.append(_section(_runbook_text(guidance)))
    blocks.append(_actions(event))
    blocks.append(_context(event))
    return blocks


def _closed(event: AlertEvent) -> list[dict[str, Any]]:
    emoji = _CLOSED_EMOJI.get(event.status, ":white_check_mark:")
    word = _CLOSED_WORD.get(event.status, event.status)
    return [_header(f"{emoji} {word}: {title(event)}"), _section(_escape(facts(event))), _context(event)]


def _slack_fields(event: AlertEvent) -> list[tuple[str, str]]:
    unit = unit_of(event)
    fields = [
        ("Severity", _escape(event.severity)),
        ("Endpoint", f"`{_escape(event.subject())}`"),
        ("Current vs threshold", f"{amount(event.current_value, unit)} vs {amount(event.threshold_value, unit)}"),
        ("Since", when(event.triggered_at)),
    ]
    if event.status != "open":
        fields.append(("Status", _escape(f"{event.status} (by {event.changed_by} at {when(event.changed_at)})")))
    return fields


def _runbook_text(guidance: Guidance) -> str:
    link = guidance.link
    shown = f"<{link}|{_escape(link.rsplit('/', 1)[-1])}>" if _is_url(link) else f"`{_escape(link)}`"
    steps = "".join(f"\n{n}. {_escape(step)}" for n, step in enumerate(guidance.first_steps, 1))
    return f"*Runbook:* {shown}" + (f"\n*First steps*{steps}" if steps else "")


def _actions(event: AlertEvent) -> dict[str, Any]:
    buttons = [_button("Acknowledge", ACTION_ACK, event.id)] if event.status == "open" else []
    buttons.append(_button("Resolve", ACTION_RESOLVE, event.id, style="primary"))
    buttons.append(_button("False positive", ACTION_FALSE_POSITIVE, event.id))
    return {"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": buttons}


def _button(label: str, action_id: str, value: str, style: str = "") -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": value,
    }
    return {**button, "style": style} if style else button


def _context(event: AlertEvent) -> dict[str, Any]:
    text = f"alert `{event.id}` · rule `{event.rule}` · {event.alert_type}"
    return {"type": "context", "elements": [_mrkdwn(_escape(text))]}


def _header(text: str) -> dict[str, Any]:
    shown = text if len(text) <= _HEADER_LIMIT else text[: _HEADER_LIMIT - 1] + "…"
    return {"type": "header", "text": {"type": "plain_text", "text": shown, "emoji": True}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _bullets(items: Sequence[str]) -> str:
    return "\n".join(f"• {_escape(item)}" for item in items)


def _escape(text: str) -> str:
    """Slack's three control characters, so event text cannot form links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _is_url(link: str) -> bool:
    return link.startswith(("https://", "http://"))


# --- email -------------------------------------------------------------------------------------------------


def email_content(event: AlertEvent, guidance: Guidance) -> EmailContent:
    """Subject and plain-text body with the same facts as the Slack message."""
    state = _CLOSED_WORD.get(event.status, event.status).upper() if is_closed(event) else "FIRING"
    note = escalation_note(event)
    state = note.partition(":")[0] if note else state  # `ESCALATED (level 1)`
    subject = f"[perfguard] {state} [{event.severity.upper()}] {title(event)}"
    lines = [note, ""] if note else []
    return EmailContent(subject, "\n".join(lines + _email_lines(event, guidance)) + "\n")


def _email_lines(event: AlertEvent, guidance: Guidance) -> list[str]:
    unit = unit_of(event)
    lines = [title(event), "", *_aligned(_email_fields(event, unit))]
    if not is_closed(event):
        table = windows_table(event)
        lines += ["", "Last windows (UTC):", *(f"  {row}" for row in table)] if table else []
        found = investigation(event)
        lines += ["", "Investigation:", *(f"  - {line}" for line in found)] if found else []
        lines += ["", "Suggested optimizations:", *(f"  - {o}" for o in suggestions(event, guidance))]
    lines += ["", f"Runbook: {guidance.link}"]
    if guidance.first_steps and not is_closed(event):
        lines += ["First steps:", *(f"  {n}. {step}" for n, step in enumerate(guidance.first_steps, 1))]
        lines += ["", "Acknowledge, resolve or mark it a false positive with the Slack buttons or the API."]
    return lines


def _email_fields(event: AlertEvent, unit: str) -> list[tuple[str, str]]:
    fields = [
        ("Status", event.status),
        ("Severity", event.severity),
        ("Endpoint", event.subject()),
        ("Value", f"{amount(event.current_value, unit)} (threshold {amount(event.threshold_value, unit)})"),
        ("Since", when(event.triggered_at)),
    ]
    if event.status != "open":
        fields.append(("Changed", f"{when(event.changed_at)} by {event.changed_by}"))
    return fields + [("Rule", f"{event.rule} ({event.alert_type})"), ("Alert id", event.id)]


def _aligned(fields: Sequence[tuple[str, str]]) -> list[str]:
    width = max(len(name) for name, _ in fields) + 1
    return [f"{name + ':':<{width}} {value}" for name, value in fields]


# --- Alertmanager webhook v4 -------------------------------------------------------------------------------


def alertmanager_payload(
    event: AlertEvent, guidance: Guidance, receiver: str = "perfguard", external_url: str = "", generator_url: str = ""
) -> dict[str, Any]:
    """The event as the JSON body Alertmanager's webhook receiver posts (version 4), one alert per group."""
    labels = alert_labels(event)
    group_labels = {"alertname": labels["alertname"], "endpoint": labels["endpoint"]}
    annotations = {
        "summary": title(event),
        "description": f"{title(event)} — {facts(event)}",
        "runbook_url": guidance.link,
        "alert_id": event.id,
    }
    status = "resolved" if is_closed(event) else "firing"
    alert = {
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": format_rfc3339(event.triggered_at),
        "endsAt": format_rfc3339(event.resolved_at or event.changed_at) if is_closed(event) else NOT_ENDED,
        "generatorURL": generator_url,
        "fingerprint": fingerprint(labels),
    }
    return {
        "version": "4",
        "groupKey": f"{{}}:{label_set(group_labels)}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": external_url,
        "alerts": [alert],
    }


def alert_labels(event: AlertEvent) -> dict[str, str]:
    """The alert's identity as Alertmanager labels."""
    return {
        "alertname": event.rule,
        "severity": event.severity,
        "endpoint": event.subject(),
        "metric_type": event.metric_type,
    }


def fingerprint(labels: Mapping[str, str]) -> str:
    """Prometheus's label-set fingerprint (FNV-1a 64 over sorted name/value pairs), as Alertmanager sends it."""
    digest = 0xCBF29CE484222325
    for name in sorted(labels):
        for part in (name.encode(), b"\xff", labels[name].encode(), b"\xff"):
            for byte in part:
                digest = ((digest ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{digest:016x}"


def label_set(labels: Mapping[str, str]) -> str:
    """A label set as Alertmanager prints it in a group key: `{a="1", b="2"}`."""
    return "{" + ", ".join(f"{name}={json.dumps(labels[name])}" for name in sorted(labels)) + "}"


# --- shared formatting -------------------------------------------------------------------------------------


def windows_table(event: AlertEvent) -> list[str]:
    """The last windows of the context as aligned text rows: minute, the statistic, sample count."""
    windows = event.context.get("windows")
    if not isinstance(windows, list) or not windows:
        return []
    statistic = str(event.context.get("statistic") or "value")
    rows = [("minute", statistic, "count")]
    rows += [_window_row(w, statistic, unit_of(event)) for w in windows[-MAX_WINDOWS:] if isinstance(w, Mapping)]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return [f"{m:<{widths[0]}}  {v:>{widths[1]}}  {c:>{widths[2]}}" for m, v, c in rows]


def _window_row(window: Mapping[str, Any], statistic: str, unit: str) -> tuple[str, str, str]:
    value = window.get(statistic, window.get("value"))
    count = window.get("count")
    number = float(value) if isinstance(value, (int, float)) else None
    return _minute(window.get("minute")), amount(number, unit), f"{count:,}" if isinstance(count, int) else "–"


def _minute(value: object) -> str:
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(dt.UTC).strftime("%H:%M")
    except ValueError:
        return "?"


def _short_amount(value: float, unit: str) -> str:
    """A threshold as people say it: 2000 ms is `2 s`."""
    if unit == "ms" and value >= 1000:
        return f"{value / 1000:g} s"
    return amount(value, unit)


def _duration(span: dt.timedelta) -> str:
    minutes = max(0, round(span.total_seconds() / 60))
    return f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"
