"""Crashlytics export -> `crash_events` (one row per event_id, with our cluster id) and fatal crash metrics."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

from perfguard.domain.crash_fingerprint import Frame, cluster_id, frames_from_rows, top_frames
from perfguard.firebase.exports import ExportTable
from perfguard.firebase.templates import optional_column, render, source_ref
from perfguard.runtime import Runtime

TABLE = "crash_events"


def read_new_events(
    runtime: Runtime, table: ExportTable, columns: frozenset[str], start: dt.datetime, end: dt.datetime
) -> list[dict[str, Any]]:
    """The events of one export table in [start, end) not stored yet, as crash_events rows (not appended)."""
    sql = render(
        "firebase_crash_events",
        source_ref(runtime, table),
        {
            "issue_title": optional_column(columns, "e.{}", "issue_title"),
            "error_title": optional_column(columns, "e.{}[SAFE_OFFSET(0)].title", "errors", "error"),
            "error_frames": optional_column(columns, "TO_JSON_STRING(e.{}[SAFE_OFFSET(0)].frames)", "errors", "error"),
        },
    )
    rows = runtime.warehouse.query(sql, {"start": start, "end": end})
    now = runtime.clock()
    return [crash_event(row, table, now) for row in rows]


def crash_event(row: Mapping[str, Any], table: ExportTable, imported_at: dt.datetime) -> dict[str, Any]:
    """One crash_events row from a row of firebase_crash_events.sql: frames chosen, cluster computed."""
    frames = _frames(row)
    exception_type = row.get("exception_type") or row.get("error_title") or ""
    error_type = str(row.get("error_type") or "UNKNOWN")
    return {
        "event_id": row["event_id"],
        "cluster_id": cluster_id(row.get("issue_id"), error_type, str(exception_type), frames),
        "issue_id": row.get("issue_id"),
        "issue_title": row.get("issue_title"),
        "error_type": error_type,
        "exception_type": exception_type or None,
        "app": table.app,
        "platform": table.platform,
        "app_version": row.get("app_version"),
        "event_timestamp": row["event_timestamp"],
        "session_id": row.get("session_id"),
        "installation_id": row.get("installation_id"),
        "top_frames": json.dumps(top_frames(frames)),
        "device_model": row.get("device_model"),
        "device_manufacturer": row.get("device_manufacturer"),
        "os_version": row.get("os_version"),
        "memory_free": row.get("memory_free"),
        "memory_used": row.get("memory_used"),
        "process_state": row.get("process_state"),
        "source_table": f"{table.dataset}.{table.name}",
        "imported_at": imported_at,
    }


def _frames(row: Mapping[str, Any]) -> list[Frame]:
    """The last-thrown exception's frames (Android), else the first NSError's (Apple), else the blame frame."""
    for key in ("exception_frames", "error_frames"):
        frames = _json(row.get(key))
        if frames:
            return frames_from_rows(frames)
    blame = _json(row.get("blame_frame"))
    return frames_from_rows([blame]) if isinstance(blame, dict) else []


def _json(text: Any) -> Any:
    # BigQuery's TO_JSON_STRING(NULL) is the text 'null'; DuckDB gives NULL; a struct may arrive parsed.
    if text is None or isinstance(text, (list, dict)):
        return text
    return json.loads(str(text))


def unique_events(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with a new event_id only (an event in both the batch and the _REALTIME table of one run)."""
    seen: set[str] = set()
    kept = []
    for row in rows:
        if row["event_id"] not in seen:
            seen.add(row["event_id"])
            kept.append(row)
    return kept


def append_events(runtime: Runtime, events: list[dict[str, Any]]) -> None:
    """Store the new crash events."""
    if events:
        runtime.warehouse.append_rows(TABLE, events)
