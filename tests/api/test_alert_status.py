"""People change alerts through the API and Slack's buttons: over a real DuckDB store, the in-memory bus, real
werkzeug requests and Slack signatures computed here as Slack documents them."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from perfguard.api.alert_status import get_alerts, slack_actions, update_alert_status
from perfguard.api.alerting import evaluate_thresholds
from perfguard.api.auth import ADMIN, INGEST, READ, KeyRing, key
from perfguard.api.responses import handle_errors
from perfguard.bus.cloudevent import Message
from perfguard.bus.memory import MemoryBus
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from tests.api.test_evaluator import minutes_of
from tests.support.doubles import embedded_store
from tests.support.receiver import receiver

T0 = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
NOW = T0 + dt.timedelta(minutes=10)
MINUTE = dt.timedelta(minutes=1)
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # Slack's documented example signing secret
KEYS = KeyRing([key("ops", "ops-key", [ADMIN]), key("dash", "dash-key", [READ]), key("gw", "gw-key", [INGEST])])
ALLOWED = [
    ("open", "investigating"),
    ("open", "resolved"),
    ("open", "false_positive"),
    ("investigating", "open"),
    ("investigating", "resolved"),
    ("investigating", "false_positive"),
]
REFUSED = [
    ("open", "open", "alert alrt_a is already open"),
    ("investigating", "investigating", "alert alrt_a is already investigating"),
    *[
        ("resolved", s, "alert alrt_a is already resolved")
        for s in ("open", "investigating", "resolved", "false_positive")
    ],
    *[
        ("false_positive", s, "is already false_positive")
        for s in ("open", "investigating", "resolved", "false_positive")
    ],
]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class World:
    runtime: Runtime
    clock: Clock
    bus: MemoryBus

    def rows(self, alert_id: str = "alrt_a") -> list[dict[str, Any]]:
        sql = "SELECT * FROM performance_alerts WHERE id = @id ORDER BY changed_at"
        return self.runtime.warehouse.query(sql, {"id": alert_id})

    def events(self) -> list[dict[str, Any]]:
        return self.bus.on("performance-alerts")

    def with_settings(self, **changes: Any) -> None:
        self.runtime.settings = replace(self.runtime.settings, **changes)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    store = embedded_store(tmp_path / "a.duckdb")
    clock, bus = Clock(), MemoryBus()
    settings = Settings(data_dir=str(tmp_path), slack_signing_secret=SECRET)
    yield World(Runtime(settings, store, bus, KEYS, clock=clock), clock, bus)
    store.close()


def seed(world: World, status: str = "open", alert_id: str = "alrt_a", **extra: Any) -> None:
    """An alert the evaluator opened at T0, in `status` since T0 + 1 min."""
    row = {
        "id": alert_id,
        "alert_type": "threshold_exceeded",
        "rule": "api_latency_p95",
        "metric_type": "api_latency",
        "endpoint_or_operation": "POST /swaps",
        "current_value": 2600.0,
        "threshold_value": 2000.0,
        "severity": "high",
        "status": status,
        "context": json.dumps({"statistic": "p95"}),
        "triggered_at": T0,
        "resolved_at": T0 + MINUTE if status in ("resolved", "false_positive") else None,
        "changed_at": T0 + MINUTE,
        "changed_by": "evaluator",
        **extra,
    }
    world.runtime.warehouse.append_rows("performance_alerts", [row])


def call(handler: Callable[[Runtime, Request], Response], world: World, request: Request) -> tuple[int, Any]:
    """Call a handler as functions/main.py does (through handle_errors); the status and the JSON body."""
    response = handle_errors(handler)(world.runtime, request)
    return response.status_code, json.loads(response.get_data())


def update(world: World, body: Any, api_key: str | None = "ops-key", method: str = "POST") -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    request = EnvironBuilder(method=method, path="/update_alert_status", json=body, headers=headers).get_request()
    return call(update_alert_status, world, request)


def listing(world: World, api_key: str = "dash-key", **query: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {api_key}"}
    request = EnvironBuilder(method="GET", path="/get_alerts", query_string=query, headers=headers).get_request()
    return call(get_alerts, world, request)


# --- update_alert_status ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("current", "wanted"), ALLOWED)
def test_an_allowed_change_appends_a_row_and_publishes_it(world: World, current: str, wanted: str) -> None:
    seed(world, current)
    status, body = update(world, {"alert_id": "alrt_a", "status": wanted})
    assert status == 200
    rows = world.rows()
    assert [(r["status"], r["changed_by"]) for r in rows] == [(current, "evaluator"), (wanted, "api:ops")]
    new = rows[-1]
    assert new["changed_at"] == NOW and new["triggered_at"] == T0
    assert new["resolved_at"] == (NOW if wanted in ("resolved", "false_positive") else None)
    assert (new["rule"], new["endpoint_or_operation"], new["current_value"]) == ("api_latency_p95", "POST /swaps", 2600)
    expected = {
        "id": "alrt_a",
        "status": wanted,
        "changed_at": "2026-11-26T10:10:00Z",
        "changed_by": "api:ops",
        "triggered_at": "2026-11-26T10:00:00Z",
        "resolved_at": "2026-11-26T10:10:00Z" if wanted in ("resolved", "false_positive") else None,
    }
    assert {name: body["alert"][name] for name in expected} == expected
    assert world.events() == [body["alert"]]
    assert world.bus.messages[0][2] == {"status": wanted}


@pytest.mark.parametrize(("current", "wanted", "message"), REFUSED)
def test_a_refused_change_is_a_400_that_records_and_publishes_nothing(
    world: World, current: str, wanted: str, message: str
) -> None:
    seed(world, current)
    status, body = update(world, {"alert_id": "alrt_a", "status": wanted})
    assert status == 400 and message in body["error"]["message"]
    assert len(world.rows()) == 1 and world.events() == []


def test_the_event_has_the_evaluators_shape(world: World) -> None:
    world.runtime.warehouse.ingest_metrics(minutes_of(2600.0, T0, 6), T0)
    world.clock.now = T0 + 6 * MINUTE
    tick = Message({"job": "evaluate_thresholds"}, {"source": "scheduler"}, "1", world.clock.now)
    opened = evaluate_thresholds(world.runtime, tick)
    by_evaluator = world.events()[0]
    update(world, {"alert_id": opened[0]["id"], "status": "investigating"})
    by_person = world.events()[-1]
    changed = ("status", "changed_by", "changed_at")
    assert set(by_person) == set(by_evaluator)
    assert isinstance(by_person["context"], str) and json.loads(by_person["context"]) == json.loads(
        by_evaluator["context"]
    )
    assert {k: v for k, v in by_person.items() if k not in changed} == {
        k: v for k, v in by_evaluator.items() if k not in changed
    }
    # The person acted in the evaluator's instant: the change is ordered just after the state it changes.
    assert by_person["changed_at"] == "2026-11-26T10:06:00.000001Z"


def test_the_evaluator_respects_what_a_person_decided(world: World) -> None:
    """Acknowledged during the breach: nothing new; resolved by a person mid-episode: not reopened;
    an acknowledged alert whose condition clears is resolved by the evaluator."""
    store = world.runtime.warehouse
    store.ingest_metrics(minutes_of(2600.0, T0, 8) + minutes_of(200.0, T0 + 8 * MINUTE, 2), T0)

    def tick() -> list[dict[str, Any]]:
        return evaluate_thresholds(world.runtime, Message({}, {"source": "scheduler"}, "1", world.clock.now))

    world.clock.now = T0 + 6 * MINUTE
    endpoint, overall = sorted(tick(), key=lambda c: c["endpoint_or_operation"] is None)
    update(world, {"alert_id": endpoint["id"], "status": "investigating"})
    update(world, {"alert_id": overall["id"], "status": "resolved"})
    world.clock.now = T0 + 7 * MINUTE
    assert tick() == []
    world.clock.now = T0 + 9 * MINUTE
    assert [(c["id"], c["status"], c["changed_by"]) for c in tick()] == [(endpoint["id"], "resolved", "evaluator")]
    assert [r["status"] for r in world.rows(endpoint["id"])] == ["open", "investigating", "resolved"]
    assert [r["status"] for r in world.rows(overall["id"])] == ["open", "resolved"]


def test_a_change_in_the_same_instant_as_the_last_one_still_becomes_current(world: World) -> None:
    seed(world, "open")
    world.clock.now = T0 + MINUTE  # the same reading as the evaluator's row
    assert update(world, {"alert_id": "alrt_a", "status": "investigating"})[0] == 200
    assert update(world, {"alert_id": "alrt_a", "status": "resolved"})[0] == 200
    assert [r["status"] for r in world.rows()] == ["open", "investigating", "resolved"]
    assert update(world, {"alert_id": "alrt_a", "status": "open"})[1]["error"]["message"].startswith(
        "alert alrt_a is already resolved, which is final"
    )


def test_a_note_is_kept_in_the_context_with_who_and_when_and_no_user_data(world: World) -> None:
    seed(world, "open")
    note = "rolled back release 42, reported by ann@example.com"
    status, body = update(world, {"alert_id": "alrt_a", "status": "resolved", "note": note})
    assert status == 200
    context = json.loads(world.rows()[-1]["context"])
    assert context == {
        "statistic": "p95",
        "notes": [
            {
                "at": "2026-11-26T10:10:00Z",
                "by": "api:ops",
                "status": "resolved",
                "text": "rolled back release 42, reported by [email]",
            }
        ],
    }
    assert json.loads(body["alert"]["context"]) == context


def test_an_unknown_alert_is_404(world: World) -> None:
    status, body = update(world, {"alert_id": "alrt_nope", "status": "resolved"})
    assert status == 404 and body["error"] == {"code": "not_found", "message": "no alert with id 'alrt_nope'"}
    assert world.events() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"status": "resolved"}, "alert_id is required"),
        ({"alert_id": 7, "status": "resolved"}, "alert_id is required"),
        ({"alert_id": "alrt_a; DROP", "status": "resolved"}, "alert_id is required"),
        ({"alert_id": "alrt_a"}, "status must be one of open, investigating, resolved, false_positive"),
        ({"alert_id": "alrt_a", "status": "closed"}, "got 'closed'"),
        ({"alert_id": "alrt_a", "status": "resolved", "note": ["x"]}, "note must be a string"),
        ([1, 2], "the JSON body must be an object"),
    ],
)
def test_a_bad_request_is_400_saying_what_is_wrong(world: World, body: Any, message: str) -> None:
    seed(world, "open")
    status, answer = update(world, body)
    assert status == 400 and message in answer["error"]["message"]
    assert len(world.rows()) == 1


def test_a_change_must_be_a_post(world: World) -> None:
    seed(world, "open")
    request = EnvironBuilder(
        method="GET",
        path="/update_alert_status",
        query_string={"alert_id": "alrt_a", "status": "resolved"},
        headers={"Authorization": "Bearer ops-key"},
    ).get_request()
    status, body = call(update_alert_status, world, request)
    assert status == 400 and "POST" in body["error"]["message"] and len(world.rows()) == 1


@pytest.mark.parametrize(("api_key", "status"), [(None, 401), ("wrong-key", 401), ("dash-key", 403), ("gw-key", 403)])
def test_changing_a_status_needs_an_admin_key(world: World, api_key: str | None, status: int) -> None:
    seed(world, "open")
    code, body = update(world, {"alert_id": "alrt_a", "status": "resolved"}, api_key)
    assert code == status
    if status == 403:
        assert "lacks the 'admin' scope" in body["error"]["message"]
    assert len(world.rows()) == 1 and world.events() == []


# --- get_alerts --------------------------------------------------------------------------------------------


def test_get_alerts_lists_the_active_alerts_by_default(world: World) -> None:
    seed(world, "open", "alrt_a")
    seed(world, "investigating", "alrt_b", triggered_at=T0 + MINUTE)
    seed(world, "resolved", "alrt_c")
    seed(world, "open", "alrt_d", metric_type="memory_usage", triggered_at=T0 + 2 * MINUTE)
    update(world, {"alert_id": "alrt_a", "status": "false_positive"})
    status, body = listing(world)
    assert status == 200 and body["statuses"] == ["open", "investigating"] and body["metric_type"] is None
    assert [(a["id"], a["status"]) for a in body["alerts"]] == [("alrt_d", "open"), ("alrt_b", "investigating")]
    assert body["alerts"][0]["triggered_at"] == "2026-11-26T10:02:00Z"


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ({"status": "all"}, ["alrt_d", "alrt_b", "alrt_a", "alrt_c"]),
        ({"status": "resolved,false_positive"}, ["alrt_c"]),
        ({"status": "open", "metric_type": "memory_usage"}, ["alrt_d"]),
        ({"status": "all", "metric_type": "api_latency", "limit": "2"}, ["alrt_b", "alrt_a"]),
    ],
)
def test_get_alerts_filters_by_status_and_metric_type(world: World, query: dict[str, str], ids: list[str]) -> None:
    seed(world, "open", "alrt_a")
    seed(world, "investigating", "alrt_b", triggered_at=T0 + MINUTE)
    seed(world, "resolved", "alrt_c", triggered_at=T0 - MINUTE)
    seed(world, "open", "alrt_d", metric_type="memory_usage", triggered_at=T0 + 2 * MINUTE)
    status, body = listing(world, **query)
    assert status == 200 and [a["id"] for a in body["alerts"]] == ids


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"status": "closed"}, "status must be one of"),
        ({"metric_type": "nope"}, "unknown metric_type 'nope'"),
        ({"limit": "0"}, "limit must be between 1 and 1000"),
    ],
)
def test_get_alerts_refuses_bad_filters(world: World, query: dict[str, str], message: str) -> None:
    status, body = listing(world, **query)
    assert status == 400 and message in body["error"]["message"]


def test_get_alerts_needs_the_read_scope(world: World) -> None:
    assert listing(world, "gw-key")[0] == 403
    assert listing(world, "ops-key")[0] == 200


# --- slack_actions -----------------------------------------------------------------------------------------


def slack_body(action_id: str = "perfguard_ack", value: str = "alrt_a", **extra: Any) -> str:
    payload = {
        "type": "block_actions",
        "user": {"id": "U0123ABCD", "username": "ann", "name": "ann", "team_id": "T1"},
        "team": {"id": "T1", "domain": "acme"},
        "actions": [{"action_id": action_id, "block_id": "b1", "value": value, "type": "button", "action_ts": "1"}],
        **extra,
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


def slack_request(
    body: str, timestamp: dt.datetime = NOW, secret: str = SECRET, headers: dict[str, str] | None = None
) -> Request:
    """A request signed as https://api.slack.com/authentication/verifying-requests-from-slack describes."""
    stamp = str(int(timestamp.timestamp()))
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    signed = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}", **(headers or {})}
    return EnvironBuilder(
        method="POST",
        path="/slack_actions",
        data=body.encode(),
        content_type="application/x-www-form-urlencoded",
        headers={k: v for k, v in signed.items() if v},
    ).get_request()


