"""The mobile KPIs of the dashboard (get_kpi_status): crash-free sessions, swap success and completion, D1
and 4-week retention, from what import_firebase stored.

Crash-free sessions are counted over the dashboard's window from the crash_rate rows (parts per app,
platform and version). The journey and retention KPIs need longer, settled windows than the dashboard's
hour, so they show the latest `kpi:` gauge row of the last day (written every import run, retention daily).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from perfguard.domain.kpi import Reading
from perfguard.runtime import Runtime
from perfguard.warehouse.sql import load_query

GAUGE_AGE = dt.timedelta(days=2)  # a gauge older than this is stale: the KPI shows no data
_MS_PER_MINUTE = 60_000.0


def readings(runtime: Runtime, start: dt.datetime, end: dt.datetime) -> dict[str, Reading]:
    """Readings of crash_free_sessions, swap_success_rate, swap_completion_median, d1_retention, retention_4w."""
    gauges = _gauges(runtime, end)
    return {
        "crash_free_sessions": crash_free_sessions(runtime, start, end),
        "swap_success_rate": _gauge(gauges, "kpi:swap_success_rate", "journeys started in the last day, settled"),
        "swap_completion_median": _gauge(
            gauges, "kpi:swap_completion_median", "completed swaps of the last day", scale=1 / _MS_PER_MINUTE
        ),
        "d1_retention": _gauge(gauges, "kpi:d1_retention", "the 7 latest settled install cohorts"),
        "retention_4w": _gauge(gauges, "kpi:retention_4w", "the 7 latest settled install cohorts (days 21-27)"),
    }


def crash_free_sessions(runtime: Runtime, start: dt.datetime, end: dt.datetime) -> Reading:
    """100 x (1 - crashed sessions / sessions) over the window, with a part per app, platform and version."""
    rows = runtime.warehouse.query(load_query("firebase_crash_free"), {"start": start, "end": end})
    totals: dict[str, list[int]] = {}
    for row in rows:
        key = f"{row['app']} {row['platform']} {row['app_version']}"
        counts = totals.setdefault(key, [0, 0])
        counts[0] += int(row["sessions"])
        counts[1] += int(row["crashed_sessions"])
    parts = {key: _crash_free(sessions, crashed) for key, (sessions, crashed) in totals.items()}
    sessions = sum(counts[0] for counts in totals.values())
    crashed = sum(counts[1] for counts in totals.values())
    whole = _crash_free(sessions, crashed)
    return Reading(whole.value, whole.sample_size, "sessions started in the window; parts: app platform version", parts)


def _crash_free(sessions: int, crashed: int) -> Reading:
    return Reading(100.0 * (1 - crashed / sessions) if sessions else None, sessions)


def _gauges(runtime: Runtime, end: dt.datetime) -> dict[str, Mapping[str, Any]]:
    rows = runtime.warehouse.query(load_query("firebase_latest_gauges"), {"start": end - GAUGE_AGE, "end": end})
    return {str(row["endpoint_or_operation"]): row for row in rows}


def _gauge(gauges: Mapping[str, Mapping[str, Any]], name: str, note: str, scale: float = 1.0) -> Reading:
    row = gauges.get(name)
    if row is None:
        return Reading(None, 0, f"no {name} gauge in the last {GAUGE_AGE.days} days")
    tags = json.loads(row["tags"]) if isinstance(row["tags"], str) else dict(row["tags"] or {})
    sample = int(tags.get("sample_size", 1))
    return Reading(float(row["value"]) * scale, sample, f"{note}; computed {row['timestamp']}")
