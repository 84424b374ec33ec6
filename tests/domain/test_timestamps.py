"""API timestamps: integer nanoseconds or RFC 3339; seconds/milliseconds/microseconds are refused by name."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from perfguard.domain.timestamps import (
    NS_PER_S,
    NS_PER_US,
    datetime_to_ns,
    format_rfc3339,
    ns_to_datetime,
    parse_timestamp_ns,
)
from perfguard.errors import ValidationError

NOW_NS = 1_795_687_200_000_000_000  # 2026-11-26T10:00:00Z
NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)


def test_reference_instant_matches_datetime_arithmetic() -> None:
    assert int((NOW - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).total_seconds()) * NS_PER_S == NOW_NS


@pytest.mark.parametrize("value", [NOW_NS, NOW_NS + 123_456_789, 10**17, 2**63 - 1])
def test_integer_nanoseconds_are_returned_unchanged(value: int) -> None:
    assert parse_timestamp_ns(value) == value


@pytest.mark.parametrize("text", [str(NOW_NS), f"  {NOW_NS}\n", f"{NOW_NS + 7}"])
def test_digit_strings_are_nanoseconds(text: str) -> None:
    assert parse_timestamp_ns(text) == int(text)


def test_integral_float_is_accepted() -> None:
    assert parse_timestamp_ns(1.7956872e18) == NOW_NS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-26T10:00:00Z", NOW_NS),
        ("2026-11-26T10:00:00z", NOW_NS),
        ("2026-11-26t10:00:00z", NOW_NS),
        ("2026-11-26T10:00:00+00:00", NOW_NS),
        ("2026-11-26T12:00:00+02:00", NOW_NS),
        ("2026-11-26T04:30:00-05:30", NOW_NS),
        ("2026-11-26T10:00:00.5Z", NOW_NS + NS_PER_S // 2),
        ("2026-11-26T10:00:00.123Z", NOW_NS + 123_000_000),
        ("2026-11-26T10:00:00.123456Z", NOW_NS + 123_456_000),
        ("2026-11-26T11:00:00.000001+01:00", NOW_NS + 1_000),
        ("1970-01-01T00:00:00Z", 0),
    ],
)
def test_rfc3339_with_offsets_and_fractions(text: str, expected: int) -> None:
    assert parse_timestamp_ns(text) == expected


def test_rfc3339_nanosecond_fraction_keeps_microseconds() -> None:
    assert parse_timestamp_ns("2026-11-26T10:00:00.123456789Z") == NOW_NS + 123_456_000


@pytest.mark.parametrize(
    ("value", "unit"),
    [
        (1, "seconds"),
        (1_795_687_200, "seconds"),
        (99_999_999_999, "seconds"),
        (100_000_000_000, "milliseconds"),
        (1_795_687_200_000, "milliseconds"),
        (99_999_999_999_999, "milliseconds"),
        (100_000_000_000_000, "microseconds"),
        (1_795_687_200_000_000, "microseconds"),
        (99_999_999_999_999_999, "microseconds"),
    ],
)
def test_too_small_integers_say_which_unit_they_look_like(value: int, unit: str) -> None:
    with pytest.raises(ValidationError, match=f"timestamp {value} looks like {unit} since the epoch; send nanoseconds"):
        parse_timestamp_ns(value)


@pytest.mark.parametrize(
    ("value", "example"),
    [
        (1_795_687_200, "e.g. 1795687200 seconds = 1795687200000000000 ns"),
        (1_795_687_200_000, "e.g. 1795687200000 milliseconds = 1795687200000000000 ns"),
        (1_795_687_200_000_000, "e.g. 1795687200000000 microseconds = 1795687200000000000 ns"),
    ],
)
def test_unit_message_shows_the_converted_value(value: int, example: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_timestamp_ns(value)
    assert example in str(info.value)
    assert "or an RFC 3339 string" in str(info.value)


def test_digit_string_in_seconds_is_refused_too() -> None:
    with pytest.raises(ValidationError, match="looks like seconds"):
        parse_timestamp_ns("1795687200")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "timestamp -1 is negative"),
        (True, "got a boolean"),
        (1795687200.5, "got a fraction"),
        (None, "got NoneType"),
        ([NOW_NS], "got list"),
        ({"ns": NOW_NS}, "got dict"),
        ("2026-11-26T10:00:00", "has no time zone; RFC 3339 needs 'Z' or an offset"),
        ("2026-11-26", "has no time zone"),
        ("yesterday", "timestamp 'yesterday' is neither integer nanoseconds nor RFC 3339"),
        ("", "is neither integer nanoseconds nor RFC 3339"),
        ("-1795687200000000000", "is neither integer nanoseconds nor RFC 3339"),
        ("2026-13-01T00:00:00Z", "is neither integer nanoseconds nor RFC 3339"),
    ],
)
def test_invalid_timestamps_are_rejected(value: object, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_timestamp_ns(value)
    assert message in str(info.value)


def test_ns_to_datetime_is_aware_utc() -> None:
    moment = ns_to_datetime(NOW_NS)
    assert moment == NOW
    assert moment.tzinfo is dt.UTC


def test_ns_to_datetime_truncates_to_microseconds() -> None:
    assert ns_to_datetime(NOW_NS + 1_999) == NOW + dt.timedelta(microseconds=1)


def test_datetime_to_ns_honours_offsets() -> None:
    plus_two = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert datetime_to_ns(plus_two) == NOW_NS


def test_datetime_to_ns_before_the_epoch_is_negative() -> None:
    assert datetime_to_ns(dt.datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=dt.UTC)) == -NS_PER_S // 2


def sample_ns(count: int = 300) -> list[int]:
    rng = random.Random(20261126)
    return [rng.randrange(10**17, 4 * 10**18) for _ in range(count)]


def test_round_trip_ns_datetime_ns_loses_only_sub_microseconds() -> None:
    for ns in sample_ns():
        assert datetime_to_ns(ns_to_datetime(ns)) == ns - ns % NS_PER_US


def test_round_trip_datetime_ns_datetime_is_exact() -> None:
    for ns in sample_ns():
        moment = ns_to_datetime(ns)
        assert ns_to_datetime(datetime_to_ns(moment)) == moment


def test_round_trip_through_rfc3339_text() -> None:
    for ns in sample_ns():
        text = format_rfc3339(ns_to_datetime(ns))
        assert text.endswith("Z")
        assert parse_timestamp_ns(text) == ns - ns % NS_PER_US


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (NOW, "2026-11-26T10:00:00Z"),
        (NOW + dt.timedelta(microseconds=250), "2026-11-26T10:00:00.000250Z"),
        (dt.datetime(2026, 11, 26, 5, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))), "2026-11-26T10:00:00Z"),
    ],
)
def test_format_rfc3339_converts_to_utc_with_z(moment: dt.datetime, text: str) -> None:
    assert format_rfc3339(moment) == text


# --- regressions (bugs these tests found, now fixed) ------------------------------------------------------------


@pytest.mark.parametrize("text", ["¹⁷⁹⁵⁶⁸⁷²⁰⁰⁰⁰⁰⁰⁰⁰⁰⁰⁰⁰", "²", "١٧٩٥٦٨٧٢٠٠٠٠٠٠٠٠٠٠٠٠"])
def test_non_ascii_digit_strings_are_a_validation_error(text: str) -> None:
    with pytest.raises(ValidationError, match="is neither integer nanoseconds nor RFC 3339"):
        parse_timestamp_ns(text)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_float_timestamp_says_so(value: float) -> None:
    with pytest.raises(ValidationError) as info:
        parse_timestamp_ns(value)
    assert str(info.value) == f"timestamp must be a finite number, got {value}"