@pytest.mark.parametrize(
    ("action_id", "wanted"),
    [
        ("perfguard_ack", "investigating"),
        ("perfguard_resolve", "resolved"),
        ("perfguard_false_positive", "false_positive"),
    ],
)
def test_a_signed_button_click_changes_the_status_as_the_slack_user(world: World, action_id: str, wanted: str) -> None:
    seed(world, "open")
    status, body = call(slack_actions, world, slack_request(slack_body(action_id)))
    assert status == 200
    assert body == {
        "response_type": "ephemeral",
        "replace_original": False,
        "text": f"Alert alrt_a is now {wanted} (by <@U0123ABCD>).",
    }
    new = world.rows()[-1]
    assert (new["status"], new["changed_by"], new["changed_at"]) == (wanted, "slack:U0123ABCD", NOW)
    assert [(e["status"], e["changed_by"]) for e in world.events()] == [(wanted, "slack:U0123ABCD")]
    assert "ann" not in json.dumps(world.events())  # the Slack user id only, never the name


def test_the_outcome_is_posted_to_the_response_url_for_the_clicker_only(world: World) -> None:
    seed(world, "resolved")
    with receiver() as hooks:
        world.with_settings(slack_api_url=f"{hooks.url}/api/")
        body = slack_body("perfguard_ack", response_url=f"{hooks.url}/actions/T1/1/x")
        assert call(slack_actions, world, slack_request(body))[0] == 200
        assert hooks.wait_for(1, timeout=5)
    sent = hooks.requests[0]
    assert sent.path == "/actions/T1/1/x"
    assert json.loads(sent.body) == {
        "text": "Nothing changed: alert alrt_a is already resolved, which is final; a new breach opens a new alert.",
        "response_type": "ephemeral",
        "replace_original": False,
    }


