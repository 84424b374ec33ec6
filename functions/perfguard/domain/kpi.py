"""The KPIs perfguard guards (DESIGN.md), and how a value compares with its target.

Status: `breach` when the target is missed, `at_risk` when the value is past the early-warning level but
still meets the target, `no_data` when there are fewer samples than the KPI needs, `ok` otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

OK, AT_RISK, BREACH, NO_DATA = "ok", "at_risk", "breach", "no_data"
_SEVERITY = {OK: 0, NO_DATA: 1, AT_RISK: 2, BREACH: 3}


@dataclass(frozen=True)
class Kpi:
    """One KPI: its target, direction and early-warning level."""

    key: str
    name: str
    target: float
    higher_is_better: bool
    warn_at: float
    unit: str
    source: str
    min_samples: int = 1


@dataclass(frozen=True)
class Reading:
    """A measured value of a KPI (None when nothing was measured) with its sample size.

    `parts` break the KPI down (per endpoint, per canister): the KPI holds only if every part holds.
    """

    value: float | None
    sample_size: int
    note: str = ""
    parts: Mapping[str, Reading] = field(default_factory=dict)


def default_kpis(latency_threshold_ms: float = 2000.0) -> list[Kpi]:
    """The KPIs of DESIGN.md with their default targets."""
    return [
        Kpi(
            "api_latency_p95",
            "P95 API latency",
            latency_threshold_ms,
            False,
            latency_threshold_ms * 0.8,
            "ms",
            "performance_metrics (api_latency)",
            min_samples=20,
        ),
        Kpi(
            "crash_free_sessions",
            "Crash-free sessions",
            99.5,
            True,
            99.7,
            "percentage",
            "Firebase Crashlytics + sessions export",
        ),
        Kpi("swap_success_rate", "Swap success within SLA", 90.0, True, 92.0, "percentage", "journey events"),
        Kpi(
            "swap_completion_median",
            "Median swap completion (ICP-only path)",
            30.0,
            False,
            25.0,
            "minutes",
            "journey events",
        ),
        Kpi("d1_retention", "D1 retention", 25.0, True, 28.0, "percentage", "GA4 export"),
        Kpi("retention_4w", "4-week retention", 15.0, True, 17.0, "percentage", "GA4 export"),
        Kpi("canister_cycles_runway", "Canister cycles runway (lowest)", 30.0, True, 45.0, "days", "canister polling"),
        Kpi(
            "canister_memory_headroom",
            "Canister memory headroom (lowest)",
            25.0,
            True,
            35.0,
            "percentage",
            "canister polling",
        ),
    ]


def status_of(kpi: Kpi, reading: Reading) -> str:
    """Classify a reading against its KPI."""
    if reading.value is None or reading.sample_size < kpi.min_samples:
        return NO_DATA
    value = reading.value
    if kpi.higher_is_better:
        return BREACH if value < kpi.target else AT_RISK if value < kpi.warn_at else OK
    return BREACH if value > kpi.target else AT_RISK if value > kpi.warn_at else OK


def dashboard(kpis: Sequence[Kpi], readings: Mapping[str, Reading]) -> dict[str, Any]:
    """The KPIDashboard: every KPI with target, value, status and sample size, and the worst status."""
    entries = [_entry(kpi, readings.get(kpi.key, Reading(None, 0, f"no source yet: {kpi.source}"))) for kpi in kpis]
    return {"overall_status": worst([entry["status"] for entry in entries]), "kpis": entries}


def worst(statuses: Sequence[str]) -> str:
    """The most severe of some statuses (breach > at_risk > no_data > ok)."""
    return max(statuses, key=lambda status: _SEVERITY[status], default=NO_DATA)


def _entry(kpi: Kpi, reading: Reading) -> dict[str, Any]:
    parts = [
        {"name": name, "value": part.value, "sample_size": part.sample_size, "status": status_of(kpi, part)}
        for name, part in sorted(reading.parts.items())
    ]
    own = status_of(kpi, reading)
    failing = [part["status"] for part in parts if part["status"] in (AT_RISK, BREACH)]
    return {
        "key": kpi.key,
        "name": kpi.name,
        "target": kpi.target,
        "comparator": ">=" if kpi.higher_is_better else "<=",
        "at_risk_level": kpi.warn_at,
        "value": reading.value,
        "unit": kpi.unit,
        "status": worst([own, *failing]) if own != NO_DATA else own,
        "sample_size": reading.sample_size,
        "source": kpi.source,
        "note": reading.note,
        "parts": parts,
    }
