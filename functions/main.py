"""Cloud Functions entry points: one per trigger, adapting the request or CloudEvent to perfguard.

No logic here (DESIGN.md): each function hands its input to `perfguard.api` with the process runtime.
Terraform deploys each name below with `entry_point` = the function name.
"""

from __future__ import annotations

import functions_framework
from cloudevents.http.event import CloudEvent
from flask import Request
from werkzeug.wrappers import Response

from perfguard import runtime
from perfguard.api import (
    alert_status,
    alerting,
    canisters,
    escalation,
    firebase_import,
    ingest,
    kpi_status,
    maintenance,
    notify,
    query,
    remediation,
    silences,
)
from perfguard.api.events import handle_event
from perfguard.api.responses import handle_errors


@functions_framework.http
@handle_errors
def record_performance_metric(request: Request) -> Response:
    """POST metrics (one object or {"metrics": [...]}, up to 10,000)."""
    return ingest.record_performance_metric(runtime.current(), request)


@functions_framework.http
@handle_errors
def get_performance_data(request: Request) -> Response:
    """Stored metrics of one type over a range, paginated."""
    return query.get_performance_data(runtime.current(), request)


@functions_framework.http
@handle_errors
def get_performance_summary(request: Request) -> Response:
    """Per-endpoint statistics over a range, optionally bucketed, with baselines."""
    return query.get_performance_summary(runtime.current(), request)


@functions_framework.http
@handle_errors
def check_thresholds(request: Request) -> Response:
    """The alerts that hold at an evaluation time."""
    return alerting.check_thresholds(runtime.current(), request)


@functions_framework.http
@handle_errors
def get_kpi_status(request: Request) -> Response:
    """The KPIDashboard."""
    return kpi_status.get_kpi_status(runtime.current(), request)


@functions_framework.http
@handle_errors
def update_alert_status(request: Request) -> Response:
    """POST {"alert_id", "status", "note"?}: a person changes an alert's status (admin key)."""
    return alert_status.update_alert_status(runtime.current(), request)


@functions_framework.http
@handle_errors
def get_alerts(request: Request) -> Response:
    """The current alerts, filtered by status (default open,investigating) and metric_type."""
    return alert_status.get_alerts(runtime.current(), request)


@functions_framework.http
@handle_errors
def slack_actions(request: Request) -> Response:
    """Slack's interactivity requests: the alert buttons, verified by Slack's request signature."""
    return alert_status.slack_actions(runtime.current(), request)


@functions_framework.http
@handle_errors
def create_silence(request: Request) -> Response:
    """POST {"matchers", "ends_at" | "duration_minutes", "starts_at"?, "comment"}: mute matching alerts (admin key)."""
    return silences.create_silence(runtime.current(), request)


@functions_framework.http
@handle_errors
def get_silences(request: Request) -> Response:
    """The silences not yet expired (active or pending); state=all adds the expired ones."""
    return silences.get_silences(runtime.current(), request)


@functions_framework.http
@handle_errors
def expire_silence(request: Request) -> Response:
    """POST {"id"}: end a silence now (admin key)."""
    return silences.expire_silence(runtime.current(), request)


@functions_framework.cloud_event
def evaluate_thresholds(event: CloudEvent) -> None:
    """Pub/Sub: new data or the one-minute tick; records alert state changes."""
    handle_event(event.data, lambda message: alerting.evaluate_thresholds(runtime.current(), message))


@functions_framework.cloud_event
def notify_alert(event: CloudEvent) -> None:
    """Pub/Sub: an alert state change, or the one-minute tick; sends what its notification group's timers let
    out to Slack, email and webhooks."""
    handle_event(event.data, lambda message: notify.notify_alert(runtime.current(), message))


@functions_framework.cloud_event
def escalate_alerts(event: CloudEvent) -> None:
    """Pub/Sub: the one-minute tick; escalates the open alerts nobody acknowledged in time."""
    handle_event(event.data, lambda message: escalation.escalate_alerts(runtime.current(), message))


@functions_framework.cloud_event
def remediate_alert(event: CloudEvent) -> None:
    """Pub/Sub: an alert state change; runs the allowlisted remediation actions an opening alert calls for."""
    handle_event(event.data, lambda message: remediation.remediate_alert(runtime.current(), message))


@functions_framework.cloud_event
def import_firebase(event: CloudEvent) -> None:
    """Pub/Sub: the five-minute import tick; imports what the Firebase BigQuery exports added since the last run."""
    handle_event(event.data, lambda message: firebase_import.import_firebase(runtime.current(), message))


@functions_framework.cloud_event
def enforce_retention(event: CloudEvent) -> None:
    """Pub/Sub (local stack only): the daily retention job."""
    handle_event(event.data, lambda _message: maintenance.enforce_retention(runtime.current()))


@functions_framework.cloud_event
def poll_canisters(event: CloudEvent) -> None:
    """Pub/Sub: the one-minute canister poll tick; reads every configured ICP canister."""
    handle_event(event.data, lambda message: canisters.poll_canisters(runtime.current(), message))
