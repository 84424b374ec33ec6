"""parse_metric / parse_batch: every rejection has its own message, good records of a batch are kept."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from perfguard.api.params import parse_json
from perfguard.domain.metric import MetricType, Outcome, Unit, outcome_from_tags
from perfguard.domain.timestamps import NS_PER_S, datetime_to_ns
from perfguard.domain.validation import IngestLimits, oldest_accepted_ns, parse_batch, parse_metric
from perfguard.errors import ValidationError

NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
NOW_NS = datetime_to_ns(NOW)
LIMITS = IngestLimits()
# Retention of 90 days counts whole UTC days back from the start of today.
CUTOFF_NS = datetime_to_ns(dt.datetime(2026, 8, 28, tzinfo=dt.UTC))


def record(**changes: Any) -> dict[str, Any]:
    """A valid api_latency record, with `changes` applied (a value of ... removes the field)."""
    base: dict[str, Any] = {
        "id": "rec-1",
        "metric_type": "api_latency",
        "endpoint_or_operation": "/listings",
        "value": 120.5,
        "unit": "ms",
        "timestamp": NOW_NS,
    }
    base.update(changes)
    return {key: value for key, value in base.items() if value is not ...}


def rejection(raw: object, limits: IngestLimits = LIMITS) -> str:
    with pytest.raises(ValidationError) as info:
        parse_metric(raw, NOW_NS, limits)
    return str(info.value)


# --- accepted records -------------------------------------------------------------------------------------------


def test_valid_record_becomes_a_metric_with_every_field() -> None:
    raw = record(percentile=95, tags={"route": "/listings"}, source="gateway", release="1.4.2", environment="staging")
    metric = parse_metric(raw, NOW_NS, LIMITS)
    assert metric.id == "rec-1"
    assert metric.metric_type is MetricType.API_LATENCY
    assert metric.endpoint_or_operation == "/listings"
    assert metric.value == 120.5
    assert metric.unit is Unit.MS
    assert metric.percentile == 95.0
    assert metric.timestamp_us == NOW_NS // 1000
    assert metric.tags == {"route": "/listings"}
    assert metric.outcome is Outcome.OK
    assert (metric.source, metric.release, metric.environment) == ("gateway", "1.4.2", "staging")


def test_optional_fields_get_their_defaults() -> None:
    metric = parse_metric(record(id=...), NOW_NS, IngestLimits(default_environment="dev"))
    assert len(metric.id) == 32 and int(metric.id, 16) >= 0  # a fresh uuid4 hex
    assert metric.source == "api"
    assert metric.environment == "dev"
    assert metric.release is None
    assert metric.percentile is None
    assert metric.tags == {}


def test_generated_ids_differ_between_records() -> None:
    assert parse_metric(record(id=...), NOW_NS, LIMITS).id != parse_metric(record(id=...), NOW_NS, LIMITS).id


def test_integer_value_is_stored_as_float() -> None:
    value = parse_metric(record(value=7), NOW_NS, LIMITS).value
    assert value == 7.0 and isinstance(value, float)


@pytest.mark.parametrize(
    ("metric_type", "unit", "value"),
    [
        ("canister_cycles", "cycles", 3.2e12),
        ("memory_usage", "bytes", 1_048_576),
        ("memory_usage", "percentage", 100),
        ("crash_rate", "percentage", 0),
        ("crash_rate", "count", 3),
        ("user_journey", "ms", 1800000),
        ("user_journey", "count", 1),
        ("user_journey", "percentage", 42.5),
    ],
)
def test_every_fitting_unit_is_accepted(metric_type: str, unit: str, value: float) -> None:
    metric = parse_metric(record(metric_type=metric_type, unit=unit, value=value), NOW_NS, LIMITS)
    assert (metric.metric_type.value, metric.unit.value, metric.value) == (metric_type, unit, value)


@pytest.mark.parametrize(
    "timestamp",
    ["2026-11-26T10:00:00Z", "2026-11-26T11:00:00+01:00", str(NOW_NS), NOW_NS, float(NOW_NS)],
)
def test_timestamp_forms_are_accepted(timestamp: object) -> None:
    assert parse_metric(record(timestamp=timestamp), NOW_NS, LIMITS).timestamp_us == NOW_NS // 1000


def test_timestamp_exactly_at_the_future_limit_is_accepted() -> None:
    metric = parse_metric(record(timestamp=NOW_NS + 300 * NS_PER_S), NOW_NS, LIMITS)
    assert metric.timestamp_us == (NOW_NS + 300 * NS_PER_S) // 1000


def test_timestamp_exactly_at_the_retention_cutoff_is_accepted() -> None:
    assert oldest_accepted_ns(NOW_NS, LIMITS) == CUTOFF_NS
    assert parse_metric(record(timestamp=CUTOFF_NS), NOW_NS, LIMITS).timestamp_us == CUTOFF_NS // 1000


def test_exactly_max_tags_is_accepted() -> None:
    tags = {f"k{i}": "v" for i in range(32)}
    assert len(parse_metric(record(tags=tags), NOW_NS, LIMITS).tags) == 32


def test_tag_value_at_the_length_limit_is_accepted() -> None:
    assert parse_metric(record(tags={"route": "r" * 256}), NOW_NS, LIMITS).tags["route"] == "r" * 256


def test_numeric_tag_values_are_stored_as_text() -> None:
    assert parse_metric(record(tags={"status_code": 503, "ratio": 0.5}), NOW_NS, LIMITS).tags == {
        "status_code": "503",
        "ratio": "0.5",
    }


# --- rejections -------------------------------------------------------------------------------------------------

REJECTIONS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown metric_type", {"metric_type": "latency"}, "unknown metric_type 'latency' (use one of: api_latency, "),
    ("missing metric_type", {"metric_type": ...}, "metric_type is required"),
    (
        "unknown unit",
        {"unit": "seconds"},
        "unknown unit 'seconds' (use one of: ms, bytes, percentage, cycles, count, days)",
    ),
    ("missing unit", {"unit": ...}, "unit is required"),
    ("unit not fitting", {"unit": "bytes"}, "unit 'bytes' does not fit metric_type 'api_latency' (use ms)"),
    (
        "unit not fitting memory",
        {"metric_type": "memory_usage", "unit": "ms"},
        "unit 'ms' does not fit metric_type 'memory_usage' (use bytes, percentage)",
    ),
    ("missing endpoint", {"endpoint_or_operation": ...}, "endpoint_or_operation is required"),
    ("empty endpoint", {"endpoint_or_operation": ""}, "endpoint_or_operation is required"),
    ("numeric endpoint", {"endpoint_or_operation": 42}, "endpoint_or_operation must be a string, got a number"),
    ("long endpoint", {"endpoint_or_operation": "e" * 257}, "endpoint_or_operation is 257 characters long; the limit"),
    ("missing value", {"value": ...}, "value is required"),
    ("string value", {"value": "12"}, "value must be a number, got a string"),
    ("boolean value", {"value": True}, "value must be a number, got a boolean"),
    ("array value", {"value": [1]}, "value must be a number, got an array"),
    ("nan value", {"value": float("nan")}, "value must be finite, got nan"),
    ("inf value", {"value": float("inf")}, "value must be finite, got inf"),
    ("-inf value", {"value": float("-inf")}, "value must be finite, got -inf"),
    ("negative duration", {"value": -1}, "value -1 is negative; a duration cannot be"),
    ("negative float duration", {"value": -0.5}, "value -0.5 is negative; a duration cannot be"),
    (
        "negative bytes",
        {"metric_type": "memory_usage", "unit": "bytes", "value": -5},
        "value -5 is negative; a value in bytes cannot be",
    ),
    (
        "percentage above 100",
        {"metric_type": "crash_rate", "unit": "percentage", "value": 100.5},
        "value 100.5 is above 100 for a percentage",
    ),
    ("percentile above 100", {"percentile": 101}, "percentile must be a number from 0 to 100, got 101"),
    ("negative percentile", {"percentile": -1}, "percentile must be a number from 0 to 100, got -1"),
    ("boolean percentile", {"percentile": True}, "percentile must be a number from 0 to 100, got True"),
    ("string percentile", {"percentile": "95"}, "percentile must be a number from 0 to 100, got '95'"),
    ("nan percentile", {"percentile": float("nan")}, "percentile must be a number from 0 to 100, got nan"),
    ("missing timestamp", {"timestamp": ...}, "timestamp is required"),
    ("seconds", {"timestamp": 1_795_687_200}, "timestamp 1795687200 looks like seconds since the epoch"),
    ("milliseconds", {"timestamp": 1_795_687_200_000}, "looks like milliseconds since the epoch"),
    ("microseconds", {"timestamp": 1_795_687_200_000_000}, "looks like microseconds since the epoch"),
    ("seconds as digits", {"timestamp": "1795687200"}, "looks like seconds since the epoch"),
    ("no zone", {"timestamp": "2026-11-26T10:00:00"}, "has no time zone; RFC 3339 needs 'Z' or an offset"),
    ("not a timestamp", {"timestamp": "yesterday"}, "timestamp 'yesterday' is neither integer nanoseconds nor RFC"),
    ("boolean timestamp", {"timestamp": True}, "got a boolean"),
    ("301 s in the future", {"timestamp": NOW_NS + 301 * NS_PER_S}, "timestamp is 301 s in the future (limit 300 s)"),
    ("older than retention", {"timestamp": CUTOFF_NS - 1}, "timestamp is older than the retention of 90 days"),
    ("too many tags", {"tags": {f"k{i}": "v" for i in range(33)}}, "33 tags; the limit is 32"),
    ("long tag value", {"tags": {"route": "r" * 257}}, "tag 'route' is 257 characters long; the limit is 256"),
    ("tag key with digit first", {"tags": {"1route": "x"}}, "tag key '1route' must be a letter or _ then up to 63"),
    ("tag key with dash", {"tags": {"http-method": "GET"}}, "tag key 'http-method' must be a letter or _"),
    ("empty tag key", {"tags": {"": "x"}}, "tag key '' must be a letter or _"),
    ("65-char tag key", {"tags": {"k" * 65: "x"}}, "must be a letter or _ then up to 63"),
    ("array tag value", {"tags": {"route": ["a"]}}, "tag 'route' must be a string or number, got an array"),
    ("boolean tag value", {"tags": {"cached": True}}, "tag 'cached' must be a string or number, got a boolean"),
    ("null tag value", {"tags": {"route": None}}, "tag 'route' must be a string or number, got null"),
    ("tags not an object", {"tags": ["route"]}, "tags must be an object of string values, got an array"),
    ("unknown fields", {"zeta": 1, "duration": 2}, "unknown field(s): duration, zeta"),
    ("empty id", {"id": ""}, "id must be 1-128 characters of letters, digits and _ . : -"),
    ("long id", {"id": "i" * 129}, "id must be 1-128 characters"),
    ("id with space", {"id": "a b"}, "id must be 1-128 characters"),
    ("id with slash", {"id": "a/b"}, "id must be 1-128 characters"),
    ("numeric id", {"id": 5}, "id must be 1-128 characters"),
    ("long source", {"source": "s" * 65}, "source is 65 characters long; the limit is 64"),
    ("long release", {"release": "r" * 129}, "release is 129 characters long; the limit is 128"),
    ("long environment", {"environment": "e" * 65}, "environment is 65 characters long; the limit is 64"),
    ("numeric release", {"release": 2}, "release must be a string, got a number"),
]


@pytest.mark.parametrize(("changes", "message"), [(c, m) for _, c, m in REJECTIONS], ids=[n for n, _, _ in REJECTIONS])
def test_invalid_record_is_rejected_with_a_specific_message(changes: dict[str, Any], message: str) -> None:
    assert message in rejection(record(**changes))


@pytest.mark.parametrize(
    ("raw", "kind"), [([], "an array"), ("x", "a string"), (None, "null"), (5, "a number"), (True, "a boolean")]
)
def test_non_object_record_is_rejected(raw: object, kind: str) -> None:
    assert rejection(raw) == f"a metric must be a JSON object, got {kind}"


def test_limits_come_from_ingest_limits() -> None:
    limits = IngestLimits(max_tags=1, max_tag_chars=3, max_future_skew_seconds=10, retention_days=1)
    assert rejection(record(tags={"a": "1", "b": "2"}), limits) == "2 tags; the limit is 1"
    assert "the limit is 3" in rejection(record(tags={"a": "1234"}), limits)
    assert "(limit 10 s)" in rejection(record(timestamp=NOW_NS + 11 * NS_PER_S), limits)
    yesterday_start = datetime_to_ns(dt.datetime(2026, 11, 25, tzinfo=dt.UTC))
    assert "retention of 1 days" in rejection(record(timestamp=yesterday_start - 1), limits)
    assert parse_metric(record(timestamp=yesterday_start), NOW_NS, limits).timestamp_us == yesterday_start // 1000


@pytest.mark.parametrize("body", [b'{"value": NaN}', b'{"value": Infinity}', b'{"value": -Infinity}'])
def test_non_finite_values_that_python_json_accepts_are_rejected(body: bytes) -> None:
    value = parse_json(body)["value"]
    assert "value must be finite" in rejection(record(value=value))


# --- scrubbing and allowlist ------------------------------------------------------------------------------------


def test_endpoint_is_scrubbed() -> None:
    metric = parse_metric(record(endpoint_or_operation="/users/ann@example.com/orders?token=abc"), NOW_NS, LIMITS)
    assert metric.endpoint_or_operation == "/users/[email]/orders?token=[redacted]"


def test_tag_values_are_scrubbed() -> None:
    metric = parse_metric(record(tags={"host": "10.1.2.3", "route": "/u/ann@example.com"}), NOW_NS, LIMITS)
    assert metric.tags == {"host": "[ip]", "route": "/u/[email]"}


def test_release_and_source_are_scrubbed() -> None:
    metric = parse_metric(record(release="built by ann@example.com", source="10.0.0.1"), NOW_NS, LIMITS)
    assert (metric.release, metric.source) == ("built by [email]", "[ip]")


def test_tags_outside_the_allowlist_are_dropped_and_reported() -> None:
    limits = IngestLimits(tag_allowlist=frozenset({"status", "route"}))
    dropped: list[str] = []
    metric = parse_metric(record(tags={"status": "ok", "user": "ann", "email": "x"}), NOW_NS, limits, dropped)
    assert metric.tags == {"status": "ok"}
    assert sorted(dropped) == ["email", "user"]


def test_empty_allowlist_keeps_every_tag() -> None:
    assert parse_metric(record(tags={"anything": "x"}), NOW_NS, LIMITS).tags == {"anything": "x"}


# --- outcome ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "outcome"),
    [
        ({}, Outcome.OK),
        ({"status": "ok"}, Outcome.OK),
        ({"status": "timeout"}, Outcome.TIMEOUT),
        ({"status": "TIMED_OUT"}, Outcome.TIMEOUT),
        ({"status": "deadline_exceeded"}, Outcome.TIMEOUT),
        ({"status": "error"}, Outcome.ERROR),
        ({"status": "Failed"}, Outcome.ERROR),
        ({"status": "failure"}, Outcome.ERROR),
        ({"status": "rejected"}, Outcome.ERROR),
        ({"status_code": "200"}, Outcome.OK),
        ({"status_code": "404"}, Outcome.OK),
        ({"status_code": "499"}, Outcome.OK),
        ({"status_code": "500"}, Outcome.ERROR),
        ({"status_code": "503"}, Outcome.ERROR),
        ({"status_code": "504"}, Outcome.TIMEOUT),
        ({"status_code": "408"}, Outcome.TIMEOUT),
        ({"status_code": "5xx"}, Outcome.OK),
        ({"status": "error", "status_code": "504"}, Outcome.ERROR),  # the status tag is read first
        ({"status": "timeout", "status_code": "500"}, Outcome.TIMEOUT),
        ({"status": "ok", "status_code": "502"}, Outcome.ERROR),  # an unrecognised status falls to the code
    ],
)
def test_outcome_from_tags(tags: dict[str, str], outcome: Outcome) -> None:
    assert outcome_from_tags(tags) is outcome


def test_outcome_is_derived_at_parse_time_from_numeric_status_code() -> None:
    assert parse_metric(record(tags={"status_code": 504}), NOW_NS, LIMITS).outcome is Outcome.TIMEOUT
    assert parse_metric(record(tags={"status": "failed"}), NOW_NS, LIMITS).outcome is Outcome.ERROR


def test_outcome_uses_tags_after_the_allowlist() -> None:
    limits = IngestLimits(tag_allowlist=frozenset({"route"}))
    assert parse_metric(record(tags={"status": "error"}), NOW_NS, limits).outcome is Outcome.OK


# --- batches ----------------------------------------------------------------------------------------------------


def test_batch_keeps_good_records_and_lists_bad_ones_by_index() -> None:
    records = [record(id="a"), record(id="b", unit="bytes"), record(id="c"), "nope", record(id="e", value=-3)]
    result = parse_batch(records, NOW_NS, LIMITS)
    assert [m.id for m in result.accepted] == ["a", "c"]
    assert result.rejected == [
        {"index": 1, "error": "unit 'bytes' does not fit metric_type 'api_latency' (use ms)"},
        {"index": 3, "error": "a metric must be a JSON object, got a string"},
        {"index": 4, "error": "value -3 is negative; a duration cannot be"},
    ]
    assert result.warnings == []


def test_batch_warns_about_dropped_tags_per_record() -> None:
    limits = IngestLimits(tag_allowlist=frozenset({"status"}))
    records = [record(tags={"status": "ok"}), record(tags={"zeta": "1", "alpha": "2", "status": "ok"})]
    result = parse_batch(records, NOW_NS, limits)
    assert len(result.accepted) == 2
    assert result.accepted[1].tags == {"status": "ok"}
    assert result.warnings == [{"index": 1, "warning": "tags not in the allowlist were dropped: alpha, zeta"}]


def test_rejected_record_gets_no_dropped_tag_warning() -> None:
    limits = IngestLimits(tag_allowlist=frozenset({"status"}))
    result = parse_batch([record(tags={"user": "x"}, value=-1)], NOW_NS, limits)
    assert (len(result.rejected), result.warnings) == (1, [])


def test_empty_batch_gives_an_empty_result() -> None:
    result = parse_batch([], NOW_NS, LIMITS)
    assert (result.accepted, result.rejected, result.warnings) == ([], [], [])


def test_batch_applies_the_retention_cutoff() -> None:
    result = parse_batch([record(timestamp=CUTOFF_NS), record(timestamp=CUTOFF_NS - 1)], NOW_NS, LIMITS)
    assert len(result.accepted) == 1
    assert result.rejected == [{"index": 1, "error": "timestamp is older than the retention of 90 days"}]


# --- regressions (bugs these tests found, now fixed) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"metric_type": ["api_latency"]}, "unknown metric_type ['api_latency'] (use one of: "),
        ({"metric_type": {"name": "api_latency"}}, "unknown metric_type {'name': 'api_latency'}"),
        ({"unit": {}}, "unknown unit {} (use one of: "),
        ({"unit": 5}, "unknown unit 5 (use one of: "),
    ],
)
def test_non_string_enum_values_are_rejected(changes: dict[str, Any], message: str) -> None:
    assert rejection(record(**changes)).startswith(message)


def test_unhashable_metric_type_does_not_fail_the_batch() -> None:
    result = parse_batch([record(id="a"), record(id="b", metric_type=["api_latency"])], NOW_NS, LIMITS)
    assert [m.id for m in result.accepted] == ["a"]
    assert result.rejected[0]["index"] == 1


@pytest.mark.parametrize("bad_id", ["rec-1\n", "\nrec-1", "rec\n1"])
def test_id_with_a_newline_is_rejected(bad_id: str) -> None:
    assert rejection(record(id=bad_id)) == "id must be 1-128 characters of letters, digits and _ . : -"


def test_tag_key_with_trailing_newline_is_rejected() -> None:
    assert rejection(record(tags={"status\n": "ok"})).startswith("tag key 'status\\n' must be a letter or _")


@pytest.mark.parametrize("code", ["²", "⁵⁰³", "５０３"])
def test_non_ascii_digit_status_code_is_kept_and_counts_as_ok(code: str) -> None:
    result = parse_batch([record(id="a"), record(id="b", tags={"status_code": code})], NOW_NS, LIMITS)
    assert [m.id for m in result.accepted] == ["a", "b"]
    assert result.accepted[1].outcome is Outcome.OK
