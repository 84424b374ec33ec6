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
from perfguard.api.incident_context import incident_context, with_incident_context
from perfguard.api.responses import json_response
from perfguard.api.rule_evaluation import ERROR, RuleResult, evaluate_rules
from perfguard.bus.cloudevent import Message
from perfguard.domain.alert_state import reconcile, recorded_alert
from perfguard.domain.thresholds import Breach, ThresholdRule, affects_evaluation
from perfguard.domain.timestamps import format_rfc3339, ns_to_datetime, parse_timestamp_ns
from perfguard.errors import BusError, ValidationError
from perfguard.runtime import Runtime
from perfguard.warehouse.sql import load_query

log = logging.getLogger(__name__)
ALERTS_TOPIC = "performance-alerts"
EVALUATOR = "evaluator"
INGEST_SOURCE = "record_performance_metric"


def check_thresholds(runtime: Runtime, request: Request) -> Response:
    """The alerts that hold at `at` (default now), with their recorded status, and every rule's state
    (firing, ok, no_data or error); `metric_type` narrows both to one metric type."""
    runtime.keys.authenticate(request.headers.get("Authorization"), READ)
    args = p.request_params(request)
    metric_type = p.metric_type(args) if args.get("metric_type") else None
    at = p.moment(args, "at", runtime.clock())
    rules = [rule for rule in runtime.threshold_rules() if metric_type in (None, rule.metric_type)]
    results = evaluate_rules(runtime.warehouse, rules, at)
    alerts: list[dict[str, Any]] = []
    for kind, group in _by_metric_type(results).items():
        known = _known_alerts(runtime, [r.rule for r in group], kind, at)
        alerts.extend(_alert(breach, recorded_alert(breach, known)) for r in group for breach in r.breaches)
    return json_response({"metric_type": metric_type, "at": format_rfc3339(at), "alerts": alerts,
                          "rules": [result.summary() for result in results]})  # fmt: skip


def evaluate_thresholds(runtime: Runtime, message: Message) -> list[dict[str, Any]]:
    """Evaluate now and record what changed, unless `message` announces data this evaluation cannot use."""
    now = runtime.clock()
    with runtime.evaluation.lock:
        if _already_covered(runtime, message, now):
            return []
        runtime.evaluation.last_started = now
        results = evaluate_rules(runtime.warehouse, runtime.threshold_rules(), now)
        changes: list[dict[str, Any]] = []
        for metric_type, group in _by_metric_type(results).items():
            known = _known_alerts(runtime, [r.rule for r in group], metric_type, now)
            changes.extend(_changes(runtime, group, known, now))
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


def _by_metric_type(results: Sequence[RuleResult]) -> dict[str, list[RuleResult]]:
    by_type: dict[str, list[RuleResult]] = {}
    for result in results:
        by_type.setdefault(result.rule.metric_type, []).append(result)
    return by_type


def _known_alerts(
    runtime: Runtime, rules: Sequence[ThresholdRule], metric_type: str, at: dt.datetime
) -> list[dict[str, Any]]:
    """Recent alert rows of `metric_type` raised by these rules: reconciled against the breaches of all of them
    together, so one rule's breaches never resolve another rule's (or another detector's) alerts."""
    names = {rule.name for rule in rules}
    params = {"metric_type": metric_type, "since": at - max(rule.lookback for rule in rules)}
    return [row for row in runtime.warehouse.query(load_query("recent_alerts"), params) if row["rule"] in names]


def _changes(
    runtime: Runtime, results: Sequence[RuleResult], known: Sequence[Mapping[str, Any]], now: dt.datetime
) -> list[dict[str, Any]]:
    breaches = [breach for result in results for breach in result.breaches]
    to_open, cleared = reconcile(breaches, [row for row in known if not _kept(row, results)])
    opened = [_row(breach, now, incident_context(runtime.warehouse, breach, now)) for breach in to_open]
    return opened + [_resolved(row, now) for row in cleared]


def _kept(row: Mapping[str, Any], results: Sequence[RuleResult]) -> bool:
    """Whether an alert keeps its state whatever the breaches say: its rule could not be evaluated (on_error
    keep_last/error), or its group went silent under no_data keep_last."""
    result = next((r for r in results if r.rule.name == row["rule"]), None)
    if result is None:
        return True
    if result.state == ERROR:
        return result.rule.on_error in ("keep_last", "error")
    return result.rule.no_data == "keep_last" and row["endpoint_or_operation"] not in result.groups_with_data


def _row(breach: Breach, now: dt.datetime, investigation: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": breach.alert_id(),
        "alert_type": breach.rule.alert_type,
        "rule": breach.rule.name,
        "metric_type": breach.rule.metric_type,
        "endpoint_or_operation": breach.endpoint_or_operation,
        "current_value": breach.current_value,
        "threshold_value": breach.rule.threshold,
        "severity": breach.rule.severity,
        "status": "open",
        "context": with_incident_context(breach.context(), investigation),
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
        "alert_type": breach.rule.alert_type,
        "rule": breach.rule.name,
        "endpoint_or_operation": breach.endpoint_or_operation,
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
            "alert %s: %s %s value=%.6g (threshold %.6g)",
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
