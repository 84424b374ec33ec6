"""The `performance_metrics` rows a canister poll produces: the contract the alert rules read.

One set per canister per poll, source `canister_poller`, timestamp = poll time (its minute), endpoint_or_operation = the
canister's name, tags `canister_id` and `measure`; ids are `canister_<id>_<measure>_<minute>`, so a poll
re-run within the same minute is not counted twice (ingest skips ids already stored):

* canister_cycles / count / measure=poll, value 1, tag status ok|error|timeout: every attempt, failed too;
* canister_cycles / cycles / balance and burn_per_day; canister_cycles / days / runway_days;
* memory_usage / bytes / memory_bytes (and heap_bytes, stable_bytes); memory_usage / percentage / headroom_pct.
"""

from __future__ import annotations

import datetime as dt
import math

from perfguard.domain.canister_report import Report
from perfguard.domain.canister_status import CanisterStatus
from perfguard.domain.metric import MetricType, Outcome, PerformanceMetric, Unit, derived_metric

SOURCE = "canister_poller"
MAX_RUNWAY_DAYS = 36_500.0  # an idle canister's runway is "forever": stored as 100 years, never inf
_OUTCOMES = {"ok": Outcome.OK, "error": Outcome.ERROR, "timeout": Outcome.TIMEOUT}


def poll_row(name: str, canister_id: str, at: dt.datetime, status: str, environment: str) -> PerformanceMetric:
    """The row of one poll attempt (status ok, error or timeout)."""
    return _row(name, canister_id, at, environment, MetricType.CANISTER_CYCLES, "poll", 1.0, Unit.COUNT,
                {"status": status}, _OUTCOMES[status])  # fmt: skip


def derived_rows(
    name: str, canister_id: str, at: dt.datetime, status: CanisterStatus, report: Report, environment: str
) -> list[PerformanceMetric]:
    """The balance, burn, runway and memory rows of a successful poll (those that could be derived)."""
    cycles, memory = MetricType.CANISTER_CYCLES, MetricType.MEMORY_USAGE
    values: list[tuple[MetricType, str, float | None, Unit]] = [
        (cycles, "balance", float(status.cycles), Unit.CYCLES),
        (cycles, "burn_per_day", float(report.burn.per_day) if report.burn else None, Unit.CYCLES),
        (cycles, "runway_days", min(report.runway.days, MAX_RUNWAY_DAYS) if report.runway else None, Unit.DAYS),
        (memory, "memory_bytes", _float(status.memory_size), Unit.BYTES),
        (memory, "heap_bytes", _float(status.wasm_memory_size), Unit.BYTES),
        (memory, "stable_bytes", _float(status.stable_memory_size), Unit.BYTES),
        (memory, "headroom_pct", min((h.percent for h in report.headrooms), default=None), Unit.PERCENTAGE),
    ]
    return [
        _row(name, canister_id, at, environment, metric_type, measure, value, unit)
        for metric_type, measure, value, unit in values
        if value is not None and math.isfinite(value)
    ]


def _float(value: int | None) -> float | None:
    return None if value is None else float(value)


def _row(
    name: str,
    canister_id: str,
    at: dt.datetime,
    environment: str,
    metric_type: MetricType,
    measure: str,
    value: float,
    unit: Unit,
    extra: dict[str, str] | None = None,
    outcome: Outcome = Outcome.OK,
) -> PerformanceMetric:
    # Timestamp and id are the poll's minute: a re-run in the same minute repeats both, and ingest (which
    # looks for a stored id at the batch's timestamps) skips it.
    at = at.replace(second=0, microsecond=0)
    minute = int(at.timestamp()) // 60
    tags = {"canister_id": canister_id, "measure": measure, **(extra or {})}
    return derived_metric(f"canister_{canister_id}_{measure}_{minute}", metric_type, name, value, unit, at, tags,
                          source=SOURCE, environment=environment, outcome=outcome)  # fmt: skip
