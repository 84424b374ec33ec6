"""Incremental import state: a watermark per export table, and how far back each export must be re-read.

Each run reads [watermark - lookback, now) of a table: the lookback covers how late the export delivers
rows (firebase-exports.md), and the stored ids make re-reading harmless. Daily tables change once a day, so
they are re-read at most hourly; the streaming tables every run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from perfguard.runtime import Runtime
from perfguard.warehouse.sql import load_query

TABLE = "firebase_import_state"
_STATE_HORIZON = dt.timedelta(days=90)  # the state table's retention: older watermarks are gone anyway


@dataclass(frozen=True)
class Lateness:
    """How far back a kind of export table is re-read, and how often it is worth reading."""

    lookback: dt.timedelta
    every: dt.timedelta


# Batch Crashlytics/sessions load once a day at no fixed time (the first load up to 48 h): 3 days back.
BATCH = Lateness(dt.timedelta(days=3), dt.timedelta(hours=1))
# Streaming tables are minutes behind; 2 h covers a device that sends its crash on the next start.
REALTIME = Lateness(dt.timedelta(hours=2), dt.timedelta(0))
# GA4 daily tables take late events for up to 72 h; each read scans whole shards (no partitions inside a
# shard), and a busy property's shard is GBs, so the daily shards are re-read every 6 hours, and the intraday
# shard (itself minutes to hours behind) hourly (bench/README.md has the bytes).
GA4_DAILY = Lateness(dt.timedelta(days=3), dt.timedelta(hours=6))
GA4_INTRADAY = Lateness(dt.timedelta(hours=26), dt.timedelta(hours=1))
# Performance is daily only and about 2 days late (cut at 06:59 UTC).
PERFORMANCE = Lateness(dt.timedelta(days=3), dt.timedelta(hours=1))
# Jobs over settled data (retention cohorts): once a day.
DAILY_JOB = Lateness(dt.timedelta(0), dt.timedelta(days=1))


@dataclass(frozen=True)
class State:
    """The stored watermark of one source, and when it was imported."""

    watermark: dt.datetime
    imported_at: dt.datetime


def load_states(runtime: Runtime, now: dt.datetime) -> dict[str, State]:
    """The latest state of every source imported within the state table's retention."""
    rows = runtime.warehouse.query(load_query("firebase_watermarks"), {"since": now - _STATE_HORIZON})
    return {str(r["source"]): State(_aware(r["watermark"]), _aware(r["imported_at"])) for r in rows}


def read_range(state: State | None, lateness: Lateness, now: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    """The event-time range to read now, or None when the source was read too recently to have changed."""
    if state is not None and now - state.imported_at < lateness.every:
        return None
    since = min(state.watermark, now) if state is not None else now
    return since - lateness.lookback, now


def save_states(runtime: Runtime, imported: Mapping[str, tuple[dt.datetime, int]], now: dt.datetime) -> None:
    """Append the new watermark (and row count) of every source imported by this run."""
    rows = [
        {"source": source, "watermark": watermark, "imported_at": now, "rows": count}
        for source, (watermark, count) in sorted(imported.items())
    ]
    if rows:
        runtime.warehouse.append_rows(TABLE, rows)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
