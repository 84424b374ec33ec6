"""Building test traffic: records, isolated time slots and unique endpoint names."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Any

_slots = itertools.count(2)


def ns(moment: dt.datetime) -> int:
    """An aware datetime as integer nanoseconds."""
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def unique(name: str) -> str:
    """An endpoint name no other test uses."""
    return f"{name} [{uuid.uuid4().hex[:8]}]"


def isolated_hour() -> dt.datetime:
    """The start of a past hour that no other test of the session writes to."""
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return now - dt.timedelta(hours=next(_slots))


def record(endpoint: str, value: float, at: dt.datetime, **extra: Any) -> dict[str, Any]:
    """An api_latency record with a fresh id."""
    return {
        "id": uuid.uuid4().hex,
        "metric_type": "api_latency",
        "endpoint_or_operation": endpoint,
        "value": value,
        "unit": "ms",
        "timestamp": ns(at),
        **extra,
    }


def minute_of(endpoint: str, start: dt.datetime, values: list[float]) -> list[dict[str, Any]]:
    """Records spread over the minute that begins at `start`."""
    step = dt.timedelta(seconds=59) / max(len(values), 1)
    return [record(endpoint, value, start + i * step) for i, value in enumerate(values)]
