"""`get_kpi_status`: the KPIDashboard."""

from __future__ import annotations

import datetime as dt

from werkzeug.wrappers import Request, Response

from perfguard.api.auth import READ
from perfguard.api.responses import json_response
from perfguard.domain.kpi import Reading, dashboard
from perfguard.domain.timestamps import format_rfc3339
from perfguard.runtime import Runtime
from perfguard.warehouse.sql import load_query


def get_kpi_status(runtime: Runtime, request: Request) -> Response:
    """Every KPI of DESIGN.md with target, value, status and sample size."""
    runtime.keys.authenticate(request.headers.get("Authorization"), READ)
    now = runtime.clock()
    window = dt.timedelta(minutes=runtime.settings.kpi_window_minutes)
    readings = {"api_latency_p95": _latency(runtime, now - window, now)}
    body = dashboard(runtime.kpis(), readings)
    return json_response(
        {"generated_at": format_rfc3339(now), "window_minutes": runtime.settings.kpi_window_minutes, **body}
    )


def _latency(runtime: Runtime, start: dt.datetime, end: dt.datetime) -> Reading:
    rows = runtime.warehouse.query(
        load_query("overall_p95"), {"metric_type": "api_latency", "start": start, "end": end}
    )
    count = int(rows[0]["count"]) if rows else 0
    value = rows[0]["p95"] if count else None
    return Reading(None if value is None else float(value), count, "all endpoints, every source")
