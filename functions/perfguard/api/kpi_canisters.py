"""The canister KPIs of the dashboard: cycles runway and memory headroom, one part per canister.

Each canister's part is its latest `runway_days` / `headroom_pct` row of the window (the canister poller's);
the KPI's value is the lowest part (the KPI holds only if it holds for every canister).
"""

from __future__ import annotations

import datetime as dt

from perfguard.domain.kpi import Reading
from perfguard.runtime import Runtime
from perfguard.warehouse.sql import load_query

KPI_MEASURES = {"canister_cycles_runway": "runway_days", "canister_memory_headroom": "headroom_pct"}


def readings(runtime: Runtime, start: dt.datetime, end: dt.datetime) -> dict[str, Reading]:
    """The readings of the canister KPIs over [start, end)."""
    rows = runtime.warehouse.query(load_query("canister_kpi"), {"start": start, "end": end})
    return {key: _reading([r for r in rows if r["measure"] == measure]) for key, measure in KPI_MEASURES.items()}


def _reading(rows: list[dict[str, object]]) -> Reading:
    parts = {str(r["name"]): Reading(float(str(r["value"])), 1) for r in rows}
    values = [part.value for part in parts.values() if part.value is not None]
    note = "lowest canister (latest poll of each); parts: each canister"
    return Reading(min(values) if values else None, len(parts), note, parts)
