"""`check_thresholds` (read-only, at any time `at`) and `evaluate_thresholds` (records state changes).

Both run the same deterministic check; the evaluator appends an `open` row for a new breach and a
`resolved` row for an open alert whose condition has cleared, and publishes each change.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from werkzeug.wrappers import Request, Response

from perfguard.api import params as p
from perfguard.api.auth import READ
from perfguard.api.responses import json_response
from perfguard.bus.cloudevent import Message
from perfguard.domain.alert_state import reconcile, recorded_alert
from perfguard.domain.thresholds import Breach, ThresholdRule, affects_evaluation, evaluation_range, find_breaches
from perfguard.domain.timestamps import format_rfc3339, ns_to_datetime, parse_timestamp_ns
from perfguard.errors import BusError, ValidationError
from perfguard.runtime import Runtime
from perfguard.warehouse.sql import load_query

log = logging.getLogger(__name__)
ALERTS_TOPIC = "performance-alerts"
EVALUATOR = "evaluator"
INGEST_SOURCE = "record_performance_metric"


def check_thresholds(runtime: Runtime, request: Request) -> Response:
    """The alerts that hold at `at` (default now) for a metric type, with their recorded status."""
    runtime.keys.authenticate(request.headers.get("Authorization"), READ)
    args = p.request_params(request)
    metric_type = p.metric_type(args)
    at = p.moment(args, "at", runtime.clock())
    rules = [rule for rule in runtime.threshold_rules() if rule.metric_type == metric_type]
    breaches = _breaches(runtime, metric_type, rules, at)
    known = _known_alerts(runtime, rules, metric_type, at) if rules else []
    alerts = [_alert(breach, recorded_alert(breach, known)) for breach in breaches]
    return json_response({"metric_type": metric_type, "at": format_rfc3339(at), "alerts": alerts})


def evaluate_thresholds(runtime: Runtime, message: Message) -> list[dict[str, Any]]:
    """Evaluate now and record what changed, unless `message` announces data this evaluation cannot use."""
    now = runtime.clock()
    with runtime.evaluation.lock:
        if _already_covered(runtime, message, now):
            return []
        runtime.evaluation.last_started = now
        changes: list[dict[str, Any]] = []
        for metric_type, rules in _by_metric_type(runtime.threshold_rules()).items():
            known = _known_alerts(runtime, rules, metric_type, now)
            changes.extend(_changes(_breaches(runtime, metric_type, rules, now), known, now))
        if changes:
            runtime.warehouse.append_rows("performance_alerts", changes)
    _publish(runtime, changes)
    return changes


def record_alert_changes(runtime: Runtime, changes: Sequence[Mapping[str, Any]]) -> None:
    """Append alert state changes (rows of `performance_alerts`) and publish each to the alerts topic, as the
    evaluator does; for detectors outside the rules file (crash clusters, canister polls)."""
    if changes:
        runtime.warehouse.append_rows("performance_alerts", changes)
    _publish(runtime, changes)


def _already_covered(runtime: Runtime, message: Message, now: dt.datetime) -> bool:
    """An ingest message needs no evaluation when one started after the batch was stored (it saw the batch),
    or when the batch holds only records of the current minute (the next tick evaluates them). The
    scheduler's tick always evaluates. This keeps a busy ingest from evaluating once per batch."""
    if message.attributes.get("source") != INGEST_SOURCE:
        return False
    if runtime.evaluation.last_started >= message.publish_time:
        return True
    oldest = _moment_or_none(message.data.get("oldest_timestamp"))
    return oldest is not None and not affects_evaluation(oldest, now)


def _moment_or_none(value: object) -> dt.datetime | None:
    try:
        return ns_to_datetime(parse_timestamp_ns(value))
    except (ValidationError, OverflowError):
        return None  # a message we cannot read is evaluated, never dropped