def test_a_response_url_outside_slack_is_not_called(world: World) -> None:
    seed(world, "open")
    with receiver() as elsewhere:
        body = slack_body("perfguard_ack", response_url=f"{elsewhere.url}/steal")
        assert call(slack_actions, world, slack_request(body))[0] == 200
        assert not elsewhere.wait_for(1, timeout=0.3)
    assert world.rows()[-1]["status"] == "investigating"


def test_an_unreachable_response_url_does_not_undo_the_change(world: World) -> None:
    seed(world, "open")
    with receiver() as hooks:
        gone = hooks.url
    world.with_settings(slack_api_url=gone)
    status, body = call(slack_actions, world, slack_request(slack_body(response_url=f"{gone}/actions/x")))
    assert status == 200 and body["text"].startswith("Alert alrt_a is now investigating")
    assert world.rows()[-1]["status"] == "investigating"


@pytest.mark.parametrize(
    ("current", "action_id", "text"),
    [
        ("resolved", "perfguard_resolve", "Nothing changed: alert alrt_a is already resolved"),
        ("investigating", "perfguard_ack", "Nothing changed: alert alrt_a is already investigating."),
        ("open", "perfguard_snooze", "perfguard has no button 'perfguard_snooze'; nothing changed."),
    ],
)
def test_a_click_that_changes_nothing_says_why_with_200(world: World, current: str, action_id: str, text: str) -> None:
    seed(world, current)
    status, body = call(slack_actions, world, slack_request(slack_body(action_id)))
    assert status == 200 and body["text"].startswith(text) and body["response_type"] == "ephemeral"
    assert len(world.rows()) == 1 and world.events() == []


