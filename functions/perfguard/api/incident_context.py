"""The investigation context an alert is opened with: the rule's statistic per minute over the last 30 minutes
with sample counts, the worst slices (release, platform, canister, method), the releases first seen in those
minutes (deploys), and the other alerts open at the time.

Built once, when the evaluator opens the alert, from stored records: their tags passed the ingest allowlist and
scrubbing (no user data, no secrets). A failing query leaves its part out; it never holds the alert back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from perfguard.api.rule_evaluation import WindowFetcher
from perfguard.domain.thresholds import MINUTE, Breach, ThresholdRule, floor_minute, series_by_group
from perfguard.errors import WarehouseError
from perfguard.warehouse.port import Warehouse
from perfguard.warehouse.sql import load_query
from perfguard.warehouse.window_stats import with_matchers

log = logging.getLogger(__name__)
SPAN = dt.timedelta(minutes=30)
DEPLOY_HISTORY = dt.timedelta(days=1)
MIN_SLICE_RECORDS = 5  # a slice of fewer records says more about chance than about the cause
SLICES_PER_ATTRIBUTE = 3
MAX_RELATED = 10


def incident_context(warehouse: Warehouse, breach: Breach, at: dt.datetime) -> dict[str, Any]:
    """The parts of the context that could be read; each part is left out when its query fails."""
    end = floor_minute(at)
    parts: dict[str, Callable[[], Any]] = {
        "last_30_minutes": lambda: minutes(warehouse, breach, end),
        "worst_slices": lambda: worst_slices(warehouse, breach, end),
        "deploys": lambda: deploys(warehouse, breach.rule, end),
        "related_alerts": lambda: related_alerts(warehouse, breach),
    }
    context: dict[str, Any] = {}
    for name, read in parts.items():
        try:
            context[name] = read()
        except WarehouseError as exc:
            log.warning("alert context %s left out for %s: %s", name, breach.rule.name, exc)
    return context


def minutes(warehouse: Warehouse, breach: Breach, end: dt.datetime) -> list[dict[str, Any]]:
    """The rule's statistic per minute over the last 30 minutes, with sample counts (minutes without data
    are left out)."""
    rule = dataclasses.replace(breach.rule, window=MINUTE, kind="threshold", lookback=SPAN)
    rows = WindowFetcher(warehouse).rows(rule, end)
    windows = series_by_group(rule, rows).get(breach.endpoint_or_operation, {})
    return [
        {"minute": start.isoformat(), rule.statistic: window.value, "count": window.count}
        for start, window in sorted(windows.items())
        if start >= end - SPAN
    ]


def worst_slices(warehouse: Warehouse, breach: Breach, end: dt.datetime) -> dict[str, list[dict[str, Any]]]:
    """Per attribute with two values or more, its worst values by mean (in the rule's direction)."""
    params: dict[str, Any] = {"metric_type": breach.rule.metric_type, "start": end - SPAN, "end": end,
                              "endpoint": _endpoint(breach)}  # fmt: skip
    sql = with_matchers(load_query("incident_slices"), {"selector": breach.rule.match}, params)
    by_attribute: dict[str, list[Mapping[str, Any]]] = {}
    for row in warehouse.query(sql, params):
        if int(row["count"]) >= MIN_SLICE_RECORDS:
            by_attribute.setdefault(row["attribute"], []).append(row)
    return {name: _worst(breach.rule, rows) for name, rows in sorted(by_attribute.items()) if len(rows) >= 2}


def _endpoint(breach: Breach) -> str | None:
    """The endpoint of the alert's group, without its group_by labels (the slices compare those values)."""
    group = breach.endpoint_or_operation
    return group.split(" {", 1)[0] if group and breach.rule.group_by else group


def _worst(rule: ThresholdRule, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    total = sum(int(row["count"]) for row in rows)
    ranked = sorted(rows, key=lambda row: float(row["mean"]), reverse=rule.higher_is_worse)
    return [
        {"value": row["value"], "count": int(row["count"]), "share": round(int(row["count"]) / total, 4),
         "mean": float(row["mean"]), "max": float(row["max"]), "failures": int(row["failures"])}
        for row in ranked[:SLICES_PER_ATTRIBUTE]
    ]  # fmt: skip


def deploys(warehouse: Warehouse, rule: ThresholdRule, end: dt.datetime) -> list[dict[str, Any]]:
    """Releases of the rule's metric type first seen in the last 30 minutes."""
    params = {"metric_type": rule.metric_type, "start": end - SPAN, "end": end, "since": end - DEPLOY_HISTORY}
    return [
        {"release": row["release"], "first_seen": row["first_seen"].isoformat(), "count": int(row["count"])}
        for row in warehouse.query(load_query("incident_deploys"), params)
    ]


def related_alerts(warehouse: Warehouse, breach: Breach) -> list[dict[str, Any]]:
    """The other open or investigating alerts, newest first."""
    params = {"statuses": ["open", "investigating"], "metric_type": None, "limit": MAX_RELATED + 1}
    rows = warehouse.query(load_query("current_alerts"), params)
    own = (breach.rule.name, breach.endpoint_or_operation)
    return [
        {"id": row["id"], "rule": row["rule"], "endpoint_or_operation": row["endpoint_or_operation"],
         "severity": row["severity"], "status": row["status"], "triggered_at": _iso(row["triggered_at"])}
        for row in rows
        if (row["rule"], row["endpoint_or_operation"]) != own
    ][:MAX_RELATED]  # fmt: skip


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.datetime) else str(value)


def with_incident_context(base: Mapping[str, Any], extra: Mapping[str, Any]) -> str:
    """The alert row's context JSON: the breach's own context, then the investigation parts."""
    return json.dumps({**base, **extra}, default=str)
