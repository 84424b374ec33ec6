"""Turn one untrusted JSON record into a `PerformanceMetric`, or say exactly why not.

`parse_batch` keeps every good record of a batch and lists the bad ones with their index and reason,
so a client can fix and resend only those.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from perfguard.domain.metric import UNITS_BY_TYPE, MetricType, PerformanceMetric, Unit, outcome_from_tags
from perfguard.domain.retention import retention_cutoff
from perfguard.domain.scrub import scrub
from perfguard.domain.timestamps import NS_PER_S, NS_PER_US, datetime_to_ns, ns_to_datetime, parse_timestamp_ns
from perfguard.errors import ValidationError

_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")  # used with fullmatch: `$` would let a trailing newline through
_TAG_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_FIELDS = frozenset(
    {
        "id",
        "metric_type",
        "endpoint_or_operation",
        "value",
        "unit",
        "percentile",
        "timestamp",
        "tags",
        "source",
        "release",
        "environment",
    }
)
_METRIC_TYPES = {m.value: m for m in MetricType}
_UNITS = {u.value: u for u in Unit}


@dataclass(frozen=True)
class IngestLimits:
    """The limits a record is checked against (from the settings)."""

    retention_days: int = 90
    max_future_skew_seconds: int = 300
    max_tags: int = 32
    max_tag_chars: int = 256
    tag_allowlist: frozenset[str] = frozenset()
    default_environment: str = "production"


@dataclass
class BatchResult:
    """The outcome of validating one batch."""

    accepted: list[PerformanceMetric] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)


def parse_batch(records: Sequence[object], now_ns: int, limits: IngestLimits) -> BatchResult:
    """Validate every record; good ones are accepted even when others are rejected."""
    result = BatchResult()
    oldest_ns = oldest_accepted_ns(now_ns, limits)
    for index, raw in enumerate(records):
        dropped: list[str] = []
        try:
            result.accepted.append(parse_metric(raw, now_ns, limits, dropped, oldest_ns))
        except ValidationError as exc:
            result.rejected.append({"index": index, "error": str(exc)})
            continue
        if dropped:
            names = ", ".join(sorted(dropped))
            result.warnings.append({"index": index, "warning": f"tags not in the allowlist were dropped: {names}"})
    return result


def oldest_accepted_ns(now_ns: int, limits: IngestLimits) -> int:
    """The oldest timestamp still inside the retention (the same cutoff the retention job deletes before)."""
    return datetime_to_ns(retention_cutoff(ns_to_datetime(now_ns), limits.retention_days))


def parse_metric(
    raw: object, now_ns: int, limits: IngestLimits, dropped_tags: list[str] | None = None, oldest_ns: int | None = None
) -> PerformanceMetric:
    """Validate and scrub one record."""
    if not isinstance(raw, dict):
        raise ValidationError(f"a metric must be a JSON object, got {_json_type(raw)}")
    unknown = set(raw) - _FIELDS
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(sorted(unknown))}")
    metric_type = _enum(raw, "metric_type", _METRIC_TYPES)
    unit = _enum(raw, "unit", _UNITS)
    if unit not in UNITS_BY_TYPE[metric_type]:
        allowed = ", ".join(sorted(u.value for u in UNITS_BY_TYPE[metric_type]))
        raise ValidationError(f"unit '{unit.value}' does not fit metric_type '{metric_type.value}' (use {allowed})")
    tags = _tags(raw.get("tags"), limits, dropped_tags if dropped_tags is not None else [])
    return PerformanceMetric(
        id=_id(raw.get("id")),
        metric_type=metric_type,
        endpoint_or_operation=_text(raw, "endpoint_or_operation", 256, required=True) or "",
        value=_value(raw.get("value"), unit),
        unit=unit,
        percentile=_percentile(raw.get("percentile")),
        timestamp_us=_timestamp_us(raw.get("timestamp"), now_ns, limits, oldest_ns),
        tags=tags,
        outcome=outcome_from_tags(tags),
        source=_text(raw, "source", 64) or "api",
        release=_text(raw, "release", 128),
        environment=_text(raw, "environment", 64) or limits.default_environment,
    )


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _enum(raw: dict[str, Any], name: str, members: dict[str, Any]) -> Any:
    value = raw.get(name)
    if value is None:
        raise ValidationError(f"{name} is required")
    if not isinstance(value, str) or value not in members:
        raise ValidationError(f"unknown {name} {value!r} (use one of: {', '.join(members)})")
    return members[value]


def _id(value: object) -> str:
    if value is None:
        return uuid.uuid4().hex  # without a client id a retry cannot be recognised; the client SDK always sets one
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValidationError("id must be 1-128 characters of letters, digits and _ . : -")
    return value


def _text(raw: dict[str, Any], name: str, max_chars: int, required: bool = False) -> str | None:
    value = raw.get(name)
    if value is None or value == "":
        if required:
            raise ValidationError(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, got {_json_type(value)}")
    if len(value) > max_chars:
        raise ValidationError(f"{name} is {len(value)} characters long; the limit is {max_chars}")
    return scrub(value)


def _value(value: object, unit: Unit) -> float:
    if value is None:
        raise ValidationError("value is required")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"value must be a number, got {_json_type(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise ValidationError(f"value must be finite, got {value}")
    if number < 0:  # no unit of ours measures something below zero
        what = "a duration" if unit is Unit.MS else f"a value in {unit.value}"
        raise ValidationError(f"value {value} is negative; {what} cannot be")
    if unit is Unit.PERCENTAGE and number > 100:
        raise ValidationError(f"value {value} is above 100 for a percentage")
    return number


def _percentile(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise ValidationError(f"percentile must be a number from 0 to 100, got {value!r}")
    return float(value)


def _timestamp_us(value: object, now_ns: int, limits: IngestLimits, oldest_ns: int | None) -> int:
    if value is None:
        raise ValidationError("timestamp is required")
    ns = parse_timestamp_ns(value)
    skew_ns = ns - now_ns
    if skew_ns > limits.max_future_skew_seconds * NS_PER_S:
        raise ValidationError(
            f"timestamp is {skew_ns / NS_PER_S:.0f} s in the future (limit {limits.max_future_skew_seconds} s); "
            "check the sender's clock"
        )
    if ns < (oldest_accepted_ns(now_ns, limits) if oldest_ns is None else oldest_ns):
        raise ValidationError(f"timestamp is older than the retention of {limits.retention_days} days")
    return ns // NS_PER_US


def _tags(value: object, limits: IngestLimits, dropped: list[str]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(f"tags must be an object of string values, got {_json_type(value)}")
    if len(value) > limits.max_tags:
        raise ValidationError(f"{len(value)} tags; the limit is {limits.max_tags}")
    tags: dict[str, str] = {}
    for key, tag in value.items():
        if not _TAG_KEY.fullmatch(key):
            raise ValidationError(f"tag key {key!r} must be a letter or _ then up to 63 letters, digits or _")
        if limits.tag_allowlist and key not in limits.tag_allowlist:
            dropped.append(key)
            continue
        tags[key] = _tag_value(key, tag, limits.max_tag_chars)
    return tags


def _tag_value(key: str, tag: object, max_chars: int) -> str:
    if isinstance(tag, bool) or not isinstance(tag, (str, int, float)):
        raise ValidationError(f"tag {key!r} must be a string or number, got {_json_type(tag)}")
    text = tag if isinstance(tag, str) else str(tag)
    if len(text) > max_chars:
        raise ValidationError(f"tag {key!r} is {len(text)} characters long; the limit is {max_chars}")
    return scrub(text)
