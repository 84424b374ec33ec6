"""`import_firebase`: every 5 minutes, import what the Firebase BigQuery exports added since the last run.

Per export table: read [watermark - lookback, now) (firebase/watermarks.py), skip what is stored already
(by id), store the new rows, then move the watermark. Crashlytics -> crash_events (clustered) and fatal
crash metrics; sessions (or GA4 as a fallback) -> session metrics; GA4 -> journey_events and ab_exposures
(in the warehouse); Performance Monitoring -> api_latency and user_journey records (firebase/performance.py).
Then the crash clusters are summarised and checked for new / regressed / fast-growing ones, user_journey
records join journey_events, and the KPI gauges are written (swaps every run, retention once a day).
A missing export table is skipped: it may never be switched on.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from perfguard.bus.cloudevent import Message
from perfguard.domain.metric import PerformanceMetric
from perfguard.firebase import (
    clusters,
    crash_free,
    crashes,
    ga4,
    journeys,
    performance,
    retention_kpis,
    sessions,
    watermarks,
)
from perfguard.firebase.catalog import dataset_columns
from perfguard.firebase.exports import CRASHLYTICS, PERFORMANCE, SESSIONS, ExportTable, app_tables, ga4_tables
from perfguard.firebase.watermarks import Lateness
from perfguard.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class ImportRun:
    """What one run imported, per source, and the rows it produced."""

    now: dt.datetime
    imported: dict[str, tuple[dt.datetime, int]] = field(default_factory=dict)
    crash_events: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[PerformanceMetric] = field(default_factory=list)
    fallback_apps: list[str] = field(default_factory=list)  # apps without a sessions export: GA4 sessions
    alerts: list[dict[str, Any]] = field(default_factory=list)
    gauges: list[PerformanceMetric] = field(default_factory=list)
    states: dict[str, watermarks.State] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per phase, for the log and the bench

    def timed(self, phase: str, work: Callable[[], object]) -> None:
        """Run one phase and record how long it took."""
        started = time.perf_counter()
        work()
        self.seconds[phase] = round(time.perf_counter() - started, 3)

    def summary(self) -> dict[str, Any]:
        """Counts for the log and the HTTP/CLI caller."""
        return {
            "tables": len(self.imported),
            "crash_events": len(self.crash_events),
            "metrics": len(self.metrics),
            "alerts": [alert["id"] for alert in self.alerts],
            "gauges": {gauge.endpoint_or_operation: round(gauge.value, 3) for gauge in self.gauges},
            "seconds": dict(self.seconds),
        }


def import_firebase(runtime: Runtime, message: Message | None = None) -> dict[str, Any]:
    """Import the exports incrementally; a summary of what was imported."""
    del message  # any tick will do: what to read depends on the stored watermarks and the clock
    run = ImportRun(runtime.clock())
    states = run.states = watermarks.load_states(runtime, run.now)
    run.timed("crashlytics", lambda: _import_crashes(runtime, run, states))
    run.timed("sessions", lambda: _import_sessions(runtime, run, states))
    run.timed("ga4", lambda: _import_ga4(runtime, run, states))
    run.timed("performance", lambda: _import_performance(runtime, run, states))
    run.timed("store", lambda: _store(runtime, run))
    run.timed("after", lambda: _after_import(runtime, run))
    watermarks.save_states(runtime, run.imported, run.now)
    log.info("firebase import: %s", run.summary())
    return run.summary()


def _store(runtime: Runtime, run: ImportRun) -> None:
    crashes.append_events(runtime, run.crash_events)
    runtime.warehouse.ingest_metrics(run.metrics, run.now)


def _after_import(runtime: Runtime, run: ImportRun) -> None:
    """Work on what was imported: cluster snapshots and their alerts, then the journey KPI gauges."""
    touched = sorted({event["cluster_id"] for event in run.crash_events})
    clusters.summarise(runtime, touched, run.now)
    run.alerts = clusters.raise_alerts(runtime, clusters.detect(runtime, run.crash_events, run.now), run.now)
    journeys.import_metric_journeys(runtime, run.now)
    run.gauges = journeys.write_gauges(runtime, run.now) + _retention(runtime, run)
    _crash_free_daily(runtime, run)


def _crash_free_daily(runtime: Runtime, run: ImportRun) -> None:
    """Once per UTC day, yesterday's crash-free sessions and users per app, platform and version."""
    source = "perfguard.crash_free_daily"
    yesterday = run.now.date() - dt.timedelta(days=1)
    state = run.states.get(source)
    if state is not None and state.watermark.date() >= yesterday:
        return
    existing = dataset_columns(runtime, runtime.settings.firebase_sessions_dataset)
    rows = crash_free.daily_rows(runtime, yesterday, existing)
    runtime.warehouse.ingest_metrics(rows, run.now)
    run.imported[source] = (dt.datetime.combine(yesterday, dt.time(), dt.UTC), len(rows))


