"""The PerformanceMetric record of the seed story, and the vocabularies it uses."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class MetricType(StrEnum):
    """What a record measures."""

    API_LATENCY = "api_latency"
    CANISTER_CYCLES = "canister_cycles"
    MEMORY_USAGE = "memory_usage"
    CRASH_RATE = "crash_rate"
    USER_JOURNEY = "user_journey"


class Unit(StrEnum):
    """The unit of a record's value."""

    MS = "ms"
    BYTES = "bytes"
    PERCENTAGE = "percentage"
    CYCLES = "cycles"
    COUNT = "count"
    DAYS = "days"


class Outcome(StrEnum):
    """Whether the measured operation succeeded; derived from the `status` / `status_code` tags."""

    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"


# Which units make sense for which metric type: a latency in bytes is a client bug worth a clear error.
UNITS_BY_TYPE: dict[MetricType, frozenset[Unit]] = {
    MetricType.API_LATENCY: frozenset({Unit.MS}),
    MetricType.CANISTER_CYCLES: frozenset({Unit.CYCLES, Unit.DAYS, Unit.COUNT}),
    MetricType.MEMORY_USAGE: frozenset({Unit.BYTES, Unit.PERCENTAGE}),
    MetricType.CRASH_RATE: frozenset({Unit.PERCENTAGE, Unit.COUNT}),
    MetricType.USER_JOURNEY: frozenset({Unit.MS, Unit.COUNT, Unit.PERCENTAGE}),
}


@dataclass(frozen=True, slots=True)
class PerformanceMetric:
    """One validated, scrubbed measurement, ready to store."""

    id: str
    metric_type: MetricType
    endpoint_or_operation: str
    value: float
    unit: Unit
    percentile: float | None
    timestamp_us: int
    tags: dict[str, str]
    outcome: Outcome
    source: str
    release: str | None
    environment: str


def outcome_from_tags(tags: dict[str, str]) -> Outcome:
    """Classify a record: `status` of timeout/error, or an HTTP `status_code` of 5xx (504/408 are timeouts).

    >>> outcome_from_tags({"status_code": "504"}).value
    'timeout'
    """
    status = tags.get("status", "").lower()
    if status in ("timeout", "timed_out", "deadline_exceeded"):
        return Outcome.TIMEOUT
    if status in ("error", "failed", "failure", "rejected", "crashed"):
        return Outcome.ERROR
    code = tags.get("status_code", "")
    if code in ("504", "408"):
        return Outcome.TIMEOUT
    if code.isascii() and code.isdigit() and int(code) >= 500:
        return Outcome.ERROR
    return Outcome.OK


def derived_metric(
    id: str,
    metric_type: MetricType,
    endpoint_or_operation: str,
    value: float,
    unit: Unit,
    at: dt.datetime,
    tags: dict[str, str],
    *,
    source: str,
    environment: str,
    outcome: Outcome = Outcome.OK,
    release: str | None = None,
) -> PerformanceMetric:
    """A record perfguard derives itself (the canister poller, the Firebase import) rather than receives:
    built directly, since its fields are right by construction; a naive `at` is UTC."""
    moment = at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
    stamp = int(moment.timestamp()) * 1_000_000 + moment.microsecond
    return PerformanceMetric(id, metric_type, endpoint_or_operation, value, unit, None, stamp, tags, outcome, source,
                             release, environment)  # fmt: skip
