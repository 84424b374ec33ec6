"""Notification groups with Alertmanager's timers (group_wait 30 s, group_interval 5 min, repeat_interval 4 h):
alert changes recorded in a real DuckDB store, notify_alert fed their events and the one-minute ticks, a
fake clock. The channels are recording doubles (the real ones are tested in tests/notify/)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfguard.api.auth import KeyRing
from perfguard.api.notify import notify_alert
from perfguard.bus.cloudevent import Message
from perfguard.bus.memory import MemoryBus
from perfguard.domain.timestamps import format_rfc3339
from perfguard.notify.runbook import RunbookLibrary
from perfguard.notify.slack import SlackNotifier
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from tests.support.doubles import RecordingNotifier, embedded_store
from tests.support.slack_receiver import slack_receiver

T0 = dt.datetime(2026, 11, 26, 10, 0, 5, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)


@dataclasses.dataclass
class World:
    runtime: Runtime
    slack: RecordingNotifier
    now: dt.datetime = T0

    def at(self, moment: dt.datetime) -> None:
        self.now = moment

    def change(self, endpoint: str, status: str, rule: str = "p95_api_latency", severity: str = "high") -> Message:
        """Record an alert state change of `endpoint` now, as the evaluator does, and return its event."""
        row: dict[str, Any] = {
            "id": f"alrt_{rule}_{endpoint}", "alert_type": "threshold_exceeded", "rule": rule,
            "metric_type": "api_latency", "endpoint_or_operation": endpoint, "current_value": 2600.0,
            "threshold_value": 2000.0, "severity": severity, "status": status, "context": "{}",
            "triggered_at": T0, "resolved_at": self.now if status == "resolved" else None,
            "changed_at": self.now, "changed_by": "evaluator",
        }  # fmt: skip
        self.runtime.warehouse.append_rows("performance_alerts", [row])
        data = {k: format_rfc3339(v) if isinstance(v, dt.datetime) else v for k, v in row.items()}
        return Message(data, {"status": status}, "1", self.now)

    def tick(self) -> list[tuple[str, str]]:
        """The one-minute tick; what it sent (endpoint, status)."""
        before = len(self.slack.sent)
        notify_alert(self.runtime, Message({"job": "evaluate_thresholds"}, {}, "t", self.now))
        return self.sent_since(before)

    def push(self, message: Message) -> list[tuple[str, str]]:
        before = len(self.slack.sent)
        notify_alert(self.runtime, message)
        return self.sent_since(before)

    def sent_since(self, before: int) -> list[tuple[str, str]]:
        return [(event.subject(), event.status) for event, _ in self.slack.sent[before:]]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    store = embedded_store(tmp_path / "g.duckdb")
    slack = RecordingNotifier("slack")
    holder: list[World] = []
    settings = Settings(data_dir=str(tmp_path), inhibit_lower_severities="no", flap_threshold=0)
    runtime = Runtime(settings, store, MemoryBus(), KeyRing([]), clock=lambda: holder[0].now, notifiers=[slack])
    holder.append(World(runtime, slack))
    yield holder[0]
    store.close()


def test_a_new_group_waits_group_wait_then_goes_out_together(world: World) -> None:
    first, second = world.change("POST /swaps", "open"), world.change("GET /listings", "open")
    assert world.push(first) == [] and world.push(second) == []  # group_wait: 30 s from the first change
    world.at(T0 + 29 * SECOND)
    assert world.tick() == []
    world.at(T0 + 55 * SECOND)  # the first tick after group_wait
    assert sorted(world.tick()) == [("GET /listings", "open"), ("POST /swaps", "open")]
    assert world.tick() == []  # sent once


def test_later_changes_of_a_notified_group_wait_for_group_interval(world: World) -> None:
    world.change("POST /swaps", "open")
    world.at(T0 + 60 * SECOND)
    assert world.tick() == [("POST /swaps", "open")]
    world.at(T0 + 120 * SECOND)
    assert world.push(world.change("GET /listings", "open")) == []  # 1 min after the last notification
    world.at(T0 + 4 * 60 * SECOND)
    resolved = world.change("POST /swaps", "resolved")
    assert world.push(resolved) == [] and world.tick() == []
    world.at(T0 + 6 * 60 * SECOND)  # group_interval (5 min) after the notification at T0 + 60 s
    assert world.tick() == [("GET /listings", "open"), ("POST /swaps", "resolved")]


def test_an_alert_resolved_within_group_wait_is_never_sent(world: World) -> None:
    world.change("POST /swaps", "open")
    world.at(T0 + 20 * SECOND)
    world.change("POST /swaps", "resolved")
    world.at(T0 + 60 * SECOND)
    assert world.tick() == []
    rows = world.runtime.warehouse.query("SELECT alert_status, ok, reference FROM alert_notifications ORDER BY 1", {})
    assert [(r["alert_status"], r["ok"], r["reference"]) for r in rows] == [
        ("open", True, "grouped:closed before its group was notified"),
        ("resolved", True, "grouped:closed before its group was notified"),
    ]


def test_groups_are_separate_by_the_group_by_labels(world: World) -> None:
    world.runtime.settings = dataclasses.replace(world.runtime.settings, group_by=("alertname", "endpoint"))
    world.change("POST /swaps", "open")
    world.at(T0 + 60 * SECOND)
    assert world.tick() == [("POST /swaps", "open")]
    world.at(T0 + 90 * SECOND)
    world.change("GET /listings", "open")  # its own group: group_wait, not POST /swaps's group_interval
    world.at(T0 + 120 * SECOND)
    assert world.tick() == [("GET /listings", "open")]


def test_a_group_still_firing_is_reminded_after_repeat_interval(world: World) -> None:
    world.change("POST /swaps", "open")
    world.at(T0 + 60 * SECOND)
    assert world.tick() == [("POST /swaps", "open")]
    world.at(T0 + dt.timedelta(hours=4, seconds=59))
    assert world.tick() == []
    world.at(T0 + dt.timedelta(hours=4, minutes=1))
    assert world.tick() == [("POST /swaps", "open")]
    event, previous = world.slack.sent[-1]
    assert event.context["reminder"] is True and previous is None  # a new message, not an update
    world.at(T0 + dt.timedelta(hours=4, minutes=2))
    assert world.tick() == []  # the next one 4 h later


def test_a_channel_that_failed_is_tried_again_at_the_next_tick(world: World) -> None:
    world.slack.failures = 1
    world.change("POST /swaps", "open")
    world.at(T0 + 60 * SECOND)
    assert world.tick() == [("POST /swaps", "open")]  # attempted, failed
    world.at(T0 + 120 * SECOND)
    assert world.tick() == [("POST /swaps", "open")]  # nothing went out, so the group is still new and due
    oks = world.runtime.warehouse.query("SELECT COUNT(*) AS n FROM alert_notifications WHERE ok", {})
    assert oks == [{"n": 1}]


def test_with_the_timers_off_the_tick_sends_nothing(world: World) -> None:
    world.runtime.settings = dataclasses.replace(world.runtime.settings, group_wait_seconds=0,
                                                 group_interval_seconds=0)  # fmt: skip
    assert world.push(world.change("POST /swaps", "open")) == [("POST /swaps", "open")]
    world.at(T0 + 60 * SECOND)
    assert world.tick() == []


def test_an_alert_a_channel_already_showed_gets_its_resolution_there(world: World) -> None:
    mail = RecordingNotifier("email", failures=1)
    world.runtime.notifiers = [world.slack, mail]
    world.change("POST /swaps", "open")
    world.at(T0 + 60 * SECOND)
    world.tick()  # Slack takes it, email fails
    world.at(T0 + 70 * SECOND)
    world.change("POST /swaps", "resolved")
    world.at(T0 + 6 * 60 * SECOND)
    assert world.tick() == [("POST /swaps", "resolved")]  # Slack's message is closed, not left open
    assert [(e.subject(), e.status) for e, _ in mail.sent] == [("POST /swaps", "open"), ("POST /swaps", "open"),
                                                               ("POST /swaps", "resolved")]  # fmt: skip


def test_alerts_opened_together_make_one_slack_message_and_a_thread(world: World) -> None:
    """The real slack-sdk against a local Slack API (tests/support/slack_receiver.py)."""
    library = RunbookLibrary(Path(__file__).resolve().parents[2] / "runbooks", "")
    with slack_receiver() as api:
        world.runtime.notifiers = [
            SlackNotifier(library.for_event, bot_token=api.token, channel="#alerts", api_url=api.api_url)
        ]
        for endpoint in ("POST /swaps", "GET /listings", "POST /offers"):
            world.change(endpoint, "open")
        world.at(T0 + 60 * SECOND)
        world.tick()
        ts = message_ts(world)  # alerts go out oldest first, then by id: GET /listings leads
        posts = [call.payload() for call in api.of("chat.postMessage")]
        assert [p.get("thread_ts") for p in posts] == [None, ts["GET /listings"], ts["GET /listings"]]
        assert "3 alerts of p95_api_latency opened together" in json.dumps(posts[0]["blocks"])

        world.at(T0 + 7 * 60 * SECOND)
        world.change("POST /swaps", "resolved")
        world.at(T0 + 13 * 60 * SECOND)
        world.tick()
        (update,) = [call.payload() for call in api.of("chat.update")]
        assert update["ts"] == ts["POST /swaps"] != ts["GET /listings"]  # its own message in the thread


def message_ts(world: World) -> dict[str, str]:
    """Each alert's Slack message ts (alert ids are alrt_<rule>_<endpoint> here)."""
    rows = world.runtime.warehouse.query("SELECT alert_id, reference FROM alert_notifications WHERE ok", {})
    return {row["alert_id"].split("_", 5)[-1]: row["reference"].partition(":")[2] for row in rows}