def test_a_click_on_an_unknown_alert_says_so(world: World) -> None:
    status, body = call(slack_actions, world, slack_request(slack_body(value="alrt_gone")))
    assert status == 200 and body["text"] == "Nothing changed: no alert with id 'alrt_gone'."


def test_other_interactions_change_nothing(world: World) -> None:
    seed(world, "open")
    body = urllib.parse.urlencode({"payload": json.dumps({"type": "view_submission", "user": {"id": "U1"}})})
    status, answer = call(slack_actions, world, slack_request(body))
    assert status == 200 and "only its alert buttons" in answer["text"] and len(world.rows()) == 1


@pytest.mark.parametrize(
    ("request_of", "message"),
    [
        (lambda: slack_request(slack_body(), secret="not-the-secret"), "signature does not match"),
        (lambda: slack_request(slack_body(), NOW - dt.timedelta(minutes=5, seconds=1)), "the limit is 5 minutes"),
        (lambda: slack_request(slack_body(), NOW + dt.timedelta(minutes=6)), "the limit is 5 minutes"),
        (lambda: slack_request(slack_body(), headers={"X-Slack-Signature": ""}), "X-Slack-Signature are required"),
        (
            lambda: slack_request(slack_body(), headers={"X-Slack-Request-Timestamp": ""}),
            "X-Slack-Signature are required",
        ),
        (lambda: slack_request(slack_body(), headers={"X-Slack-Request-Timestamp": "1e9"}), "must be Unix seconds"),
    ],
)
def test_an_unsigned_wrongly_signed_or_stale_request_is_401_and_changes_nothing(
    world: World, request_of: Callable[[], Request], message: str
) -> None:
    seed(world, "open")
    status, body = call(slack_actions, world, request_of())
    assert status == 401 and message in body["error"]["message"]
    assert len(world.rows()) == 1 and world.events() == []


