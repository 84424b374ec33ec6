"""People change alerts: `update_alert_status` (API, admin key), `slack_actions` (the Slack buttons) and
`get_alerts` (read key). Both writers go through `change_status`, so they obey the same lifecycle
(`perfguard.domain.lifecycle`), append the same rows and publish the same events as the evaluator.

Changing a status needs the `admin` scope: the documented scopes are ingest, read and admin, and changing
what the on-call sees is not reading. A key for a person or a chat bot that may acknowledge alerts is
therefore an admin key.

Slack: the Interactivity request URL of the Slack app is this function's URL. Each request is checked with
Slack's signing secret (v0 HMAC over the raw body, at most 5 minutes old). The buttons of an alert message
carry `action_id` perfguard_ack / perfguard_resolve / perfguard_false_positive and the alert id as `value`.
Slack ignores the body of the answer to a `block_actions` request, so the outcome is also posted, visible to
the person who clicked only, to the request's `response_url`; the alert message itself is updated by the
notifier, which receives the change on the `performance-alerts` topic like every other change.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.webhook import WebhookClient
from werkzeug.wrappers import Request, Response

from perfguard.api import params as p
from perfguard.api.alerting import ALERTS_TOPIC
from perfguard.api.auth import ADMIN, READ
from perfguard.api.responses import json_response
from perfguard.domain.alert_state import ACTIVE
from perfguard.domain.lifecycle import (
    STATUSES,
    changed_row,
    clean_note,
    parse_status,
)
from perfguard.domain.timestamps import format_rfc3339
from perfguard.errors import AuthenticationError, BusError, InvalidRequest, NotFound, PayloadTooLarge, ValidationError
from perfguard.notify.message import ACTION_STATUSES
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from perfguard.warehouse.sql import load_query

log = logging.getLogger(__name__)

SLACK_ACTIONS = ACTION_STATUSES  # the buttons notify.message puts on every alert message
SLACK_MAX_AGE_S = 5 * 60  # Slack's advice, and what SignatureVerifier enforces: older requests may be replays
SLACK_MAX_BODY = 1024 * 1024  # an interaction payload carries the clicked message: kilobytes, not megabytes
SLACK_HOOKS_ORIGIN = ("https", "hooks.slack.com")
REPLY_TIMEOUT_S = 1  # Slack wants the answer within 3 s; the confirmation must not use that time up
_ALERT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_SLACK_USER = re.compile(r"[A-Z0-9]{2,32}")


def update_alert_status(runtime: Runtime, request: Request) -> Response:
    """POST {"alert_id", "status", "note"?}: change an alert's status; answers its new state."""
    api_key = runtime.keys.authenticate(request.headers.get("Authorization"), ADMIN)
    if request.method != "POST":
        raise InvalidRequest('update_alert_status takes a POST with a JSON body {"alert_id", "status", "note"?}')
    args = p.request_params(request)
    alert_id, status = alert_id_param(args.get("alert_id")), parse_status(args.get("status"))
    row = change_status(runtime, alert_id, status, f"api:{api_key.name}", clean_note(args.get("note")))
    return json_response({"alert": alert_event(row)})


def get_alerts(runtime: Runtime, request: Request) -> Response:
    """The current alerts with a status in `status` (default open,investigating), optionally of one metric_type."""
    runtime.keys.authenticate(request.headers.get("Authorization"), READ)
    args = p.request_params(request)
    statuses = status_filter(args.get("status"))
    metric_type = p.metric_type(args) if args.get("metric_type") else None
    limit = p.integer(args, "limit", 100, 1, 1000)
    params = {"statuses": statuses, "metric_type": metric_type, "limit": limit}
    rows = runtime.warehouse.query(load_query("current_alerts"), params)
    body = {"statuses": statuses, "metric_type": metric_type, "alerts": [alert_event(row) for row in rows]}
    return json_response(body)