def _retention(runtime: Runtime, run: ImportRun) -> list[PerformanceMetric]:
    """Once a day, D1 and 4-week retention from the GA4 daily shards."""
    dataset = runtime.settings.firebase_analytics_dataset
    source = f"{dataset}.retention"
    if not dataset or watermarks.read_range(run.states.get(source), watermarks.DAILY_JOB, run.now) is None:
        return []
    existing = frozenset(dataset_columns(runtime, dataset))
    d1, week4 = retention_kpis.compute(runtime, existing, run.now.date())
    rows = retention_kpis.gauge_rows(runtime, d1, week4, run.now)
    runtime.warehouse.ingest_metrics(rows, run.now)
    run.imported[source] = (run.now, len(rows))
    return rows


def _each_due(
    run: ImportRun,
    states: dict[str, watermarks.State],
    tables: list[ExportTable],
    existing: dict[str, frozenset[str]],
    lateness: Lateness,
) -> list[tuple[ExportTable, frozenset[str], dt.datetime, dt.datetime]]:
    """The existing tables due for reading, with their columns and the range to read."""
    due = []
    for table in tables:
        if table.name not in existing:
            continue
        source = f"{table.dataset}.{table.name}"
        span = watermarks.read_range(states.get(source), lateness, run.now)
        if span is not None:
            due.append((table, existing[table.name], *span))
    return due


def _import_crashes(runtime: Runtime, run: ImportRun, states: dict[str, watermarks.State]) -> None:
    existing = dataset_columns(runtime, runtime.settings.firebase_crashlytics_dataset)
    for realtime, lateness in ((False, watermarks.BATCH), (True, watermarks.REALTIME)):
        tables = app_tables(runtime.settings, CRASHLYTICS, realtime)
        for table, columns, start, end in _each_due(run, states, tables, existing, lateness):
            events = crashes.read_new_events(runtime, table, columns, start, end)
            run.crash_events.extend(events)
            run.imported[f"{table.dataset}.{table.name}"] = (end, len(events))
    run.crash_events = crashes.unique_events(run.crash_events)


def _import_sessions(runtime: Runtime, run: ImportRun, states: dict[str, watermarks.State]) -> None:
    existing = dataset_columns(runtime, runtime.settings.firebase_sessions_dataset)
    with_sessions = {t.app for t in app_tables(runtime.settings, SESSIONS) if _has(existing, t)}
    for realtime, lateness in ((False, watermarks.BATCH), (True, watermarks.REALTIME)):
        tables = app_tables(runtime.settings, SESSIONS, realtime)
        for table, _columns, start, end in _each_due(run, states, tables, existing, lateness):
            found = sessions.read_session_starts(runtime, table, start, end)
            run.metrics.extend(found)
            run.imported[f"{table.dataset}.{table.name}"] = (end, len(found))
    crashed = [e for e in run.crash_events if e["app"] in with_sessions]
    run.metrics.extend(sessions.fatal_crash_metrics(runtime, crashed))
    run.fallback_apps = sorted(set(runtime.settings.firebase_app_ids) - with_sessions)


def _import_performance(runtime: Runtime, run: ImportRun, states: dict[str, watermarks.State]) -> None:
    existing = dataset_columns(runtime, runtime.settings.firebase_performance_dataset)
    tables = app_tables(runtime.settings, PERFORMANCE)
    for table, _columns, start, end in _each_due(run, states, tables, existing, watermarks.PERFORMANCE):
        records = performance.read_new_records(runtime, table, start, end)
        run.metrics.extend(records)
        run.imported[f"{table.dataset}.{table.name}"] = (end, len(records))


def _has(existing: dict[str, frozenset[str]], table: ExportTable) -> bool:
    return table.name in existing or f"{table.name}_REALTIME" in existing


def _import_ga4(runtime: Runtime, run: ImportRun, states: dict[str, watermarks.State]) -> None:
    dataset = runtime.settings.firebase_analytics_dataset
    if not dataset:
        return
    existing = dataset_columns(runtime, dataset)
    apps = list(runtime.settings.firebase_app_ids)
    for kind, lateness in (("events", watermarks.GA4_DAILY), ("events_intraday", watermarks.GA4_INTRADAY)):
        span = watermarks.read_range(states.get(f"{dataset}.{kind}"), lateness, run.now)
        if span is None:
            continue
        start, end = span
        shards = [t for t in ga4_tables(runtime.settings, ga4.shard_days(start, end)) if t.name in existing]
        for table in shards:
            if _is_kind(table, kind):
                ga4.import_shard(runtime, table, apps, start, end)
                if run.fallback_apps:
                    run.metrics.extend(sessions.read_ga4_sessions(runtime, table, run.fallback_apps, start, end))
        run.imported[f"{dataset}.{kind}"] = (end, len(shards))


def _is_kind(table: ExportTable, kind: str) -> bool:
    intraday = table.name.startswith("events_intraday_")
    return intraday if kind == "events_intraday" else not intraday
