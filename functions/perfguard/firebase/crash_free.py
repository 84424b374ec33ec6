"""Daily crash-free sessions and users per app, platform and version, stored as `crash_rate` percentage rows.

Written once a day for the previous UTC day: endpoint `crash_free_sessions` (from the session / crash rows,
so the GA4 fallback counts too) and `crash_free_users` (from the sessions export: users counted through
their sessions), tags `app`, `platform`, `app_version`, `day`, `measure`, `sample_size`; ids
`fb_<endpoint>_<day>_<app>_<platform>_<version>` so a re-run stores nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from perfguard.domain.metric import MetricType, PerformanceMetric, Unit, derived_metric
from perfguard.firebase.exports import SESSIONS, app_tables
from perfguard.firebase.sessions import SOURCE
from perfguard.firebase.templates import render, source_ref
from perfguard.runtime import Runtime
from perfguard.warehouse.sql import load_query


def daily_rows(runtime: Runtime, day: dt.date, existing: Mapping[str, frozenset[str]]) -> list[PerformanceMetric]:
    """The crash-free sessions and users rows of one UTC day (sessions tables that exist in `existing`)."""
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    window = {"start": start, "end": start + dt.timedelta(days=1)}
    rows = []
    for r in runtime.warehouse.query(load_query("firebase_crash_free"), window):
        rows.append(
            _row(
                runtime,
                "crash_free_sessions",
                day,
                r["app"],
                r["platform"],
                r["app_version"],
                int(r["sessions"]),
                int(r["crashed_sessions"]),
            )
        )
    for table in app_tables(runtime.settings, SESSIONS):
        if table.name not in existing:
            continue
        for r in runtime.warehouse.query(render("firebase_crash_free_users", source_ref(runtime, table)), window):
            rows.append(
                _row(
                    runtime,
                    "crash_free_users",
                    day,
                    table.app,
                    table.platform,
                    r["app_version"],
                    int(r["users"]),
                    int(r["crashed_users"]),
                )
            )
    return [row for row in rows if row is not None]


def _row(
    runtime: Runtime, name: str, day: dt.date, app: str, platform: str, version: str | None, total: int, crashed: int
) -> PerformanceMetric | None:
    if not total:
        return None
    tags = {
        "measure": name,
        "app": app,
        "platform": platform,
        "app_version": version or "unknown",
        "day": day.isoformat(),
        "sample_size": str(total),
    }
    return derived_metric(f"fb_{name}_{day:%Y%m%d}_{app}_{platform}_{version}", MetricType.CRASH_RATE, name,
                          100.0 * (1 - crashed / total), Unit.PERCENTAGE, dt.datetime.combine(day, dt.time(), dt.UTC),
                          tags, source=SOURCE, environment=runtime.settings.environment)  # fmt: skip