def change_status(
    runtime: Runtime, alert_id: str, status: str, changed_by: str, note: str | None = None
) -> dict[str, Any]:
    """Check a person's change against the alert's current state, append it and publish it; the new row."""
    # The evaluator holds this lock while it reads and appends, so on one instance a person's change and an
    # evaluation never interleave. Across instances the latest changed_at wins; an alert wrongly left active
    # that way is resolved again by the next evaluation.
    with runtime.evaluation.lock:
        row = changed_row(current_alert(runtime, alert_id), status, changed_by, runtime.clock(), note)
        runtime.warehouse.append_rows("performance_alerts", [row])
    _publish(runtime, row)
    return row


def current_alert(runtime: Runtime, alert_id: str) -> dict[str, Any]:
    """The current state of one alert; NotFound for an id never recorded."""
    rows = runtime.warehouse.query(load_query("alert_by_id"), {"alert_id": alert_id})
    if not rows:
        raise NotFound(f"no alert with id {alert_id!r}")
    return rows[0]


def alert_event(row: Mapping[str, Any]) -> dict[str, Any]:
    """A performance_alerts row as JSON (datetimes in RFC 3339, context as JSON text): the evaluator's shape."""
    return {name: format_rfc3339(value) if isinstance(value, dt.datetime) else value for name, value in row.items()}


def alert_id_param(value: object) -> str:
    """A required alert id (letters, digits and _.:-, as the evaluator makes them)."""
    if not isinstance(value, str) or not _ALERT_ID.fullmatch(value):
        raise ValidationError(
            f"alert_id is required: the id of an alert, e.g. alrt_0123456789abcdef0123; got {value!r}"
        )
    return value


def status_filter(value: object) -> list[str]:
    """The statuses get_alerts lists: a comma-separated list (or array), `all`, or by default the active ones."""
    if value is None or value == "":
        return list(ACTIVE)
    if value == "all":
        return list(STATUSES)
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ValidationError(f"status must be a comma-separated list of {', '.join(STATUSES)}, or all")
    return list(dict.fromkeys(parse_status(item.strip() if isinstance(item, str) else item) for item in items))


def _publish(runtime: Runtime, row: Mapping[str, Any]) -> None:
    log.info("alert %s: %s by %s", row["id"], row["status"], row["changed_by"])
    try:
        runtime.bus.publish(ALERTS_TOPIC, alert_event(row), {"status": str(row["status"])})
    except BusError as exc:  # the change is recorded; as in the evaluator, a lost notification is logged
        log.error("alert %s recorded as %s but not published: %s", row["id"], row["status"], exc)


@dataclasses.dataclass(frozen=True)
class SlackClick:
    """One button click of a `block_actions` interaction: who clicked which action on which alert."""

    user_id: str
    action_id: str
    value: str
    response_url: str | None


def slack_actions(runtime: Runtime, request: Request) -> Response:
    """Slack's interactivity requests: verify the signature, apply the clicked button, confirm to the clicker."""
    secret = runtime.settings.slack_signing_secret
    if not secret:
        message = "the Slack buttons are off: set slack_signing_secret (PERFGUARD_SLACK_SIGNING_SECRET)"
        return json_response({"error": {"code": "slack_not_configured", "message": message}}, 503)
    body = _slack_body(request)
    headers = request.headers
    verify_slack_signature(
        secret, body, headers.get("X-Slack-Request-Timestamp"), headers.get("X-Slack-Signature"), runtime.clock
    )
    click = parse_click(body)
    text = apply_click(runtime, click) if click else "perfguard handles only its alert buttons; nothing changed."
    if click and click.response_url:
        _reply(runtime.settings, click.response_url, text)
    return json_response({"response_type": "ephemeral", "replace_original": False, "text": text})


