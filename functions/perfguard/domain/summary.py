"""Summaries per endpoint_or_operation: count, mean, min, max, P50/P95/P99, error and timeout rates,
with a baseline comparison against the same window a day and a week earlier.

Ranges up to `exact_max` are summarised exactly from raw values; longer ranges from the per-minute
histograms (within `histogram.RELATIVE_ACCURACY`), and the answer says which method was used.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from perfguard.domain.histogram import histogram_quantile

EXACT = "exact"
HISTOGRAM = "histogram"
INTERVALS = {"1m": 60, "5m": 300, "1h": 3600, "1d": 86400}
BASELINE_SHIFTS = {"day_ago": dt.timedelta(days=1), "week_ago": dt.timedelta(days=7)}

GroupKey = tuple[str, dt.datetime | None]


@dataclass(frozen=True)
class SummaryGroup:
    """The statistics of one endpoint_or_operation (in one time bucket, when bucketed)."""

    endpoint_or_operation: str
    bucket_start: dt.datetime | None
    count: int
    mean: float
    min: float
    max: float
    p50: float
    p95: float
    p99: float
    error_rate: float
    timeout_rate: float
    baseline: dict[str, Any] = field(default_factory=dict)

    def key(self) -> GroupKey:
        """The identity of the group."""
        return (self.endpoint_or_operation, self.bucket_start)


def choose_method(start: dt.datetime, end: dt.datetime, exact_max: dt.timedelta) -> str:
    """Exact percentiles up to `exact_max` of range, histogram rollups beyond."""
    return EXACT if end - start <= exact_max else HISTOGRAM


def groups_from_exact(rows: Iterable[Mapping[str, Any]]) -> list[SummaryGroup]:
    """Groups from the rows of `summary_exact.sql`."""
    return [
        SummaryGroup(
            endpoint_or_operation=row["endpoint_or_operation"],
            bucket_start=row["bucket_start"],
            count=int(row["count"]),
            mean=float(row["mean"]),
            min=float(row["min"]),
            max=float(row["max"]),
            p50=float(row["p50"]),
            p95=float(row["p95"]),
            p99=float(row["p99"]),
            error_rate=int(row["error_count"]) / int(row["count"]),
            timeout_rate=int(row["timeout_count"]) / int(row["count"]),
        )
        for row in rows
    ]


def groups_from_histogram(rows: Iterable[Mapping[str, Any]]) -> list[SummaryGroup]:
    """Groups from the per-bucket rows of `summary_histogram.sql`."""
    by_group: dict[GroupKey, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_group[(row["endpoint_or_operation"], row["bucket_start"])].append(row)
    groups = [_fold_histogram(key, bucket_rows) for key, bucket_rows in by_group.items()]
    return sorted(groups, key=_sort_key)


def _fold_histogram(key: GroupKey, rows: Sequence[Mapping[str, Any]]) -> SummaryGroup:
    counts = {int(row["bucket"]): int(row["count"]) for row in rows}
    count = sum(counts.values())
    low = min(float(row["min"]) for row in rows)
    high = max(float(row["max"]) for row in rows)

    def quantile(q: float) -> float:
        value = histogram_quantile(counts, q, low, high)
        return float("nan") if value is None else value

    return SummaryGroup(
        endpoint_or_operation=key[0],
        bucket_start=key[1],
        count=count,
        mean=sum(float(row["sum"]) for row in rows) / count,
        min=low,
        max=high,
        p50=quantile(0.5),
        p95=quantile(0.95),
        p99=quantile(0.99),
        error_rate=sum(int(row["error_count"]) for row in rows) / count,
        timeout_rate=sum(int(row["timeout_count"]) for row in rows) / count,
    )


def _sort_key(group: SummaryGroup) -> tuple[str, dt.datetime]:
    return (group.endpoint_or_operation, group.bucket_start or dt.datetime.min.replace(tzinfo=dt.UTC))


def with_baselines(groups: Sequence[SummaryGroup], earlier: Mapping[str, Sequence[SummaryGroup]]) -> list[SummaryGroup]:
    """Attach to each group its counterpart in each earlier window (`earlier`: BASELINE_SHIFTS name to groups)."""
    indexed = {name: {g.key(): g for g in shifted} for name, shifted in earlier.items()}
    result = []
    for group in groups:
        baseline: dict[str, Any] = {}
        for name, by_key in indexed.items():
            shift = BASELINE_SHIFTS[name]
            start = None if group.bucket_start is None else group.bucket_start - shift
            baseline[name] = _comparison(group, by_key.get((group.endpoint_or_operation, start)))
        result.append(replace(group, baseline=baseline))
    return result


def _comparison(current: SummaryGroup, before: SummaryGroup | None) -> dict[str, Any] | None:
    if before is None:
        return None
    return {
        "count": before.count,
        "mean": before.mean,
        "p50": before.p50,
        "p95": before.p95,
        "p99": before.p99,
        "error_rate": before.error_rate,
        "p95_change": _relative_change(current.p95, before.p95),
        "error_rate_change": current.error_rate - before.error_rate,
    }


def _relative_change(now: float, before: float) -> float | None:
    """(now - before) / before, e.g. 0.25 for 25 % slower; None when the baseline is zero."""
    return None if before == 0 else (now - before) / before
