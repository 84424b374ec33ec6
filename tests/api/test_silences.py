"""Silences over HTTP and their effect on notify_alert: over a real DuckDB store, real werkzeug requests and
recording notifier doubles (the real channels are tested against local servers in tests/notify/)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from perfguard.api.auth import ADMIN, INGEST, READ, KeyRing, key
from perfguard.api.notify import notify_alert
from perfguard.api.responses import handle_errors
from perfguard.api.silences import create_silence, expire_silence, get_silences
from perfguard.bus.cloudevent import Message
from perfguard.bus.memory import MemoryBus
from perfguard.errors import DeliveryError
from perfguard.notify.port import Delivery
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from tests.support.doubles import IMMEDIATE, RecordingNotifier, alert_message, embedded_store

NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
KEYS = KeyRing([key("ops", "ops-key", [ADMIN]), key("dash", "dash-key", [READ]), key("gw", "gw-key", [INGEST])])
SWAPS = {"label": "endpoint", "op": "=", "value": "POST /swaps"}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class World:
    runtime: Runtime
    clock: Clock
    slack: RecordingNotifier
    hook: RecordingNotifier

    def rows(self) -> list[dict[str, Any]]:
        return self.runtime.warehouse.query("SELECT * FROM alert_silences ORDER BY changed_at", {})

    def notifications(self) -> list[tuple[str, str, bool, str | None, str | None]]:
        sql = "SELECT * FROM alert_notifications ORDER BY attempted_at, channel"
        rows = self.runtime.warehouse.query(sql, {})
        return [(r["channel"], r["alert_status"], r["ok"], r["reference"], r["error"]) for r in rows]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    store = embedded_store(tmp_path / "s.duckdb")
    clock, slack, hook = Clock(), RecordingNotifier("slack"), RecordingNotifier("webhook")
    runtime = Runtime(
        Settings(data_dir=str(tmp_path), **IMMEDIATE), store, MemoryBus(), KEYS, clock=clock, notifiers=[slack, hook]
    )
    yield World(runtime, clock, slack, hook)
    store.close()


def call(handler: Callable[[Runtime, Request], Response], world: World, request: Request) -> tuple[int, Any]:
    """Call a handler as functions/main.py does (through handle_errors); the status and the JSON body."""
    response = handle_errors(handler)(world.runtime, request)
    return response.status_code, json.loads(response.get_data())


def post(
    handler: Callable[[Runtime, Request], Response], world: World, body: Any, api_key: str | None = "ops-key"
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    request = EnvironBuilder(method="POST", path="/silences", json=body, headers=headers).get_request()
    return call(handler, world, request)


def create(world: World, **body: Any) -> dict[str, Any]:
    """A silence created through the API (by default: POST /swaps for an hour); its JSON."""
    status, answer = post(create_silence, world, {"matchers": [SWAPS], "duration_minutes": 60, "comment": "x"} | body)
    assert status == 200, answer
    return dict(answer["silence"])


def listing(world: World, api_key: str = "dash-key", **query: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {api_key}"}
    request = EnvironBuilder(method="GET", path="/get_silences", query_string=query, headers=headers).get_request()
    return call(get_silences, world, request)


def at(minutes: int) -> str:
    return (NOW + minutes * MINUTE).isoformat().replace("+00:00", "Z")


# --- create_silence ----------------------------------------------------------------------------------------


def test_a_silence_is_created_by_the_key_and_recorded(world: World) -> None:
    body = {"matchers": [SWAPS], "duration_minutes": 120, "comment": "ledger upgrade, ask ann@example.com"}
    status, answer = post(create_silence, world, body)
    assert status == 200
    silence = answer["silence"]
    assert re.fullmatch(r"slnc_[0-9a-f]{20}", silence["id"])
    assert silence == {
        "id": silence["id"],
        "state": "active",
        "matchers": [SWAPS],
        "starts_at": "2026-11-26T10:00:00Z",
        "ends_at": "2026-11-26T12:00:00Z",
        "changed_at": "2026-11-26T10:00:00Z",
        "created_by": "api:ops",
        "comment": "ledger upgrade, ask [email]",
        "changed_by": "api:ops",
    }
    [row] = world.rows()
    assert (row["id"], row["starts_at"], row["ends_at"], row["changed_by"]) == (
        silence["id"],
        NOW,
        NOW + 120 * MINUTE,
        "api:ops",
    )
    assert json.loads(row["matchers"]) == [SWAPS]


def test_each_silence_gets_its_own_id(world: World) -> None:
    assert create(world)["id"] != create(world)["id"]


def test_a_silence_can_start_later_and_end_at_a_time(world: World) -> None:
    silence = create(world, starts_at=at(30), ends_at=at(90), duration_minutes=None)
    assert (silence["state"], silence["starts_at"], silence["ends_at"]) == ("pending", at(30), at(90))


def test_a_start_in_the_past_is_now(world: World) -> None:
    silence = create(world, starts_at=at(-30), duration_minutes=10)
    assert (silence["starts_at"], silence["ends_at"]) == (at(0), at(10))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"matchers": None}, "matchers is required"),
        ({"matchers": []}, "matchers is required"),
        ({"matchers": [{"label": "endpoint", "op": "=~", "value": "("}]}, "matchers[0]: value '(' is not a valid"),
        ({"matchers": [{"label": "endpoint", "op": "=~", "value": ".*"}]}, "at least one matcher must not match"),
        ({"matchers": [{"label": "end point", "op": "=", "value": "x"}]}, "label 'end point' is not a label name"),
        ({"ends_at": at(60)}, "give ends_at or duration_minutes, not both"),
        ({"duration_minutes": None}, "ends_at (RFC 3339 or integer nanoseconds) or duration_minutes is required"),
        ({"duration_minutes": 0}, "duration_minutes must be between 1 and"),
        ({"duration_minutes": "soon"}, "duration_minutes must be an integer"),
        ({"duration_minutes": 30 * 24 * 60 + 1}, "a silence lasts at most 30 d; this one would last 30 d 1 min"),
        ({"duration_minutes": None, "ends_at": at(-1)}, "is not in the future"),
        ({"duration_minutes": None, "ends_at": 1_764_151_200}, "ends_at: "),  # seconds, not nanoseconds
        ({"starts_at": "tomorrow"}, "starts_at: "),
        ({"comment": None}, "comment is required"),
        ({"comment": ""}, "comment is required"),
    ],
)
def test_a_bad_silence_is_400_saying_what_is_wrong(world: World, changes: dict[str, Any], message: str) -> None:
    body = {"matchers": [SWAPS], "duration_minutes": 60, "comment": "x"} | changes
    status, answer = post(create_silence, world, {k: v for k, v in body.items() if v is not None})
    assert status == 400 and message in answer["error"]["message"], answer
    assert world.rows() == []


def test_the_body_must_be_an_object(world: World) -> None:
    status, answer = post(create_silence, world, [SWAPS])
    assert status == 400 and "the JSON body must be an object" in answer["error"]["message"]


def test_creating_must_be_a_post(world: World) -> None:
    query = {"matchers": "x", "duration_minutes": "60", "comment": "x"}
    headers = {"Authorization": "Bearer ops-key"}
    request = EnvironBuilder(method="GET", path="/", query_string=query, headers=headers).get_request()
    status, answer = call(create_silence, world, request)
    assert status == 400 and "create_silence takes a POST" in answer["error"]["message"] and world.rows() == []


@pytest.mark.parametrize(("api_key", "status"), [(None, 401), ("wrong-key", 401), ("dash-key", 403), ("gw-key", 403)])
def test_silencing_and_expiring_need_an_admin_key(world: World, api_key: str | None, status: int) -> None:
    code, answer = post(create_silence, world, {"matchers": [SWAPS], "duration_minutes": 60, "comment": "x"}, api_key)
    assert code == status
    silence_id = create(world)["id"]
    code, answer = post(expire_silence, world, {"id": silence_id}, api_key)
    assert code == status
    if status == 403:
        assert "lacks the 'admin' scope" in answer["error"]["message"]
    assert len(world.rows()) == 1


# --- get_silences ------------------------------------------------------------------------------------------


def test_get_silences_lists_active_and_pending_ones_by_default_and_all_on_request(world: World) -> None:
    ended = create(world, duration_minutes=5)
    active = create(world, duration_minutes=60)
    pending = create(world, starts_at=at(30), duration_minutes=10)
    expired = create(world, duration_minutes=120)
    assert post(expire_silence, world, {"id": expired["id"]})[0] == 200
    world.clock.now = NOW + 10 * MINUTE
    status, answer = listing(world)
    assert status == 200 and answer["state"] == "active"
    assert [(s["id"], s["state"]) for s in answer["silences"]] == [(pending["id"], "pending"), (active["id"], "active")]
    status, answer = listing(world, state="all")
    assert status == 200 and answer["state"] == "all"
    assert [(s["id"], s["state"]) for s in answer["silences"]] == [
        (expired["id"], "expired"),
        (ended["id"], "expired"),
        (pending["id"], "pending"),
        (active["id"], "active"),
    ]


def test_get_silences_refuses_an_unknown_state_and_needs_the_read_scope(world: World) -> None:
    status, answer = listing(world, state="expired")
    assert (
        status == 400 and "state must be active (the default: active or pending) or all" in answer["error"]["message"]
    )
    assert listing(world, "gw-key")[0] == 403
    assert listing(world, "ops-key") == (200, {"state": "active", "silences": []})


# --- expire_silence ----------------------------------------------------------------------------------------


def test_expiring_a_silence_ends_it_now(world: World) -> None:
    silence = create(world)
    world.clock.now = NOW + 15 * MINUTE
    status, answer = post(expire_silence, world, {"id": silence["id"]})
    assert status == 200
    assert answer["silence"] == silence | {
        "state": "expired",
        "ends_at": at(15),
        "changed_at": at(15),
        "changed_by": "api:ops",
    }
    assert [row["ends_at"] for row in world.rows()] == [NOW + 60 * MINUTE, NOW + 15 * MINUTE]
    assert listing(world)[1]["silences"] == []


def test_expiring_a_pending_silence_means_it_never_starts(world: World) -> None:
    silence = create(world, starts_at=at(30))
    status, answer = post(expire_silence, world, {"id": silence["id"]})
    assert status == 200 and (answer["silence"]["starts_at"], answer["silence"]["ends_at"]) == (at(0), at(0))
    assert answer["silence"]["state"] == "expired"


def test_expiring_twice_is_400_and_an_unknown_silence_404(world: World) -> None:
    silence = create(world)
    assert post(expire_silence, world, {"id": silence["id"]})[0] == 200
    status, answer = post(expire_silence, world, {"id": silence["id"]})
    assert status == 400 and answer["error"]["message"] == f"silence {silence['id']} already expired at {at(0)}"
    status, answer = post(expire_silence, world, {"id": "slnc_0123"})
    assert status == 404 and answer["error"] == {"code": "not_found", "message": "no silence with id 'slnc_0123'"}
    assert len(world.rows()) == 2


@pytest.mark.parametrize("body", [{}, {"id": 7}, {"id": "alrt_0123"}, {"id": "slnc_x' OR 1=1"}])
def test_expiring_needs_a_silence_id(world: World, body: dict[str, Any]) -> None:
    status, answer = post(expire_silence, world, body)
    assert status == 400 and answer["error"]["message"].startswith("id is required: the id of a silence")


# --- notify_alert under silences --------------------------------------------------------------------------


def alert_event(status: str, changed_at: dt.datetime, **changes: Any) -> Message:
    """An alert state change as the evaluator publishes it: high latency on POST /swaps, rule p95_api_latency."""
    return alert_message(status, changed_at, "2026-11-26T09:55:00Z", **changes)


def test_a_silenced_change_is_sent_nowhere_and_recorded_as_done_per_channel(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    silence_id = create(world)["id"]
    with caplog.at_level(logging.INFO, logger="perfguard.api.delivery"):
        deliveries = notify_alert(world.runtime, alert_event("open", NOW + MINUTE))
    reference = f"silenced:{silence_id}"
    assert deliveries == [Delivery("slack", True, reference), Delivery("webhook", True, reference)]
    assert world.slack.sent == [] and world.hook.sent == []
    assert world.notifications() == [
        ("slack", "open", True, reference, None),
        ("webhook", "open", True, reference, None),
    ]
    assert f"alert alrt_1 (open) silenced by {silence_id}: not sent to slack, webhook" in caplog.messages
    # A redelivery of the event finds it done: nothing sent, nothing recorded.
    assert notify_alert(world.runtime, alert_event("open", NOW + MINUTE)) == []
    assert world.slack.sent == [] and len(world.notifications()) == 2


@pytest.mark.parametrize(
    "matchers",
    [
        [{"label": "alertname", "op": "=", "value": "p95_api_latency"}],
        [
            {"label": "severity", "op": "=~", "value": "high|critical"},
            {"label": "metric_type", "op": "=", "value": "api_latency"},
        ],
        [{"label": "endpoint", "op": "=~", "value": "POST /.*"}, {"label": "team", "op": "!=", "value": "growth"}],
        [
            {"label": "severity", "op": "!~", "value": "low|medium"},
            {"label": "alertname", "op": "=~", "value": "p95_.+"},
        ],
    ],
)
def test_a_silence_mutes_on_the_alerts_labels(world: World, matchers: list[dict[str, str]]) -> None:
    create(world, matchers=matchers)
    notify_alert(world.runtime, alert_event("open", NOW + MINUTE))
    assert world.slack.sent == [] and all(str(row[3]).startswith("silenced:") for row in world.notifications())


@pytest.mark.parametrize(
    "matchers",
    [
        [{"label": "endpoint", "op": "=", "value": "GET /listings"}],
        [SWAPS, {"label": "severity", "op": "=", "value": "critical"}],  # every matcher must match
        [{"label": "endpoint", "op": "=~", "value": "POST"}],  # a regex matches the whole value
        [{"label": "team", "op": "=", "value": "payments"}],  # the alert has no team label: it is empty
    ],
)
def test_a_silence_that_does_not_match_changes_nothing(world: World, matchers: list[dict[str, str]]) -> None:
    create(world, matchers=matchers)
    deliveries = notify_alert(world.runtime, alert_event("open", NOW + MINUTE))
    assert [(d.channel, d.reference) for d in deliveries] == [("slack", "slack-msg-1"), ("webhook", "webhook-msg-1")]
    assert len(world.slack.sent) == 1 and len(world.hook.sent) == 1


def test_an_overall_alert_has_the_endpoint_label_of_all_endpoints(world: World) -> None:
    create(world, matchers=[{"label": "endpoint", "op": "=", "value": "(all endpoints)"}])
    notify_alert(world.runtime, alert_event("open", NOW + MINUTE, id="alrt_overall", endpoint_or_operation=None))
    notify_alert(world.runtime, alert_event("open", NOW + MINUTE))
    assert [event.id for event, _ in world.slack.sent] == ["alrt_1"]


def test_the_silence_is_judged_at_the_time_of_the_change(world: World) -> None:
    """Before the silence starts and from its end on, changes are sent; a change made while it was active
    stays muted even when the event is handled (or redelivered) after the silence was expired."""
    create(world, starts_at=at(10), duration_minutes=20)
    notify_alert(world.runtime, alert_event("open", NOW + 9 * MINUTE, id="alrt_before"))
    notify_alert(world.runtime, alert_event("open", NOW + 30 * MINUTE, id="alrt_after"))
    assert [event.id for event, _ in world.slack.sent] == ["alrt_before", "alrt_after"]
    silence_id = create(world, starts_at=at(40))["id"]
    world.clock.now = NOW + 50 * MINUTE
    assert post(expire_silence, world, {"id": silence_id})[0] == 200
    deliveries = notify_alert(world.runtime, alert_event("open", NOW + 45 * MINUTE, id="alrt_during"))
    assert [d.reference for d in deliveries] == [f"silenced:{silence_id}"] * 2
    notify_alert(world.runtime, alert_event("open", NOW + 50 * MINUTE, id="alrt_at_expiry"))
    assert [event.id for event, _ in world.slack.sent][-1] == "alrt_at_expiry"


def test_a_resolution_after_a_muted_opening_is_a_new_message_not_an_update(world: World) -> None:
    silence_id = create(world, duration_minutes=10)["id"]
    notify_alert(world.runtime, alert_event("open", NOW + MINUTE))
    world.clock.now = NOW + 20 * MINUTE
    notify_alert(world.runtime, alert_event("resolved", NOW + 20 * MINUTE))
    # The muted row's reference names the silence, not a message: the channel must not try to update it.
    assert [(event.status, previous) for event, previous in world.slack.sent] == [("resolved", None)]
    assert [row[3] for row in world.notifications()] == [f"silenced:{silence_id}"] * 2 + [
        "slack-msg-1",
        "webhook-msg-1",
    ]


def test_a_silence_created_after_a_failed_delivery_does_not_mute_its_retry(world: World) -> None:
    # A silence starts no earlier than its creation, so it never reaches back to a change already made.
    world.slack.failures = 1
    with pytest.raises(DeliveryError, match="not delivered to slack"):
        notify_alert(world.runtime, alert_event("open", NOW))
    world.clock.now = NOW + MINUTE
    create(world)
    retried = notify_alert(world.runtime, alert_event("open", NOW))
    assert [(d.channel, d.reference) for d in retried] == [("slack", "slack-msg-2")]