def test_a_body_changed_after_signing_is_401(world: World) -> None:
    seed(world, "open")
    signed = slack_request(slack_body("perfguard_ack"))
    headers = {name: signed.headers[name] for name in ("X-Slack-Request-Timestamp", "X-Slack-Signature")}
    tampered = EnvironBuilder(
        method="POST", path="/slack_actions", data=slack_body("perfguard_resolve"), headers=headers
    ).get_request()
    assert call(slack_actions, world, tampered)[0] == 401 and len(world.rows()) == 1


def test_a_request_just_under_five_minutes_old_is_accepted(world: World) -> None:
    seed(world, "open")
    old = NOW - dt.timedelta(minutes=4, seconds=59)
    assert call(slack_actions, world, slack_request(slack_body(), old))[0] == 200
    assert world.rows()[-1]["status"] == "investigating"


def test_without_a_signing_secret_the_buttons_are_503(world: World) -> None:
    seed(world, "open")
    world.with_settings(slack_signing_secret="")
    status, body = call(slack_actions, world, slack_request(slack_body()))
    assert status == 503 and "set slack_signing_secret" in body["error"]["message"]
    assert len(world.rows()) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("nothing=here", "malformed JSON"),
        (urllib.parse.urlencode({"payload": "[1]"}), "must be a JSON object"),
        (urllib.parse.urlencode({"payload": json.dumps({"type": "block_actions", "actions": []})}), "no action"),
        (
            urllib.parse.urlencode(
                {"payload": json.dumps({"type": "block_actions", "actions": [{"action_id": "perfguard_ack"}]})}
            ),
            "no Slack user id",
        ),
    ],
)
def test_a_signed_but_malformed_payload_is_400(world: World, body: str, message: str) -> None:
    status, answer = call(slack_actions, world, slack_request(body))
    assert status == 400 and message in answer["error"]["message"]
