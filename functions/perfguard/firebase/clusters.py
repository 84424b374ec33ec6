"""Crash clusters after an import: a snapshot per touched cluster (crash_clusters), and the cluster alerts.

New clusters and regressions are judged on this run's new events against the clusters' history; velocity on
the trailing window of fatal crashes against the sessions each version started in it. Each alert is raised
once per episode id (domain/crash_alerts.py) through record_alert_changes, with the cluster's top frames
and its device / OS / memory / process-state breakdown in the context.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from perfguard.api.alerting import record_alert_changes
from perfguard.domain.crash_alerts import (
    NEW,
    VELOCITY,
    Detection,
    Seen,
    VelocityPolicy,
    VelocityStats,
    fast_growing,
    new_and_regressed,
)
from perfguard.runtime import Runtime
from perfguard.warehouse.sql import load_query

TABLE = "crash_clusters"
HISTORY = dt.timedelta(days=90)  # crash_events' retention: a cluster unseen for 90 days is new again
TOP_VALUES = 5  # values per breakdown dimension shown in an alert
CHANGED_BY = "import_firebase"
_ALERT_TYPES = {NEW: "anomaly_detected", VELOCITY: "threshold_exceeded"}


def summarise(runtime: Runtime, cluster_ids: Sequence[str], now: dt.datetime) -> list[dict[str, Any]]:
    """Append a current snapshot of every cluster given; the snapshots."""
    if not cluster_ids:
        return []
    params = {"since": now - HISTORY, "clusters": sorted(cluster_ids)}
    summaries = runtime.warehouse.query(load_query("firebase_cluster_summary"), params)
    breakdowns = breakdown(runtime, cluster_ids, now)
    rows = [{**row, "breakdown": breakdowns.get(row["cluster_id"], {}), "updated_at": now} for row in summaries]
    runtime.warehouse.append_rows(TABLE, rows)
    return rows


def breakdown(runtime: Runtime, cluster_ids: Sequence[str], now: dt.datetime) -> dict[str, dict[str, Any]]:
    """Per cluster: dimension -> {value: events} for the top values of each dimension."""
    params = {"since": now - HISTORY, "clusters": sorted(cluster_ids)}
    found: dict[str, dict[str, dict[str, int]]] = {}
    for row in runtime.warehouse.query(load_query("firebase_cluster_breakdown"), params):
        values = found.setdefault(row["cluster_id"], {}).setdefault(row["dimension"], {})
        if len(values) < TOP_VALUES:
            values[str(row["value"])] = int(row["events"])
    return dict(found)


def detect(runtime: Runtime, new_events: Sequence[Mapping[str, Any]], now: dt.datetime) -> list[Detection]:
    """New, regressed and fast-growing clusters, minus those already alerted."""
    seen = _seen(new_events)
    history = _history(runtime, sorted({s.cluster_id for s in seen}), now)
    detections = new_and_regressed(seen, history) + fast_growing(_velocity(runtime, now), _policy(runtime))
    raised = _already_raised(runtime, [d.alert_id() for d in detections], now)
    return [d for d in detections if d.alert_id() not in raised]


def raise_alerts(runtime: Runtime, detections: Sequence[Detection], now: dt.datetime) -> list[dict[str, Any]]:
    """Record and publish an open alert per detection, with the cluster's context; the rows."""
    if not detections:
        return []
    clusters = {row["cluster_id"]: row for row in _current(runtime, [d.cluster_id for d in detections], now)}
    rows = [_alert_row(d, clusters.get(d.cluster_id, {}), now) for d in detections]
    record_alert_changes(runtime, rows)
    return rows


def _seen(events: Sequence[Mapping[str, Any]]) -> list[Seen]:
    counts: dict[tuple[str, str, str], int] = {}
    for e in events:
        key = (e["cluster_id"], e.get("app_version") or "unknown", e["error_type"])
        counts[key] = counts.get(key, 0) + 1
    return [Seen(cluster, version, error_type, n) for (cluster, version, error_type), n in sorted(counts.items())]