def _slack_body(request: Request) -> str:
    if request.content_length is not None and request.content_length > SLACK_MAX_BODY:
        raise PayloadTooLarge(f"the body is {request.content_length} bytes; the limit is {SLACK_MAX_BODY}")
    data = request.stream.read(SLACK_MAX_BODY + 1)
    if len(data) > SLACK_MAX_BODY:
        raise PayloadTooLarge(f"the body is over the limit of {SLACK_MAX_BODY} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:  # Slack signs UTF-8 text: anything else cannot carry a valid signature
        raise AuthenticationError("the body is not UTF-8, so it cannot carry a valid Slack signature") from exc


class _RuntimeClock(Clock):
    """SignatureVerifier's clock read from the runtime's, so tests can fix the time."""

    def __init__(self, clock: Callable[[], dt.datetime]) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock().timestamp()


def verify_slack_signature(
    secret: str, body: str, timestamp: str | None, signature: str | None, clock: Callable[[], dt.datetime]
) -> None:
    """Raise AuthenticationError unless Slack signed `body` with `secret` within the last 5 minutes."""
    if not timestamp or not signature:
        raise AuthenticationError("X-Slack-Request-Timestamp and X-Slack-Signature are required: only Slack calls this")
    try:
        age = clock().timestamp() - int(timestamp)
    except ValueError as exc:
        raise AuthenticationError("X-Slack-Request-Timestamp must be Unix seconds") from exc
    if abs(age) > SLACK_MAX_AGE_S:  # checked here too, to say why (is_valid only answers no)
        raise AuthenticationError(f"the Slack request was signed {age:.0f} s from now; the limit is 5 minutes")
    if not SignatureVerifier(secret, clock=_RuntimeClock(clock)).is_valid(body, timestamp, signature):
        raise AuthenticationError("the Slack signature does not match the body; check slack_signing_secret")


def parse_click(body: str) -> SlackClick | None:
    """The click of a form-encoded `payload` of type block_actions; None for any other interaction."""
    try:
        fields = urllib.parse.parse_qs(body, max_num_fields=20)
    except ValueError as exc:
        raise InvalidRequest(f"the Slack request is not a form with a payload: {exc}") from exc
    payload = p.parse_json((fields.get("payload") or [""])[0].encode())
    if not isinstance(payload, dict):
        raise InvalidRequest("the Slack payload must be a JSON object")
    if payload.get("type") != "block_actions":
        return None
    actions, user = payload.get("actions"), payload.get("user")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise InvalidRequest("the block_actions payload has no action")
    user_id = user.get("id") if isinstance(user, dict) else None
    if not isinstance(user_id, str) or not _SLACK_USER.fullmatch(user_id):
        raise InvalidRequest("the block_actions payload has no Slack user id")
    action = actions[0]  # a button click is one action
    url = payload.get("response_url")
    response_url = url if isinstance(url, str) else None
    return SlackClick(user_id, str(action.get("action_id", "")), str(action.get("value", "")), response_url)


def apply_click(runtime: Runtime, click: SlackClick) -> str:
    """Apply a button's status change as `slack:<user id>`; the text that tells the clicker what happened."""
    status = SLACK_ACTIONS.get(click.action_id)
    if status is None:
        return f"perfguard has no button {click.action_id[:64]!r}; nothing changed."
    try:
        change_status(runtime, alert_id_param(click.value), status, f"slack:{click.user_id}")
    except (InvalidRequest, NotFound) as exc:  # the clicker's answer, not an HTTP error Slack would hide
        return f"Nothing changed: {exc}."
    return f"Alert {click.value} is now {status} (by <@{click.user_id}>)."


def _reply(settings: Settings, response_url: str, text: str) -> None:
    """Post `text` to the interaction's response_url, visible to the clicker only; a failure is only logged."""
    parts = urllib.parse.urlsplit(response_url)
    if (parts.scheme, parts.netloc) not in _reply_origins(settings):
        log.warning("not replying to a response_url outside Slack: %s://%s", parts.scheme, parts.netloc)
        return
    client = WebhookClient(response_url, timeout=REPLY_TIMEOUT_S, retry_handlers=[])
    try:
        answer = client.send(text=text, response_type="ephemeral", replace_original=False)
    except Exception as exc:  # the change is recorded: a lost confirmation must not turn it into an error
        log.warning("could not confirm the Slack action: %s", exc)
        return
    if answer.status_code != 200:
        log.warning("Slack refused the confirmation: HTTP %s %s", answer.status_code, answer.body[:200])


def _reply_origins(settings: Settings) -> set[tuple[str, str]]:
    # Slack's response URLs live on hooks.slack.com; slack_api_url names a local receiver in tests.
    origins = {SLACK_HOOKS_ORIGIN}
    if settings.slack_api_url:
        override = urllib.parse.urlsplit(settings.slack_api_url)
        origins.add((override.scheme, override.netloc))
    return origins
