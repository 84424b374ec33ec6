"""Request parameters: specific messages for bad ranges, integers, tag filters, cursors and JSON bodies."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from perfguard.api import params as p
from perfguard.errors import InvalidRequest, ValidationError

START = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
START_NS = 1_795_687_200_000_000_000


def request(method: str = "GET", query: str = "", body: bytes | None = None) -> Request:
    builder = EnvironBuilder(method=method, query_string=query, data=body, content_type="application/json")
    return Request(builder.get_environ())


def invalid(call: Any, *args: Any) -> str:
    with pytest.raises(ValidationError) as info:
        call(*args)
    return str(info.value)


# --- request_params and parse_json ------------------------------------------------------------------------------


def test_query_parameters_are_read() -> None:
    assert p.request_params(request(query="metric_type=api_latency&limit=5")) == {
        "metric_type": "api_latency",
        "limit": "5",
    }


def test_json_body_overlays_the_query() -> None:
    params = p.request_params(request("POST", "limit=5&start=a", b'{"limit": 10, "tags": {"route": "/x"}}'))
    assert params == {"limit": 10, "start": "a", "tags": {"route": "/x"}}


def test_empty_post_body_uses_the_query_only() -> None:
    assert p.request_params(request("POST", "limit=5", b"")) == {"limit": "5"}


def test_get_body_is_ignored() -> None:
    assert p.request_params(request("GET", "limit=5", b"not json")) == {"limit": "5"}


def test_body_that_is_not_an_object_is_invalid() -> None:
    with pytest.raises(InvalidRequest, match="the JSON body must be an object of parameters"):
        p.request_params(request("POST", body=b"[1, 2]"))


def test_parse_json_reads_utf8() -> None:
    assert p.parse_json('{"endpoint": "/café"}'.encode()) == {"endpoint": "/café"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"a": ', "malformed JSON: Expecting value at line 1 column 7"),
        (b'{"a": 1,}', "malformed JSON: Expecting property name enclosed in double quotes at line 1 column 9"),
        (b'{\n  "a": 1\n  "b": 2}', "malformed JSON: Expecting ',' delimiter at line 3 column 3"),
        (b"", "malformed JSON: Expecting value at line 1 column 1"),
        (b'{"a": "\xff"}', "the body is not UTF-8: invalid start byte at byte 7"),
        (b'{"a": "\xc3"}', "the body is not UTF-8: invalid continuation byte at byte 7"),
        ('{"a": 1}'.encode("utf-16"), "the body is not UTF-8: invalid start byte at byte 0"),
    ],
)
def test_parse_json_messages_say_where_it_broke(body: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        p.parse_json(body)
    assert str(info.value) == message
    assert not isinstance(info.value, ValidationError)


# --- metric_type, moment, time_range ----------------------------------------------------------------------------


def test_metric_type_is_required_and_known() -> None:
    assert p.metric_type({"metric_type": "api_latency"}) == "api_latency"
    assert invalid(p.metric_type, {}) == "metric_type is required"
    assert invalid(p.metric_type, {"metric_type": "cpu"}).startswith("unknown metric_type 'cpu' (use one of: api_")


@pytest.mark.parametrize("value", ["2026-11-26T10:00:00Z", "2026-11-26T11:00:00+01:00", START_NS, str(START_NS)])
def test_moment_accepts_rfc3339_and_nanoseconds(value: object) -> None:
    assert p.moment({"at": value}, "at") == START


def test_moment_uses_the_default_when_absent_or_empty() -> None:
    assert p.moment({}, "at", START) == START
    assert p.moment({"at": ""}, "at", START) == START


def test_moment_without_default_is_required() -> None:
    assert invalid(p.moment, {}, "at") == "at is required (RFC 3339 or integer nanoseconds)"


def test_moment_error_is_prefixed_with_the_parameter_name() -> None:
    message = invalid(p.moment, {"at": "1795687200"}, "at")
    assert message.startswith("at: timestamp 1795687200 looks like seconds since the epoch")


def test_time_range_returns_start_and_end() -> None:
    params = {"start": "2026-11-26T10:00:00Z", "end": "2026-11-26T11:00:00Z"}
    assert p.time_range(params) == (START, START + dt.timedelta(hours=1))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"end": "2026-11-26T11:00:00Z"}, "start is required (RFC 3339 or integer nanoseconds)"),
        ({"start": "2026-11-26T10:00:00Z"}, "end is required (RFC 3339 or integer nanoseconds)"),
        ({"start": "noon", "end": "2026-11-26T11:00:00Z"}, "start: timestamp 'noon' is neither integer nano"),
        ({"start": "2026-11-26T10:00:00", "end": "2026-11-26T11:00:00Z"}, "start: timestamp '2026-11-26T10:00:00' has"),
        ({"start": "2026-11-26T10:00:00Z", "end": 1_795_687_200_000}, "end: timestamp 1795687200000 looks like milli"),
        ({"start": "2026-11-26T10:00:00Z", "end": "2026-11-26T10:00:00Z"}, "end must be after start"),
        ({"start": "2026-11-26T11:00:00Z", "end": "2026-11-26T10:00:00Z"}, "end must be after start"),
    ],
)
def test_time_range_errors(params: dict[str, Any], message: str) -> None:
    assert invalid(p.time_range, params).startswith(message)


# --- integer and optional_text ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"), [({}, 100), ({"limit": "1"}, 1), ({"limit": 1000}, 1000), ({"limit": " 7 "}, 7)]
)
def test_integer_within_bounds(params: dict[str, Any], expected: int) -> None:
    assert p.integer(params, "limit", 100, 1, 1000) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "limit must be between 1 and 1000, got 0"),
        (1001, "limit must be between 1 and 1000, got 1001"),
        ("-5", "limit must be between 1 and 1000, got -5"),
        ("ten", "limit must be an integer, got 'ten'"),
        ("2.5", "limit must be an integer, got '2.5'"),
        (None, "limit must be an integer, got None"),
        ([3], "limit must be an integer, got [3]"),
    ],
)
def test_integer_errors(value: object, message: str) -> None:
    assert invalid(p.integer, {"limit": value}, "limit", 100, 1, 1000) == message


def test_optional_text() -> None:
    assert p.optional_text({"endpoint": "/x"}, "endpoint") == "/x"
    assert p.optional_text({"endpoint": ""}, "endpoint") is None
    assert p.optional_text({}, "endpoint") is None
    assert invalid(p.optional_text, {"endpoint": 5}, "endpoint") == "endpoint must be a string"


# --- tag filters ------------------------------------------------------------------------------------------------


def test_tag_filters_from_the_query() -> None:
    params = p.request_params(request(query="tag.route=/swap&tag.status_code=503&limit=5"))
    assert p.tag_filters(params) == {"route": "/swap", "status_code": "503"}


def test_tag_filters_from_a_body_object_win_over_the_query() -> None:
    params = p.request_params(request("POST", "tag.route=/a&tag.region=eu", b'{"tags": {"route": "/b"}}'))
    assert p.tag_filters(params) == {"route": "/b", "region": "eu"}


def test_no_tag_filters() -> None:
    assert p.tag_filters({"limit": "5"}) == {}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"tags": "route=/x"}, "tags must be an object of key: value filters"),
        ({"tags": {"route": 5}}, "tag filter 'route' must be a string"),
        ({"tags": {"route": None}}, "tag filter 'route' must be a string"),
        ({"tag.1x": "v"}, "tag filter key '1x' must be a letter or _ then letters, digits or _"),
        ({"tag.": "v"}, "tag filter key '' must be a letter or _ then letters, digits or _"),
        ({"tags": {"a-b": "v"}}, "tag filter key 'a-b' must be a letter or _ then letters, digits or _"),
    ],
)
def test_tag_filter_errors(params: dict[str, Any], message: str) -> None:
    assert invalid(p.tag_filters, params) == message


# --- cursors ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stamp", "record_id"),
    [
        (START, "rec-1"),
        (START + dt.timedelta(microseconds=123_456), "a:b.c_d-e"),
        (START, ""),
        (dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))), "ünïcode"),
    ],
)
def test_cursor_round_trip(stamp: dt.datetime, record_id: str) -> None:
    cursor = p.encode_cursor(stamp, record_id)
    assert "=" not in cursor and "+" not in cursor and "/" not in cursor  # URL-safe, unpadded
    assert p.decode_cursor(cursor) == (stamp, record_id)


def test_no_cursor_starts_at_the_epoch() -> None:
    epoch = (dt.datetime(1970, 1, 1, tzinfo=dt.UTC), "")
    assert p.decode_cursor(None) == epoch
    assert p.decode_cursor("") == epoch


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        "not-a-cursor",
        "a",
        b64(b"\xff\xfe"),
        b64(b"{}"),
        b64(b"5"),
        b64(b'["yesterday", "x"]'),
        b64(b'["2026-11-26T10:00:00+00:00"]'),
        b64(b'["2026-11-26T10:00:00+00:00", "a", "b"]'),
        b64(b"[1, 2]"),
    ],
)
def test_garbage_cursor_is_rejected(cursor: str) -> None:
    assert invalid(p.decode_cursor, cursor) == "cursor is not one this server issued; pass next_cursor back unchanged"


# --- regressions ---


@pytest.mark.parametrize("value", [10**30, "9" * 30])
def test_out_of_range_moment_is_a_validation_error(value: object) -> None:
    assert invalid(p.moment, {"at": value}, "at").startswith("at: ")


@pytest.mark.parametrize("value", [True, 2.7])
def test_integer_rejects_booleans_and_fractions(value: object) -> None:
    assert "limit must be an integer" in invalid(p.integer, {"limit": value}, "limit", 100, 1, 1000)


def test_tag_filter_key_with_trailing_newline_is_rejected() -> None:  # regression: `$` matched before "\n"
    assert invalid(p.tag_filters, {"tags": {"route\n": "/x"}}).startswith("tag filter key 'route\\n' must be")
