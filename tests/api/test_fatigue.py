"""Inhibition and flap detection in notify_alert, over a real DuckDB store and recording channels: the alert
rows are appended to performance_alerts as the evaluator does before it publishes each change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfguard.api.auth import KeyRing
from perfguard.api.notify import notify_alert
from perfguard.bus.cloudevent import Message
from perfguard.bus.memory import MemoryBus
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse
from tests.support.doubles import IMMEDIATE, RecordingNotifier, alert_message, embedded_store

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
SWAPS, LISTINGS = "POST /swaps", "GET /listings"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    warehouse = embedded_store(tmp_path / "f.duckdb")
    yield warehouse
    warehouse.close()


def runtime_with(store: DuckDBWarehouse, *notifiers: RecordingNotifier, **settings: Any) -> Runtime:
    return Runtime(
        Settings(**IMMEDIATE, **settings), store, MemoryBus(), KeyRing([]), clock=lambda: T0, notifiers=list(notifiers)
    )


def change(
    store: DuckDBWarehouse,
    alert_id: str,
    status: str,
    minute: int,
    severity: str = "high",
    endpoint: str | None = SWAPS,
    opened: int | None = None,
) -> Message:
    """Append the alert's state change to performance_alerts and return the event the evaluator publishes."""
    at, triggered = T0 + minute * MINUTE, T0 + (minute if opened is None else opened) * MINUTE
    message = alert_message(
        status, at, triggered.isoformat(), id=alert_id, severity=severity, endpoint_or_operation=endpoint
    )
    row = dict(message.data) | {"triggered_at": triggered, "changed_at": at, "resolved_at": None}
    if status in ("resolved", "false_positive"):
        row["resolved_at"] = at
    store.append_rows("performance_alerts", [row])
    return message


def references(store: DuckDBWarehouse, alert_id: str) -> list[tuple[str, str | None]]:
    sql = "SELECT alert_status, reference FROM alert_notifications WHERE alert_id = @id ORDER BY attempted_at"
    return [(r["alert_status"], r["reference"]) for r in store.query(sql, {"id": alert_id})]


def test_a_high_alert_is_inhibited_while_a_critical_one_of_its_endpoint_is_open(store: DuckDBWarehouse) -> None:
    slack, hook = RecordingNotifier("slack"), RecordingNotifier("webhook")
    runtime = runtime_with(store, slack, hook)
    notify_alert(runtime, change(store, "crit", "open", 0, "critical"))
    deliveries = notify_alert(runtime, change(store, "high", "open", 2))
    assert [(d.channel, d.ok, d.reference) for d in deliveries] == [
        ("slack", True, "inhibited:crit"),
        ("webhook", True, "inhibited:crit"),
    ]
    assert [event.id for event, _ in slack.sent] == ["crit"]
    # Its resolution follows the open's fate, even after the critical one resolved.
    notify_alert(runtime, change(store, "crit", "resolved", 5, "critical", opened=0))
    notify_alert(runtime, change(store, "high", "resolved", 7, opened=2))
    assert [(e.id, e.status) for e, _ in slack.sent] == [("crit", "open"), ("crit", "resolved")]
    assert references(store, "high")[-2:] == [("resolved", "inhibited:crit")] * 2


def test_no_inhibition_from_another_endpoint_or_after_the_critical_alert_resolved(store: DuckDBWarehouse) -> None:
    slack = RecordingNotifier("slack")
    runtime = runtime_with(store, slack)
    notify_alert(runtime, change(store, "crit", "open", 0, "critical", endpoint=LISTINGS))
    notify_alert(runtime, change(store, "other", "open", 1))
    notify_alert(runtime, change(store, "crit2", "open", 2, "critical"))
    notify_alert(runtime, change(store, "crit2", "resolved", 3, "critical", opened=2))
    notify_alert(runtime, change(store, "late", "open", 4))
    assert [e.id for e, _ in slack.sent] == ["crit", "other", "crit2", "crit2", "late"]