def _by_metric_type(rules: Sequence[ThresholdRule]) -> dict[str, list[ThresholdRule]]:
    by_type: dict[str, list[ThresholdRule]] = {}
    for rule in rules:
        by_type.setdefault(rule.metric_type, []).append(rule)
    return by_type


def _breaches(runtime: Runtime, metric_type: str, rules: Sequence[ThresholdRule], at: dt.datetime) -> list[Breach]:
    """The breaches of `rules` (all of `metric_type`) at `at`: one minute_p95 query covering every rule's range,
    each rule judged on the rows of its own range."""
    if not rules:
        return []
    ranges = {rule.name: evaluation_range(rule, at) for rule in rules}
    start, end = min(r[0] for r in ranges.values()), max(r[1] for r in ranges.values())
    rows = runtime.warehouse.query(load_query("minute_p95"), {"metric_type": metric_type, "start": start, "end": end})
    breaches: list[Breach] = []
    for rule in rules:
        first, last = ranges[rule.name]
        breaches.extend(find_breaches(rule, (row for row in rows if first <= row["minute"] < last), at))
    return breaches


def _known_alerts(
    runtime: Runtime, rules: Sequence[ThresholdRule], metric_type: str, at: dt.datetime
) -> list[dict[str, Any]]:
    """Recent alert rows of `metric_type`: reconciled against the breaches of all its rules together, so one
    rule's breaches never resolve another rule's alerts."""
    params = {"metric_type": metric_type, "since": at - max(rule.lookback for rule in rules)}
    return runtime.warehouse.query(load_query("recent_alerts"), params)


def _changes(breaches: Sequence[Breach], known: Sequence[Mapping[str, Any]], now: dt.datetime) -> list[dict[str, Any]]:
    to_open, cleared = reconcile(breaches, known)
    return [_row(breach, now) for breach in to_open] + [_resolved(row, now) for row in cleared]


def _row(breach: Breach, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": breach.alert_id(),
        "alert_type": "threshold_exceeded",
        "rule": breach.rule.name,
        "metric_type": breach.rule.metric_type,
        "endpoint_or_operation": breach.endpoint_or_operation,
        "current_value": breach.current_value,
        "threshold_value": breach.rule.threshold,
        "severity": breach.rule.severity,
        "status": "open",
        "context": json.dumps(breach.context()),
        "triggered_at": breach.triggered_at,
        "resolved_at": None,
        "changed_at": now,
        "changed_by": EVALUATOR,
    }


def _resolved(row: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
    return {**row, "status": "resolved", "resolved_at": now, "changed_at": now, "changed_by": EVALUATOR}


def _alert(breach: Breach, recorded: Mapping[str, Any] | None) -> dict[str, Any]:
    """The seed's PerformanceAlert fields; id, status and trigger time are the recorded ones when there are."""
    triggered_at = recorded["triggered_at"] if recorded else breach.triggered_at
    return {
        "id": recorded["id"] if recorded else breach.alert_id(),
        "alert_type": "threshold_exceeded",
        "metric_type": breach.rule.metric_type,
        "current_value": breach.current_value,
        "threshold_value": breach.rule.threshold,
        "severity": breach.rule.severity,
        "context": json.dumps(breach.context()),
        "status": recorded["status"] if recorded else "open",
        "triggered_at": format_rfc3339(triggered_at),
        "resolved_at": None,
    }


def _publish(runtime: Runtime, changes: Sequence[Mapping[str, Any]]) -> None:
    for change in changes:
        log.warning(
            "alert %s: %s %s p95=%.0f ms (threshold %.0f ms)",
            change["status"],
            change["rule"],
            change["endpoint_or_operation"] or "(all endpoints)",
            change["current_value"] or 0,
            change["threshold_value"],
        )
        event = {k: format_rfc3339(v) if isinstance(v, dt.datetime) else v for k, v in change.items()}
        try:
            runtime.bus.publish(ALERTS_TOPIC, event, {"status": str(change["status"])})
        except BusError as exc:
            log.error("alert %s recorded but not published: %s", change["id"], exc)
