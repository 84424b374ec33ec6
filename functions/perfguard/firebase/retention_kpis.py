"""D1 and 4-week retention from the GA4 export, once a day, written as `kpi:` gauge rows.

Reads the daily shards of the last 7 + 31 days (one small GROUP BY each: user, day, first_open, active),
builds the install cohorts in Python (domain/retention_cohort.py) and stores `kpi:d1_retention` and
`kpi:retention_4w` (unit percentage) with their sample size. Cohort days are UTC days (GA4's event_date is
in the property's time zone; the shard choice allows for the difference).
"""

from __future__ import annotations

import datetime as dt

from perfguard.domain.metric import MetricType, PerformanceMetric, Unit, derived_metric
from perfguard.domain.retention_cohort import D1, WEEK4, Retention, cohorts, retention
from perfguard.firebase.exports import GA4, ExportTable, ga4_shard
from perfguard.firebase.sessions import SOURCE
from perfguard.firebase.templates import render, source_ref
from perfguard.runtime import Runtime

COHORT_DAYS = 7  # cohort days pooled per KPI value
_SPAN = COHORT_DAYS + WEEK4[1] + 4  # shard days read: the oldest week-4 cohort plus its settling days


def compute(runtime: Runtime, existing: frozenset[str], today: dt.date) -> tuple[Retention, Retention]:
    """D1 and week-4 retention over the most recent settled cohort days."""
    dataset, apps = runtime.settings.firebase_analytics_dataset, list(runtime.settings.firebase_app_ids)
    first_opens: list[tuple[str, dt.date]] = []
    active: dict[str, set[dt.date]] = {}
    for n in range(_SPAN + 1):
        name = ga4_shard("daily", today - dt.timedelta(days=n))
        if name not in existing:
            continue
        sql = render("firebase_ga4_activity", source_ref(runtime, ExportTable(GA4, dataset, name)))
        for row in runtime.warehouse.query(sql, {"apps": apps}):
            if row["first_open"]:
                first_opens.append((row["user_pseudo_id"], row["day"]))
            if row["active"]:
                active.setdefault(row["user_pseudo_id"], set()).add(row["day"])
    cohort_of = cohorts(first_opens)
    frozen = {user: frozenset(days) for user, days in active.items()}
    return retention(cohort_of, frozen, (D1, D1), today, COHORT_DAYS), retention(
        cohort_of, frozen, WEEK4, today, COHORT_DAYS
    )


def gauge_rows(runtime: Runtime, d1: Retention, week4: Retention, now: dt.datetime) -> list[PerformanceMetric]:
    """`kpi:d1_retention` and `kpi:retention_4w` rows (one per day), for the values that exist."""
    rows = []
    for name, value in (("d1_retention", d1), ("retention_4w", week4)):
        percent = value.percent()
        if percent is None:
            continue
        days = f"{value.cohort_days[0]}..{value.cohort_days[-1]}"
        tags = {"measure": name, "sample_size": str(value.users), "cohort_days": days}
        rows.append(derived_metric(f"kpi_{name}_{now:%Y%m%d}", MetricType.USER_JOURNEY, f"kpi:{name}", percent,
                                   Unit.PERCENTAGE, now, tags, source=SOURCE,
                                   environment=runtime.settings.environment))  # fmt: skip
    return rows
