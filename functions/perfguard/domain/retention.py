"""Retention: the moment before which data is dropped."""

from __future__ import annotations

import datetime as dt


def retention_cutoff(now: dt.datetime, retention_days: int) -> dt.datetime:
    """Rows whose partition day ends before this are expired (BigQuery drops whole day partitions)."""
    today = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=retention_days)