def test_an_alert_sent_before_the_critical_one_opened_gets_its_resolution(store: DuckDBWarehouse) -> None:
    slack = RecordingNotifier("slack")
    runtime = runtime_with(store, slack)
    notify_alert(runtime, change(store, "high", "open", 0))
    notify_alert(runtime, change(store, "crit", "open", 1, "critical"))
    notify_alert(runtime, change(store, "high", "resolved", 2, opened=0))
    assert [(e.id, e.status) for e, _ in slack.sent] == [("high", "open"), ("crit", "open"), ("high", "resolved")]


def test_inhibition_can_be_turned_off(store: DuckDBWarehouse) -> None:
    slack = RecordingNotifier("slack")
    runtime = runtime_with(store, slack, inhibit_lower_severities="no")
    notify_alert(runtime, change(store, "crit", "open", 0, "critical"))
    notify_alert(runtime, change(store, "high", "open", 1))
    assert [e.id for e, _ in slack.sent] == ["crit", "high"]


def flap(store: DuckDBWarehouse, runtime: Runtime, n: int) -> None:
    """Alert f<n> opens at minute 10 n and resolves 5 minutes later."""
    notify_alert(runtime, change(store, f"f{n}", "open", 10 * n))
    notify_alert(runtime, change(store, f"f{n}", "resolved", 10 * n + 5, opened=10 * n))


def test_a_flapping_alert_is_sent_once_flagged_then_held(store: DuckDBWarehouse) -> None:
    slack = RecordingNotifier("slack")
    runtime = runtime_with(store, slack)
    for n in range(4):  # opens at minutes 0, 10, 20 and 30
        flap(store, runtime, n)
    # The 4th's resolution (minute 35) has 4 openings in the hour before it: the first flapping event.
    assert len(slack.sent) == 8
    flagged = slack.sent[-1][0]
    assert (flagged.id, flagged.status) == ("f3", "resolved")
    assert flagged.context["flapping"] == {"opened": 4, "window_minutes": 60}
    assert all("flapping" not in e.context for e, _ in slack.sent[:-1])
    deliveries = notify_alert(runtime, change(store, "f4", "open", 40))  # the 5th opening: held
    assert [(d.ok, d.reference) for d in deliveries] == [(True, "flapping:4")] and len(slack.sent) == 8
    assert notify_alert(runtime, change(store, "f4", "open", 40)) == []  # a redelivery is not re-sent


def test_a_redelivered_flagged_event_is_not_sent_again(store: DuckDBWarehouse) -> None:
    slack = RecordingNotifier("slack")
    runtime = runtime_with(store, slack)
    for n in range(4):
        flap(store, runtime, n)
    again = alert_message("resolved", T0 + 35 * MINUTE, T0.isoformat(), id="f3")
    assert notify_alert(runtime, again) == [] and len(slack.sent) == 8


def test_flapping_stops_holding_when_the_window_has_fewer_openings(store: DuckDBWarehouse) -> None:
    slack = RecordingNotifier("slack")
    runtime = runtime_with(store, slack, flap_threshold=3, flap_window_minutes=30)
    for n in range(3):
        flap(store, runtime, n)  # opens at 0, 10, 20: the resolution at 25 is the flagged one
    assert "flapping" in slack.sent[-1][0].context
    held = notify_alert(runtime, change(store, "f3", "open", 30))
    assert [d.reference for d in held] == ["flapping:3"]
    calm = notify_alert(runtime, change(store, "f4", "open", 45))  # [15, 45) holds the openings at 20 and 30
    assert [d.reference for d in calm] == ["slack-msg-7"] and "flapping" not in slack.sent[-1][0].context


def test_another_endpoint_or_rule_is_not_flapping(store: DuckDBWarehouse) -> None:
    slack = RecordingNotifier("slack")
    runtime = runtime_with(store, slack)
    for n in range(4):
        flap(store, runtime, n)
    notify_alert(runtime, change(store, "elsewhere", "open", 40, endpoint=LISTINGS))
    notify_alert(runtime, change(store, "overall", "open", 41, endpoint=None))
    assert [e.id for e, _ in slack.sent[-2:]] == ["elsewhere", "overall"]
