"""GA4 export -> journey_events and ab_exposures, transformed inside the warehouse (INSERT ... SELECT)."""

from __future__ import annotations

import datetime as dt

from perfguard.firebase.exports import ExportTable
from perfguard.firebase.templates import render, source_ref
from perfguard.runtime import Runtime


def import_shard(runtime: Runtime, table: ExportTable, apps: list[str], start: dt.datetime, end: dt.datetime) -> None:
    """Insert the journey steps and A/B exposures of one GA4 shard in [start, end) that are not stored yet."""
    params = {
        "start": start,
        "end": end,
        "start_us": micros(start),
        "end_us": micros(end),
        "apps": apps,
        "now": runtime.clock(),
    }
    for name in ("firebase_ga4_journeys", "firebase_ga4_exposures"):
        runtime.warehouse.query(render(name, source_ref(runtime, table)), params)


def micros(moment: dt.datetime) -> int:
    """Microseconds since the epoch (GA4's event_timestamp)."""
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def shard_days(start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    """The shard dates that may hold events of [start, end): one day more on each side, because a shard is a
    day of the property's reporting time zone, not of UTC."""
    first, last = start.date() - dt.timedelta(days=1), end.date() + dt.timedelta(days=1)
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
