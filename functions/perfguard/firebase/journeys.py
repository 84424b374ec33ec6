"""Journeys: user_journey records into journey_events, and the swap KPIs as funnels over journey ids.

Swap success within SLA = swap journeys started in the trailing day that completed within `swap_sla_minutes`
of their start, over those settled (a journey still inside its SLA is in progress, not a failure; a `failed`
step settles it at once). Median swap completion = the median start-to-completed time of the journeys that
completed within a day. Both are written as the contract's `kpi:` gauge rows of performance_metrics.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from perfguard.domain.funnel import Event, FunnelResult, FunnelSpec, funnel
from perfguard.domain.metric import MetricType, PerformanceMetric, Unit, derived_metric
from perfguard.firebase.sessions import SOURCE
from perfguard.runtime import Runtime
from perfguard.warehouse.sql import load_query

SWAP = "swap"
STARTED, COMPLETED, FAILED = "started", "completed", "failed"
TRAILING = dt.timedelta(days=1)  # journeys started in the last day make the gauges
COMPLETION_WINDOW = dt.timedelta(days=1)  # a swap completing later than a day is not counted in the median
_IMPORT_LOOKBACK = dt.timedelta(hours=2)  # user_journey records arrive within the ingest's skew limits


@dataclass(frozen=True)
class SwapKpis:
    """The two swap funnels: within the SLA (success rate) and within a day (completion time)."""

    within_sla: FunnelResult
    within_day: FunnelResult

    def success_percent(self) -> float | None:
        """Swaps completed within the SLA, in % of settled swaps."""
        rate = self.within_sla.completion_rate()
        return None if rate is None else 100.0 * rate

    def median_ms(self) -> float | None:
        """The median start-to-completed time, in ms."""
        median = self.within_day.median_time_to_convert()
        return None if median is None else median.total_seconds() * 1000.0


def import_metric_journeys(runtime: Runtime, now: dt.datetime) -> None:
    """Copy the recent user_journey records with journey tags into journey_events (in the warehouse)."""
    params = {"start": now - _IMPORT_LOOKBACK, "end": now + dt.timedelta(minutes=5), "now": now}
    runtime.warehouse.query(load_query("firebase_metric_journeys"), params)


def swap_kpis(runtime: Runtime, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> SwapKpis:
    """The swap funnels of the journeys started in [start, end), judged at `now`."""
    params = {
        "journey": SWAP,
        "first_step": STARTED,
        "start": start,
        "end": end,
        "until": now + dt.timedelta(seconds=1),
    }
    rows = runtime.warehouse.query(load_query("firebase_journey_steps"), params)
    events = [Event(r["journey_id"], r["step"], _aware(r["timestamp"])) for r in rows]
    sla = dt.timedelta(minutes=runtime.settings.swap_sla_minutes)
    steps = (STARTED, COMPLETED)
    return SwapKpis(
        funnel(events, FunnelSpec(steps, sla, abandon=(FAILED,)), now),
        funnel(events, FunnelSpec(steps, COMPLETION_WINDOW, abandon=(FAILED,)), now),
    )


def gauge_rows(runtime: Runtime, kpis: SwapKpis, now: dt.datetime) -> list[PerformanceMetric]:
    """The contract's kpi: gauge rows (one per computation minute), for the values that exist."""
    minute = now.strftime("%Y%m%d%H%M")
    rows = []
    settled = kpis.within_sla.converted + sum(kpis.within_sla.dropped_after)
    for name, value, unit, sample in (
        ("swap_success_rate", kpis.success_percent(), Unit.PERCENTAGE, settled),
        ("swap_completion_median", kpis.median_ms(), Unit.MS, len(kpis.within_day.times_to_convert)),
    ):
        if value is not None:
            tags = {"journey": SWAP, "measure": name, "sample_size": str(sample)}
            rows.append(derived_metric(f"kpi_{name}_{minute}", MetricType.USER_JOURNEY, f"kpi:{name}", value, unit,
                                       now, tags, source=SOURCE, environment=runtime.settings.environment))  # fmt: skip
    return rows


def write_gauges(runtime: Runtime, now: dt.datetime) -> list[PerformanceMetric]:
    """Compute the swap KPIs over the trailing day and store their gauge rows; the rows."""
    rows = gauge_rows(runtime, swap_kpis(runtime, now - TRAILING, now, now), now)
    runtime.warehouse.ingest_metrics(rows, now)
    return rows


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
