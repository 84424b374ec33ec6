"""notify_alert over a real DuckDB store: every channel gets each state change once, a resolved alert
updates the first message, and a failing channel makes the bus try again without re-sending to the others.
The channels here are recording doubles; the real Slack, email and webhook channels are tested against
local servers in tests/notify/."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from perfguard.api.auth import KeyRing
from perfguard.api.notify import notify_alert
from perfguard.bus.cloudevent import Message
from perfguard.bus.memory import MemoryBus
from perfguard.errors import DeliveryError, InvalidRequest
from perfguard.notify.port import AlertEvent, Delivery
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse
from perfguard.warehouse.schema import default_schemas_dir, load_tables, load_views

T0 = dt.datetime(2026, 11, 25, 9, 5, tzinfo=dt.UTC)


@dataclass
class RecordingNotifier:
    name: str
    failures: int = 0
    sent: list[tuple[AlertEvent, Delivery | None]] = field(default_factory=list)

    def send(self, event: AlertEvent, previous: Delivery | None) -> Delivery:
        self.sent.append((event, previous))
        if self.failures:
            self.failures -= 1
            return Delivery(self.name, False, error="HTTP 503")
        return Delivery(self.name, True, reference=f"{self.name}-msg-{len(self.sent)}")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    folder = default_schemas_dir()
    warehouse = DuckDBWarehouse(tmp_path / "n.duckdb", load_tables(folder), load_views(folder, "main"))
    warehouse.ensure_tables()
    yield warehouse
    warehouse.close()


def runtime_with(store: DuckDBWarehouse, *notifiers: RecordingNotifier) -> Runtime:
    return Runtime(Settings(), store, MemoryBus(), KeyRing([]), clock=lambda: T0, notifiers=list(notifiers))


def event(status: str, changed_at: dt.datetime) -> Message:
    data: dict[str, Any] = {
        "id": "alrt_1",
        "alert_type": "threshold_exceeded",
        "rule": "p95_api_latency",
        "metric_type": "api_latency",
        "endpoint_or_operation": "POST /swaps",
        "current_value": 2600.0,
        "threshold_value": 2000.0,
        "severity": "high",
        "status": status,
        "triggered_at": "2026-11-25T09:05:00Z",
        "resolved_at": None if status == "open" else changed_at.isoformat(),
        "changed_at": changed_at.isoformat(),
        "changed_by": "evaluator",
        "context": '{"runbook": "runbooks/p95_api_latency.md"}',
    }
    return Message(data, {"status": status}, "m", changed_at)


def test_each_channel_gets_the_event_and_every_attempt_is_recorded(store: DuckDBWarehouse) -> None:
    slack, mail = RecordingNotifier("slack"), RecordingNotifier("email")
    deliveries = notify_alert(runtime_with(store, slack, mail), event("open", T0))
    assert [d.channel for d in deliveries] == ["slack", "email"] and all(d.ok for d in deliveries)
    assert slack.sent[0][0].subject() == "POST /swaps" and slack.sent[0][0].context["runbook"].endswith(".md")
    rows = store.query("SELECT channel, alert_status, ok, reference FROM alert_notifications ORDER BY channel", {})
    assert [(r["channel"], r["alert_status"], r["ok"], r["reference"]) for r in rows] == [
        ("email", "open", True, "email-msg-1"),
        ("slack", "open", True, "slack-msg-1"),
    ]


def test_a_redelivered_event_is_not_sent_again(store: DuckDBWarehouse) -> None:
    slack = RecordingNotifier("slack")
    runtime = runtime_with(store, slack)
    notify_alert(runtime, event("open", T0))
    assert notify_alert(runtime, event("open", T0)) == [] and len(slack.sent) == 1


def test_a_failing_channel_raises_for_a_retry_that_skips_the_channels_that_succeeded(store: DuckDBWarehouse) -> None:
    slack, hook = RecordingNotifier("slack", failures=1), RecordingNotifier("webhook")
    runtime = runtime_with(store, slack, hook)
    with pytest.raises(DeliveryError, match=r"alert alrt_1 \(open\) not delivered to slack \(HTTP 503\)"):
        notify_alert(runtime, event("open", T0))
    retried = notify_alert(runtime, event("open", T0))
    assert [d.channel for d in retried] == ["slack"] and len(hook.sent) == 1 and len(slack.sent) == 2


def test_the_resolved_event_is_given_the_first_message_to_update(store: DuckDBWarehouse) -> None:
    slack = RecordingNotifier("slack")
    runtime = runtime_with(store, slack)
    notify_alert(runtime, event("open", T0))
    notify_alert(runtime, event("resolved", T0 + dt.timedelta(minutes=9)))
    resolved, previous = slack.sent[1]
    assert resolved.status == "resolved" and previous == Delivery("slack", True, "slack-msg-1")


def test_a_message_that_is_not_an_alert_event_is_refused(store: DuckDBWarehouse) -> None:
    with pytest.raises(InvalidRequest, match="not an alert event"):
        notify_alert(runtime_with(store, RecordingNotifier("slack")), Message({"id": "x"}, {}, "m", T0))
