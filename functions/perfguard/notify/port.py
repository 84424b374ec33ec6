"""The alert event every notifier receives, and the Notifier protocol."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from perfguard.errors import InvalidRequest


@dataclass(frozen=True)
class AlertEvent:
    """One alert state change, as published on the `performance-alerts` topic (a row of performance_alerts)."""

    id: str
    alert_type: str
    rule: str
    metric_type: str
    endpoint_or_operation: str | None
    current_value: float | None
    threshold_value: float
    severity: str
    status: str
    triggered_at: dt.datetime
    resolved_at: dt.datetime | None
    changed_at: dt.datetime
    changed_by: str
    context: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_message(cls, data: Mapping[str, Any]) -> AlertEvent:
        """Read the event out of a message's data; a message that is not one is an InvalidRequest."""
        try:
            context = data.get("context") or {}
            return cls(
                id=str(data["id"]),
                alert_type=str(data["alert_type"]),
                rule=str(data["rule"]),
                metric_type=str(data["metric_type"]),
                endpoint_or_operation=data.get("endpoint_or_operation"),
                current_value=None if data.get("current_value") is None else float(data["current_value"]),
                threshold_value=float(data["threshold_value"]),
                severity=str(data["severity"]),
                status=str(data["status"]),
                triggered_at=_moment(data["triggered_at"]),
                resolved_at=None if data.get("resolved_at") is None else _moment(data["resolved_at"]),
                changed_at=_moment(data["changed_at"]),
                changed_by=str(data["changed_by"]),
                context=json.loads(context) if isinstance(context, str) else dict(context),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidRequest(f"not an alert event: {exc!r}") from exc

    def subject(self) -> str:
        """What the alert is about, in a few words: the endpoint, or all endpoints."""
        return self.endpoint_or_operation or "(all endpoints)"


@dataclass(frozen=True)
class Delivery:
    """How sending one event to one channel went; `reference` lets a later event update the same message."""

    channel: str
    ok: bool
    reference: str = ""
    error: str = ""


class Notifier(Protocol):
    """One notification channel (Slack, email, a webhook)."""

    name: str

    def send(self, event: AlertEvent, previous: Delivery | None) -> Delivery:
        """Deliver the event, retrying what is worth retrying; never raise for a delivery failure.

        `previous` is this channel's earlier successful delivery for the same alert (e.g. the Slack
        message to update when the alert resolves), or None.
        """


def _moment(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
