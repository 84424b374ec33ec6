"""record_performance_metric over real HTTP: acceptance, idempotency, every rejection, limits, auth, scrubbing."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from tests.integration.conftest import INGEST_KEY, READ_KEY, RunningStack
from tests.integration.traffic import isolated_hour, ns, record, unique

pytestmark = pytest.mark.stack


def stored(stack: RunningStack, endpoint: str, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    params = {
        "metric_type": "api_latency",
        "start": start.isoformat(),
        "end": end.isoformat(),
        "endpoint_or_operation": endpoint,
        "limit": 10000,
    }
    response = stack.call("get_performance_data", params=params)
    assert response.status_code == 200, response.text
    metrics: list[dict[str, Any]] = response.json()["metrics"]
    return metrics


def test_a_batch_is_stored_and_read_back_field_for_field(stack: RunningStack) -> None:
    hour, endpoint = isolated_hour(), unique("GET /listings")
    batch = [
        record(endpoint, 100.0 + i, hour + dt.timedelta(seconds=i), tags={"status": "ok"}, release="1.4.2")
        for i in range(3)
    ]
    answer = stack.call("record_performance_metric", json={"metrics": batch}).json()
    assert answer == {"accepted": 3, "stored": 3, "duplicates": 0, "rejected": [], "warnings": []}
    rows = stored(stack, endpoint, hour, hour + dt.timedelta(hours=1))
    assert [(r["id"], r["value"], r["timestamp_ns"], r["release"]) for r in rows] == [
        (b["id"], b["value"], b["timestamp"], "1.4.2") for b in batch
    ]
    assert rows[0]["tags"] == {"status": "ok"} and rows[0]["unit"] == "ms" and rows[0]["outcome"] == "ok"


def test_a_single_metric_object_is_accepted(stack: RunningStack) -> None:
    hour, endpoint = isolated_hour(), unique("GET /one")
    answer = stack.call("record_performance_metric", json=record(endpoint, 5.0, hour)).json()
    assert answer["accepted"] == 1 and answer["stored"] == 1


def test_a_retried_batch_is_not_double_counted(stack: RunningStack) -> None:
    hour, endpoint = isolated_hour(), unique("POST /offers")
    batch = [record(endpoint, float(i), hour + dt.timedelta(seconds=i)) for i in range(50)]
    first = stack.call("record_performance_metric", json={"metrics": batch}).json()
    again = stack.call("record_performance_metric", json={"metrics": batch + batch[:5]}).json()
    assert (first["stored"], again["stored"], again["duplicates"]) == (50, 0, 55)
    assert len(stored(stack, endpoint, hour, hour + dt.timedelta(hours=1))) == 50


def test_good_records_are_kept_when_others_in_the_batch_are_rejected(stack: RunningStack) -> None:
    hour, endpoint = isolated_hour(), unique("GET /mixed")
    good = [record(endpoint, 1.0, hour), record(endpoint, 2.0, hour + dt.timedelta(seconds=1))]
    bad = record(endpoint, -3.0, hour)
    answer = stack.call("record_performance_metric", json={"metrics": [good[0], bad, good[1]]}).json()
    assert answer["accepted"] == 2 and [r["index"] for r in answer["rejected"]] == [1]
    assert len(stored(stack, endpoint, hour, hour + dt.timedelta(hours=1))) == 2


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


BAD_RECORDS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown metric type", {"metric_type": "cpu"}, "unknown metric_type 'cpu'"),
    ("unknown unit", {"unit": "seconds"}, "unknown unit 'seconds'"),
    ("unit that does not fit", {"unit": "bytes"}, "unit 'bytes' does not fit metric_type 'api_latency'"),
    ("negative duration", {"value": -1.5}, "is negative; a duration cannot be"),
    ("infinite value", {"value": 1e400}, "value must be finite"),
    ("string value", {"value": "12"}, "value must be a number"),
    ("milliseconds", {"timestamp": 1_795_687_200_000}, "looks like milliseconds"),
    ("seconds", {"timestamp": 1_795_687_200}, "looks like seconds"),
    ("microseconds", {"timestamp": 1_795_687_200_000_000}, "looks like microseconds"),
    ("not a time", {"timestamp": "yesterday"}, "neither integer nanoseconds nor RFC 3339"),
    ("no time zone", {"timestamp": "2026-11-26T10:00:00"}, "has no time zone"),
    ("future", {"timestamp": "2099-01-01T00:00:00Z"}, "in the future"),
    ("older than retention", {"timestamp": "2020-01-01T00:00:00Z"}, "older than the retention of 90 days"),
    ("too many tags", {"tags": {f"k{i}": "v" for i in range(33)}}, "33 tags; the limit is 32"),
    ("long tag", {"tags": {"status": "x" * 257}}, "'status' is 257 characters long; the limit is 256"),
    ("bad tag key", {"tags": {"bad key": "v"}}, "tag key 'bad key'"),
    ("unknown field", {"colour": "red"}, "unknown field(s): colour"),
    ("missing endpoint", {"endpoint_or_operation": None}, "endpoint_or_operation is required"),
]


@pytest.mark.parametrize(("case", "change", "message"), BAD_RECORDS, ids=[case for case, _, _ in BAD_RECORDS])
def test_each_bad_record_gets_its_specific_reason(
    stack: RunningStack, case: str, change: dict[str, Any], message: str
) -> None:
    bad = {**record(unique("GET /bad"), 10.0, _now()), **change}
    response = stack.call("record_performance_metric", json={"metrics": [bad]})
    assert response.status_code == 400
    rejected = response.json()["rejected"]
    assert len(rejected) == 1 and message in rejected[0]["error"], rejected


def test_nan_in_the_body_is_rejected_as_not_finite(stack: RunningStack) -> None:
    body = json.dumps({"metrics": [record("GET /nan", 1.0, _now())]}).replace('"value": 1.0', '"value": NaN')
    response = stack.call("record_performance_metric", data=body)
    assert response.status_code == 400 and "finite" in response.json()["rejected"][0]["error"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ('{"metrics": [', 400, "malformed JSON"),
        ("", 400, "the body is empty"),
        ("[1, 2]", 400, "send a metric object"),
        ('{"metrics": 5}', 400, "'metrics' must be an array"),
        (b"\xff\xfe", 400, "not UTF-8"),
    ],
)
def test_malformed_bodies_get_400(stack: RunningStack, body: str | bytes, status: int, message: str) -> None:
    response = stack.call("record_performance_metric", data=body)
    assert response.status_code == status and message in response.json()["error"]["message"]


def test_a_body_over_10_mb_gets_413_and_nothing_is_stored(stack: RunningStack) -> None:
    endpoint = unique("GET /huge")
    body = json.dumps({"metrics": [record(endpoint, 1.0, _now())], "pad": "y" * (10 * 1024 * 1024)})
    response = stack.call("record_performance_metric", data=body)
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"
    now = _now()
    assert stored(stack, endpoint, now - dt.timedelta(minutes=5), now + dt.timedelta(minutes=1)) == []


def test_more_than_10000_records_get_413(stack: RunningStack) -> None:
    batch = [{"metric_type": "api_latency"}] * 10_001
    response = stack.call("record_performance_metric", json={"metrics": batch})
    assert response.status_code == 413 and "10001 metrics in one batch; the limit is 10000" in response.text


def test_get_on_the_ingest_function_is_405(stack: RunningStack) -> None:
    assert stack.call("record_performance_metric").status_code == 405


@pytest.mark.parametrize(
    ("key", "status", "message"),
    [(None, 401, "Authorization: Bearer"), ("wrong", 401, "unknown API key"), (READ_KEY, 403, "lacks the 'ingest'")],
)
def test_ingest_needs_a_key_with_the_ingest_scope(
    stack: RunningStack, key: str | None, status: int, message: str
) -> None:
    response = stack.call("record_performance_metric", key=key, json=record("GET /auth", 1.0, _now()))
    assert response.status_code == status and message in response.json()["error"]["message"]


def test_the_ingest_key_cannot_read(stack: RunningStack) -> None:
    params = {"metric_type": "api_latency", "start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}
    response = stack.call("get_performance_data", key=INGEST_KEY, params=params)
    assert response.status_code == 403 and "lacks the 'read' scope" in response.text


def test_the_ingest_key_can_write(stack: RunningStack) -> None:
    response = stack.call("record_performance_metric", key=INGEST_KEY, json=record(unique("GET /w"), 1.0, _now()))
    assert response.status_code == 200 and response.json()["stored"] == 1


def test_user_data_is_scrubbed_before_it_is_stored(stack: RunningStack) -> None:
    hour, marker = isolated_hour(), unique("x")
    raw_endpoint = f"GET /users/ann@example.com/orders?token=s3cr3t {marker}"
    tags = {"route": "from 203.0.113.9 with Bearer abcdefgh12345678", "user_email": "ann@example.com"}
    answer = stack.call("record_performance_metric", json=record(raw_endpoint, 1.0, hour, tags=tags)).json()
    assert answer["warnings"] == [{"index": 0, "warning": "tags not in the allowlist were dropped: user_email"}]
    endpoint = f"GET /users/[email]/orders?token=[redacted] {marker}"
    rows = stored(stack, endpoint, hour, hour + dt.timedelta(hours=1))
    assert len(rows) == 1 and rows[0]["tags"] == {"route": "from [ip] with Bearer [token]"}
    assert "ann@example.com" not in json.dumps(rows)


def test_timestamps_may_be_rfc3339_or_nanosecond_strings(stack: RunningStack) -> None:
    hour, endpoint = isolated_hour(), unique("GET /time")
    records = [
        record(endpoint, 1.0, hour, timestamp=hour.isoformat().replace("+00:00", "Z")),
        record(endpoint, 2.0, hour, timestamp=str(ns(hour) + 1000)),
    ]
    assert stack.call("record_performance_metric", json={"metrics": records}).json()["stored"] == 2
    rows = stored(stack, endpoint, hour, hour + dt.timedelta(minutes=1))
    assert [r["timestamp_ns"] for r in rows] == [ns(hour), ns(hour) + 1000]
