"""The columns of a staged ingest batch: the `performance_metrics` row plus each record's histogram bucket."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from perfguard.domain.histogram import bucket_of
from perfguard.domain.metric import PerformanceMetric

STAGING_TABLE = "staging_metrics"


def staging_columns(metrics: Sequence[PerformanceMetric], ingested_at: dt.datetime) -> dict[str, list[Any]]:
    """Column name to values, in the order of `ingest_metrics.sql`'s staging table; timestamps in microseconds."""
    ingested_us = int(ingested_at.timestamp() * 1_000_000)
    return {
        "id": [m.id for m in metrics],
        "metric_type": [m.metric_type.value for m in metrics],
        "endpoint_or_operation": [m.endpoint_or_operation for m in metrics],
        "value": [m.value for m in metrics],
        "unit": [m.unit.value for m in metrics],
        "percentile": [m.percentile for m in metrics],
        "timestamp": [m.timestamp_us for m in metrics],
        "tags": [json.dumps(m.tags, separators=(",", ":"), sort_keys=True) for m in metrics],
        "outcome": [m.outcome.value for m in metrics],
        "source": [m.source for m in metrics],
        "release": [m.release for m in metrics],
        "environment": [m.environment for m in metrics],
        "ingested_at": [ingested_us] * len(metrics),
        "bucket": [bucket_of(m.value) for m in metrics],
    }


def timestamp_range(metrics: Sequence[PerformanceMetric]) -> tuple[dt.datetime, dt.datetime]:
    """The earliest and latest record time of a non-empty batch."""
    stamps = [m.timestamp_us for m in metrics]
    return _from_us(min(stamps)), _from_us(max(stamps))


def _from_us(micros: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=micros)
