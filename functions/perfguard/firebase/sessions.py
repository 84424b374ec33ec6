"""Sessions and fatal crashes -> `crash_rate` rows of performance_metrics (the contract of the crash-free rule).

One `session_start` row per session (id fb_session_<session_id>, at the session start) and one `fatal_crash`
row per crashed session (id fb_crash_<session_id>, at the crash); value 1, unit count, endpoint
`app_sessions`, source `firebase_import`. Ids are deterministic, so ingest_metrics skips a re-import.
The denominator is the Firebase sessions export; an app without one falls back to GA4 (session_start and
app_exception with fatal = 1, keyed by user_pseudo_id + ga_session_id).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from perfguard.domain.metric import MetricType, Outcome, PerformanceMetric, Unit, derived_metric
from perfguard.firebase.exports import ExportTable
from perfguard.firebase.templates import render, source_ref
from perfguard.runtime import Runtime

SOURCE = "firebase_import"
ENDPOINT = "app_sessions"
SESSION_START, FATAL_CRASH = "session_start", "fatal_crash"


def read_session_starts(
    runtime: Runtime, table: ExportTable, start: dt.datetime, end: dt.datetime
) -> list[PerformanceMetric]:
    """The session_start rows of the sessions of one export table in [start, end) not stored yet."""
    sql = render("firebase_session_starts", source_ref(runtime, table))
    rows = runtime.warehouse.query(sql, {"start": start, "end": end})
    return [
        session_metric(
            runtime,
            f"fb_session_{r['session_id']}",
            SESSION_START,
            r["event_timestamp"],
            table.app,
            table.platform,
            r.get("app_version"),
        )
        for r in rows
    ]


def fatal_crash_metrics(runtime: Runtime, events: Iterable[Mapping[str, Any]]) -> list[PerformanceMetric]:
    """One fatal_crash row per crashed session (by event id when the event has no session) of FATAL events."""
    metrics: dict[str, PerformanceMetric] = {}
    for e in events:
        if e["error_type"] != "FATAL":
            continue
        key = f"fb_crash_{e.get('session_id') or e['event_id']}"
        if key not in metrics:
            metrics[key] = session_metric(
                runtime, key, FATAL_CRASH, e["event_timestamp"], e["app"], e["platform"], e.get("app_version")
            )
    return list(metrics.values())


def read_ga4_sessions(
    runtime: Runtime, table: ExportTable, apps: list[str], start: dt.datetime, end: dt.datetime
) -> list[PerformanceMetric]:
    """session_start / fatal_crash rows from one GA4 shard (the fallback without a sessions export)."""
    params = {"start_us": _micros(start), "end_us": _micros(end), "apps": apps}
    rows = runtime.warehouse.query(render("firebase_ga4_sessions", source_ref(runtime, table)), params)
    metrics = []
    for r in rows:
        crashed = r["event_name"] == "app_exception"
        prefix = "fb_crash_ga_" if crashed else "fb_session_ga_"
        metrics.append(
            session_metric(
                runtime,
                f"{prefix}{r['user_pseudo_id']}_{r['ga_session_id']}",
                FATAL_CRASH if crashed else SESSION_START,
                r["event_time"],
                r["app"],
                str(r.get("platform") or ""),
                r.get("app_version"),
            )
        )
    return metrics


def session_metric(
    runtime: Runtime, id_: str, event: str, at: dt.datetime, app: str, platform: str, version: str | None
) -> PerformanceMetric:
    """One crash_rate count row of the contract."""
    tags = {"event": event, "app": app, "platform": platform, "app_version": version or "unknown"}
    return derived_metric(id_, MetricType.CRASH_RATE, ENDPOINT, 1.0, Unit.COUNT, at, tags, source=SOURCE,
                          environment=runtime.settings.environment,
                          outcome=Outcome.ERROR if event == FATAL_CRASH else Outcome.OK,
                          release=f"{app}@{version}" if version else None)  # fmt: skip


def _micros(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond
