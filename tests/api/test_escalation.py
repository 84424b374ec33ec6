"""escalate_alerts over a real DuckDB store with a fake clock: an open alert escalates once after
escalation_after_minutes, never once acknowledged, a critical one at once, and a failing channel is recorded
and retried on the next tick (only that channel). The channels are recording doubles as in test_notify.py."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from perfguard.api.alert_status import change_status
from perfguard.api.auth import KeyRing
from perfguard.api.escalation import escalate_alerts
from perfguard.bus.memory import MemoryBus
from perfguard.notify.email import EmailNotifier, SmtpConfig
from perfguard.notify.message import email_content, slack_message
from perfguard.notify.port import AlertEvent, Delivery
from perfguard.notify.runbook import Guidance
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse
from tests.support.doubles import RecordingNotifier, embedded_store

T0 = dt.datetime(2026, 11, 25, 9, 5, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
MENTION = "<!subteam^S0ONCALL>"


@dataclass
class Clock:
    now: dt.datetime = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    warehouse = embedded_store(tmp_path / "e.duckdb")
    yield warehouse
    warehouse.close()


def runtime_with(store: DuckDBWarehouse, clock: Clock, *notifiers: RecordingNotifier) -> Runtime:
    settings = Settings(escalation_mention=MENTION)
    return Runtime(settings, store, MemoryBus(), KeyRing([]), clock=clock, notifiers=list(notifiers))


def open_alert(store: DuckDBWarehouse, alert_id: str = "alrt_1", severity: str = "high") -> None:
    row: dict[str, Any] = {
        "id": alert_id,
        "alert_type": "threshold_exceeded",
        "rule": "p95_api_latency",
        "metric_type": "api_latency",
        "endpoint_or_operation": "POST /swaps",
        "current_value": 2600.0,
        "threshold_value": 2000.0,
        "severity": severity,
        "status": "open",
        "context": json.dumps({"statistic": "p95", "comparator": ">"}),
        "triggered_at": T0,
        "resolved_at": None,
        "changed_at": T0,
        "changed_by": "evaluator",
    }
    store.append_rows("performance_alerts", [row])


def escalations(store: DuckDBWarehouse) -> list[tuple[Any, ...]]:
    sql = "SELECT alert_id, level, escalated_at, channels, ok, error FROM alert_escalations ORDER BY escalated_at"
    return [tuple(row.values()) for row in store.query(sql, {})]


def tick(runtime: Runtime, clock: Clock, minutes: float) -> list[dict[str, Any]]:
    clock.now = T0 + minutes * MINUTE
    return escalate_alerts(runtime)


def test_an_open_alert_escalates_once_after_15_minutes(store: DuckDBWarehouse) -> None:
    clock, slack, mail = Clock(), RecordingNotifier("slack"), RecordingNotifier("email")
    runtime = runtime_with(store, clock, slack, mail)
    open_alert(store)
    assert [tick(runtime, clock, m) for m in (1, 14)] == [[], []] and not slack.sent
    assert len(tick(runtime, clock, 15)) == 1
    assert [len(tick(runtime, clock, m)) for m in (16, 60)] == [0, 0]
    assert len(slack.sent) == len(mail.sent) == 1
    event, previous = slack.sent[0]
    assert previous is None  # a new message, so the mention notifies
    assert event.id == "alrt_1" and event.status == "open"
    assert event.context["escalation"] == {"level": 1, "mention": MENTION, "unacknowledged_minutes": 15}
    assert escalations(store) == [("alrt_1", 1, T0 + 15 * MINUTE, "slack,email", True, None)]


def test_the_messages_show_the_escalation_and_the_mention_at_the_top(store: DuckDBWarehouse) -> None:
    clock, slack = Clock(), RecordingNotifier("slack")
    runtime = runtime_with(store, clock, slack)
    open_alert(store)
    tick(runtime, clock, 17)
    event = slack.sent[0][0]
    guidance = Guidance("runbooks/p95_api_latency.md", (), ())
    message = slack_message(event, guidance)
    assert message.text.startswith(f"{MENTION} ESCALATED (level 1): not acknowledged for 17 min")
    assert message.blocks[0]["text"]["text"] == f"{MENTION} *ESCALATED (level 1): not acknowledged for 17 min*"
    mail = email_content(event, guidance)
    assert mail.subject.startswith("[perfguard] ESCALATED (level 1) [HIGH]")
    assert mail.body.startswith("ESCALATED (level 1): not acknowledged for 17 min\n")


def test_an_acknowledged_alert_does_not_escalate_until_handed_back(store: DuckDBWarehouse) -> None:
    clock, slack = Clock(), RecordingNotifier("slack")
    runtime = runtime_with(store, clock, slack)
    open_alert(store)
    clock.now = T0 + 5 * MINUTE
    change_status(runtime, "alrt_1", "investigating", "slack:U1")
    assert tick(runtime, clock, 30) == [] and not slack.sent
    clock.now = T0 + 40 * MINUTE
    change_status(runtime, "alrt_1", "open", "slack:U1")  # handed back: the clock restarts
    assert tick(runtime, clock, 54) == [] and not slack.sent
    assert len(tick(runtime, clock, 55)) == 1 and slack.sent[0][0].context["escalation"]["unacknowledged_minutes"] == 15


def test_a_resolved_alert_does_not_escalate(store: DuckDBWarehouse) -> None:
    clock, slack = Clock(), RecordingNotifier("slack")
    runtime = runtime_with(store, clock, slack)
    open_alert(store)
    clock.now = T0 + 3 * MINUTE
    change_status(runtime, "alrt_1", "resolved", "api:ops")
    assert tick(runtime, clock, 30) == [] and not slack.sent


def test_a_critical_alert_escalates_at_once(store: DuckDBWarehouse) -> None:
    clock, slack = Clock(), RecordingNotifier("slack")
    runtime = runtime_with(store, clock, slack)
    open_alert(store, "alrt_crit", severity="critical")
    open_alert(store, "alrt_high")
    assert [row["alert_id"] for row in tick(runtime, clock, 0)] == ["alrt_crit"]
    assert [e.id for e, _ in slack.sent] == ["alrt_crit"]


def test_a_failing_channel_is_recorded_and_retried_alone_on_the_next_tick(store: DuckDBWarehouse) -> None:
    clock = Clock()
    slack, mail = RecordingNotifier("slack", failures=1), RecordingNotifier("email")
    runtime = runtime_with(store, clock, slack, mail)
    open_alert(store)
    open_alert(store, "alrt_2")
    first = tick(runtime, clock, 15)  # no exception: the tick goes on
    assert [(r["alert_id"], r["ok"]) for r in first] == [("alrt_1", False), ("alrt_2", True)]
    second = tick(runtime, clock, 16)
    assert [(r["alert_id"], r["ok"], r["channels"]) for r in second] == [("alrt_1", True, "slack")]
    assert tick(runtime, clock, 17) == []
    assert [e.id for e, _ in slack.sent] == ["alrt_1", "alrt_2", "alrt_1"]
    assert [e.id for e, _ in mail.sent] == ["alrt_1", "alrt_2"]  # the email was not sent twice
    assert escalations(store) == [
        ("alrt_1", 1, T0 + 15 * MINUTE, "email", False, "slack: HTTP 503"),
        ("alrt_2", 1, T0 + 15 * MINUTE, "slack,email", True, None),
        ("alrt_1", 1, T0 + 16 * MINUTE, "slack", True, None),
    ]


def test_a_raising_channel_does_not_stop_the_others(store: DuckDBWarehouse) -> None:
    class Broken(RecordingNotifier):
        def send(self, event: AlertEvent, previous: Delivery | None) -> Delivery:
            raise RuntimeError("boom")

    clock, mail = Clock(), RecordingNotifier("email")
    runtime = runtime_with(store, clock, Broken("slack"), mail)
    open_alert(store)
    rows = tick(runtime, clock, 15)
    assert rows[0]["ok"] is False and rows[0]["error"] == "slack: RuntimeError: boom" and len(mail.sent) == 1


def test_a_silenced_alert_is_not_escalated(store: DuckDBWarehouse) -> None:
    clock, slack = Clock(), RecordingNotifier("slack")
    runtime = runtime_with(store, clock, slack)
    open_alert(store)
    silence = {
        "id": "sil_1",
        "matchers": json.dumps([{"label": "alertname", "op": "=", "value": "p95_api_latency"}]),
        "starts_at": T0,
        "ends_at": T0 + 60 * MINUTE,
        "created_by": "api:ops",
        "comment": "deploy",
        "changed_at": T0,
        "changed_by": "api:ops",
    }
    store.append_rows("alert_silences", [silence])
    assert tick(runtime, clock, 20) == [] and not slack.sent
    assert len(tick(runtime, clock, 61)) == 1


def test_escalation_email_goes_to_smtp_to_and_escalation_email_to(store: DuckDBWarehouse) -> None:
    config = SmtpConfig("smtp.local", recipients=("team@x.io",), escalation_recipients=("oncall@x.io", "team@x.io"))
    email = EmailNotifier(config, lambda _event: Guidance("runbooks/p95_api_latency.md"))
    clock, slack = Clock(), RecordingNotifier("slack")
    open_alert(store)
    tick(runtime_with(store, clock, slack), clock, 15)
    escalated = slack.sent[0][0]
    plain = AlertEvent.from_message({**escalated.__dict__, "context": {}})
    assert email.recipients(escalated) == ["team@x.io", "oncall@x.io"] and email.recipients(plain) == ["team@x.io"]
    assert email.compose(escalated, None)["To"] == "team@x.io, oncall@x.io"
