"""The Pub/Sub messagePublished CloudEvent: encode then decode gives the message back; bad data is rejected."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest

from perfguard.bus.cloudevent import EVENT_TYPE, Message, decode, encode
from perfguard.errors import InvalidRequest

PUBLISHED = dt.datetime(2026, 11, 26, 10, 0, 5, 123_000, tzinfo=dt.UTC)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def encoded(
    data: dict[str, Any] | None = None,
    attributes: dict[str, str] | None = None,
    published: dt.datetime = PUBLISHED,
) -> tuple[dict[str, str], bytes]:
    return encode(
        "market-prod",
        "metrics-ingested",
        "evaluate-on-ingest",
        "msg-42",
        published,
        {"batch": 7, "endpoints": ["/swap"]} if data is None else data,
        {"source": "record_performance_metric"} if attributes is None else attributes,
    )


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_round_trip_keeps_data_attributes_id_and_publish_time() -> None:
    _, body = encoded()
    message = decode(json.loads(body))
    assert message == Message(
        data={"batch": 7, "endpoints": ["/swap"]},
        attributes={"source": "record_performance_metric"},
        message_id="msg-42",
        publish_time=PUBLISHED,
    )


def test_publish_time_is_kept_to_the_millisecond_in_utc() -> None:
    plus_two = dt.datetime(2026, 11, 26, 12, 0, 5, 123_456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    headers, body = encoded(published=plus_two)
    assert headers["ce-time"] == "2026-11-26T10:00:05.123Z"
    assert json.loads(body)["message"]["publishTime"] == "2026-11-26T10:00:05.123Z"
    assert decode(json.loads(body)).publish_time == PUBLISHED


def test_binary_mode_headers() -> None:
    headers, _ = encoded()
    assert headers == {
        "Content-Type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": "msg-42",
        "ce-type": EVENT_TYPE,
        "ce-source": "//pubsub.googleapis.com/projects/market-prod/topics/metrics-ingested",
        "ce-time": "2026-11-26T10:00:05.123Z",
    }
    assert EVENT_TYPE == "google.cloud.pubsub.topic.v1.messagePublished"


def test_body_has_the_message_published_data_shape() -> None:
    _, body = encoded()
    payload = json.loads(body)
    assert payload["subscription"] == "projects/market-prod/subscriptions/evaluate-on-ingest"
    assert set(payload["message"]) == {"data", "attributes", "messageId", "publishTime"}
    assert json.loads(base64.b64decode(payload["message"]["data"])) == {"batch": 7, "endpoints": ["/swap"]}


def test_round_trip_of_empty_data_and_attributes() -> None:
    _, body = encoded(data={}, attributes={})
    message = decode(json.loads(body))
    assert (message.data, message.attributes) == ({}, {})


def test_round_trip_of_unicode_data() -> None:
    _, body = encoded(data={"endpoint": "/café/☕"})
    assert decode(json.loads(body)).data == {"endpoint": "/café/☕"}


def test_snake_case_fields_are_read_too() -> None:
    message = decode(
        {"message": {"data": b64(b'{"a": 1}'), "message_id": "m1", "publish_time": "2026-11-26T10:00:05.123Z"}}
    )
    assert (message.data, message.message_id, message.publish_time) == ({"a": 1}, "m1", PUBLISHED)


def test_message_without_data_decodes_to_an_empty_object() -> None:
    message = decode({"message": {"messageId": "m"}})
    assert (message.data, message.attributes, message.message_id) == ({}, {}, "m")


def test_non_object_json_data_is_wrapped() -> None:
    assert decode({"message": {"data": b64(b"[1, 2]")}}).data == {"value": [1, 2]}
    assert decode({"message": {"data": b64(b'"tick"')}}).data == {"value": "tick"}


def test_attribute_values_become_strings() -> None:
    assert decode({"message": {"attributes": {"n": 3, "ok": True}}}).attributes == {"n": "3", "ok": "True"}


@pytest.mark.parametrize("publish_time", [None, "", "yesterday", 1795687205])
def test_missing_or_bad_publish_time_falls_back_to_the_epoch(publish_time: object) -> None:
    assert decode({"message": {"publishTime": publish_time}}).publish_time == EPOCH


@pytest.mark.parametrize("event_data", [None, {}, {"message": None}, {"message": "text"}, {"message": [1]}])
def test_event_without_a_message_is_invalid(event_data: dict[str, Any] | None) -> None:
    with pytest.raises(InvalidRequest, match="^the CloudEvent carries no Pub/Sub message$"):
        decode(event_data)


@pytest.mark.parametrize(
    "data",
    [
        "abc",  # incorrect padding
        "é",  # not ASCII
        b64(b"not json"),
        b64(b'{"a": '),
        b64(b"\xff\xfe\x00"),  # not UTF-8
    ],
)
def test_data_that_is_not_base64_json_is_invalid(data: str) -> None:
    with pytest.raises(InvalidRequest, match="^the message data is not base64 JSON: "):
        decode({"message": {"data": data}})


def test_data_of_non_base64_characters_is_invalid() -> None:
    with pytest.raises(InvalidRequest):
        decode({"message": {"data": "!!!!"}})


def test_non_string_data_is_invalid() -> None:
    with pytest.raises(InvalidRequest):
        decode({"message": {"data": 123}})


def test_publish_time_without_zone_is_read_as_utc() -> None:
    assert decode({"message": {"publishTime": "2026-11-26T10:00:05.123"}}).publish_time == PUBLISHED
