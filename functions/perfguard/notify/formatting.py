"""How alert messages write values, units and moments for people."""

from __future__ import annotations

import datetime as dt

from perfguard.notify.port import AlertEvent


def amount(value: float | None, unit: str) -> str:
    """A value with its unit: `2,450 ms`, `99.2 %`; `n/a` when there is none."""
    if value is None:
        return "n/a"
    number = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.4g}"
    return f"{number} {unit}".strip()


def unit_of(event: AlertEvent) -> str:
    unit = event.context.get("unit")
    if isinstance(unit, str):
        return unit
    latency = "threshold_ms" in event.context or event.metric_type.endswith(("latency", "_ms"))
    return "ms" if latency else ""


def when(moment: dt.datetime) -> str:
    """A moment for people: `2026-11-25 09:05 UTC`."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