def _history(runtime: Runtime, cluster_ids: list[str], now: dt.datetime) -> dict[str, frozenset[str]]:
    if not cluster_ids:
        return {}
    params = {"since": now - HISTORY, "before": now, "clusters": cluster_ids}
    rows = runtime.warehouse.query(load_query("firebase_cluster_history"), params)
    return {r["cluster_id"]: frozenset(str(r["versions"]).split(",")) for r in rows}


def _velocity(runtime: Runtime, now: dt.datetime) -> list[VelocityStats]:
    params = {"start": now - _policy(runtime).window, "end": now}
    rows = runtime.warehouse.query(load_query("firebase_cluster_velocity"), params)
    return [
        VelocityStats(
            r["cluster_id"], r["app_version"], int(r["crashed_sessions"]), int(r["users"]), int(r["sessions"])
        )
        for r in rows
    ]


def _policy(runtime: Runtime) -> VelocityPolicy:
    s = runtime.settings
    window = dt.timedelta(minutes=s.crash_velocity_window_minutes)
    return VelocityPolicy(s.crash_velocity_percent, s.crash_velocity_min_users, window)


def _already_raised(runtime: Runtime, ids: list[str], now: dt.datetime) -> set[str]:
    if not ids:
        return set()
    rows = runtime.warehouse.query(load_query("firebase_raised_alerts"), {"ids": ids, "since": now - HISTORY})
    return {str(r["id"]) for r in rows}


def _current(runtime: Runtime, cluster_ids: list[str], now: dt.datetime) -> list[dict[str, Any]]:
    params = {"since": now - HISTORY, "clusters": sorted(set(cluster_ids))}
    summaries = runtime.warehouse.query(load_query("firebase_cluster_summary"), params)
    breakdowns = breakdown(runtime, cluster_ids, now)
    return [{**row, "breakdown": breakdowns.get(row["cluster_id"], {})} for row in summaries]


def _alert_row(d: Detection, cluster: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
    stack = json.loads(cluster.get("representative_stack") or "[]")
    context = {
        "cluster_id": d.cluster_id,
        "issue_id": cluster.get("issue_id"),
        "title": cluster.get("title"),
        "error_type": cluster.get("error_type"),
        "exception_type": cluster.get("exception_type"),
        "app": cluster.get("app"),
        "platform": cluster.get("platform"),
        "app_version": d.app_version,
        "versions": cluster.get("versions"),
        "first_seen": _text(cluster.get("first_seen")),
        "events": cluster.get("events"),
        "users": cluster.get("users"),
        "top_frames": stack,
        "breakdown": cluster.get("breakdown", {}),
        "unit": "%" if d.rule == VELOCITY else "events",
        # Slack and email show top_frames and breakdown under Investigation and this first (perfguard.notify).
        "recommendations": [_first_step(d)],
    }
    return {
        "id": d.alert_id(),
        "alert_type": _ALERT_TYPES.get(d.rule, "trend_degradation"),
        "rule": d.rule,
        "metric_type": "crash_rate",
        "endpoint_or_operation": f"crash {cluster.get('platform', '')}: {stack[0] if stack else d.cluster_id}",
        "current_value": d.value,
        "threshold_value": d.threshold,
        "severity": d.severity,
        "status": "open",
        "context": json.dumps(context, default=str),
        "triggered_at": now,
        "changed_at": now,
        "changed_by": CHANGED_BY,
    }


def _first_step(d: Detection) -> str:
    """The first thing to do about the cluster."""
    first_step = {
        VELOCITY: f"Halt the rollout of {d.app_version} or switch the feature off, then fix the top frame.",
        NEW: "Triage the top frame; several clusters with one issue_id are Dart errors lumped under FlutterError.",
    }
    return first_step.get(d.rule, f"Check the fix for this crash made it into {d.app_version}.")


def _text(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, dt.datetime) else None if value is None else str(value)
