"""Timestamps on the API: integer nanoseconds since the Unix epoch (ICP's `Time.now()`) or RFC 3339.

A number that looks like seconds, milliseconds or microseconds is rejected with a message saying so,
because silently scaling it would store data at the wrong time.
"""

from __future__ import annotations

import datetime as dt
import math

from perfguard.errors import ValidationError

NS_PER_US = 1_000
NS_PER_S = 1_000_000_000

# Magnitudes of "now" in each unit are 1.8e9 s, 1.8e12 ms, 1.8e15 us, 1.8e18 ns: the boundaries sit between.
_LOOKS_LIKE = ((1e11, "seconds"), (1e14, "milliseconds"), (1e17, "microseconds"))


def parse_timestamp_ns(value: object) -> int:
    """Parse an API timestamp into nanoseconds since the epoch.

    >>> parse_timestamp_ns("2026-11-26T10:00:00Z")
    1795687200000000000
    >>> parse_timestamp_ns(1795687200000000000)
    1795687200000000000
    """
    if isinstance(value, bool):
        raise ValidationError("timestamp must be integer nanoseconds or an RFC 3339 string, got a boolean")
    if isinstance(value, int):
        return _checked_ns(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"timestamp must be a finite number, got {value}")
        if not value.is_integer():
            raise ValidationError("timestamp must be integer nanoseconds since the epoch, got a fraction")
        return _checked_ns(int(value))
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():  # not '²': str.isdigit() accepts superscripts
            return _checked_ns(int(text))
        return _parse_rfc3339(text)
    raise ValidationError(f"timestamp must be integer nanoseconds or an RFC 3339 string, got {type(value).__name__}")


def _checked_ns(value: int) -> int:
    if value < 0:
        raise ValidationError(f"timestamp {value} is negative")
    for limit, unit in _LOOKS_LIKE:
        if value < limit:
            raise ValidationError(
                f"timestamp {value} looks like {unit} since the epoch; send nanoseconds "
                f"(e.g. {value} {unit} = {_example(value, unit)} ns) or an RFC 3339 string"
            )
    return value


def _example(value: int, unit: str) -> int:
    scale = {"seconds": NS_PER_S, "milliseconds": 1_000_000, "microseconds": NS_PER_US}[unit]
    return value * scale


def _parse_rfc3339(text: str) -> int:
    try:
        parsed = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as exc:
        raise ValidationError(f"timestamp {text!r} is neither integer nanoseconds nor RFC 3339") from exc
    if parsed.tzinfo is None:
        raise ValidationError(f"timestamp {text!r} has no time zone; RFC 3339 needs 'Z' or an offset")
    delta = parsed - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * NS_PER_US


def ns_to_datetime(ns: int) -> dt.datetime:
    """Nanoseconds since the epoch as an aware UTC datetime (microsecond precision)."""
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ns // NS_PER_US)


def datetime_to_ns(moment: dt.datetime) -> int:
    """An aware datetime as nanoseconds since the epoch."""
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * NS_PER_US


def format_rfc3339(moment: dt.datetime) -> str:
    """An aware datetime in RFC 3339 with a Z suffix."""
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
