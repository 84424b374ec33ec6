"""notify_alert over a real DuckDB store: every channel gets each state change once, a resolved alert
updates the first message, and a failing channel makes the bus try again without re-sending to the others.
The channels here are recording doubles; the real Slack, email and webhook channels are tested against
local servers in tests/notify/."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfguard.api.auth import KeyRing
from perfguard.api.notify import notify_alert
from perfguard.bus.cloudevent import Message
from perfguard.bus.memory import MemoryBus
from perfguard.errors import DeliveryError, InvalidRequest
from perfguard.notify.port import Delivery
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse
from tests.support.doubles import IMMEDIATE, RecordingNotifier, alert_message, embedded_store

T0 = dt.datetime(2026, 11, 25, 9, 5, tzinfo=dt.UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    warehouse = embedded_store(tmp_path / "n.duckdb")
    yield warehouse
    warehouse.close()


def runtime_with(store: DuckDBWarehouse, *notifiers: RecordingNotifier) -> Runtime:
    return Runtime(Settings(**IMMEDIATE), store, MemoryBus(), KeyRing([]), clock=lambda: T0, notifiers=list(notifiers))


def event(status: str, changed_at: dt.datetime) -> Message:
    runbook = '{"runbook": "runbooks/p95_api_latency.md"}'
    return alert_message(status, changed_at, "2026-11-25T09:05:00Z", context=runbook)


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


def test_a_rule_route_limits_the_channels(store: DuckDBWarehouse) -> None:
    slack, mail, hook = RecordingNotifier("slack"), RecordingNotifier("email"), RecordingNotifier("webhook-2")
    runtime = runtime_with(store, slack, mail, hook)
    (rule,) = [r for r in runtime.threshold_rules() if r.name == "p95_api_latency"]
    runtime.rules = [dataclasses.replace(rule, route=("email", "webhook"))]
    deliveries = notify_alert(runtime, event("open", T0))
    assert [d.channel for d in deliveries] == ["email", "webhook-2"] and slack.sent == []
