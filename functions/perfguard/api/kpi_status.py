"""`get_kpi_status`: the KPIDashboard."""

from __future__ import annotations

import datetime as dt

from werkzeug.wrappers import Request, Response

from perfguard.api import kpi_canisters, kpi_mobile
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
    readings.update(kpi_canisters.readings(runtime, now - window, now))
    readings.update(kpi_mobile.readings(runtime, now - window, now))
    body = dashboard(runtime.kpis(), readings)
    return json_response(
        {"generated_at": format_rfc3339(now), "window_minutes": runtime.settings.kpi_window_minutes, **body}
    )


def _latency(runtime: Runtime, start: dt.datetime, end: dt.datetime) -> Reading:
    """Overall P95 of the window, with each endpoint's P95 as a part (the KPI holds per endpoint and overall)."""
    window = {"metric_type": "api_latency", "start": start, "end": end}
    rows = runtime.warehouse.query(load_query("overall_p95"), window)
    count = int(rows[0]["count"]) if rows else 0
    value = float(rows[0]["p95"]) if count else None
    groups = runtime.warehouse.query(
        load_query("summary_exact"), {**window, "endpoint_or_operation": None, "interval_us": 0}
    )
    parts = {g["endpoint_or_operation"]: Reading(float(g["p95"]), int(g["count"])) for g in groups}
    return Reading(value, count, "all endpoints, every source; parts: each endpoint", parts)
