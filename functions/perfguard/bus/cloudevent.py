"""The Pub/Sub `messagePublished` CloudEvent that Eventarc delivers, built and read the same way everywhere.

Shape: google-cloudevents `MessagePublishedData` (binary content mode: `ce-*` headers, the data as body).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from perfguard.errors import InvalidRequest

EVENT_TYPE = "google.cloud.pubsub.topic.v1.messagePublished"


@dataclass(frozen=True)
class Message:
    """A decoded Pub/Sub message."""

    data: dict[str, Any]
    attributes: dict[str, str]
    message_id: str
    publish_time: dt.datetime


def encode(
    project: str,
    topic: str,
    subscription: str,
    message_id: str,
    published: dt.datetime,
    data: Mapping[str, Any],
    attributes: Mapping[str, str],
) -> tuple[dict[str, str], bytes]:
    """Headers and body of a binary-mode CloudEvent for one message."""
    stamp = published.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body = {
        "message": {
            "data": base64.b64encode(json.dumps(data).encode()).decode(),
            "attributes": dict(attributes),
            "messageId": message_id,
            "publishTime": stamp,
        },
        "subscription": f"projects/{project}/subscriptions/{subscription}",
    }
    headers = {
        "Content-Type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": message_id,
        "ce-type": EVENT_TYPE,
        "ce-source": f"//pubsub.googleapis.com/projects/{project}/topics/{topic}",
        "ce-time": stamp,
    }
    return headers, json.dumps(body).encode()


def decode(event_data: Mapping[str, Any] | None) -> Message:
    """Read the message out of a CloudEvent's data; a message whose data is not JSON is an InvalidRequest."""
    message = (event_data or {}).get("message")
    if not isinstance(message, dict):
        raise InvalidRequest("the CloudEvent carries no Pub/Sub message")
    encoded = message.get("data") or ""
    if not isinstance(encoded, str):
        raise InvalidRequest(f"the message data must be a base64 string, got {type(encoded).__name__}")
    try:
        raw = base64.b64decode(encoded, validate=True)
        data = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise InvalidRequest(f"the message data is not base64 JSON: {exc}") from exc
    return Message(
        data=data if isinstance(data, dict) else {"value": data},
        attributes={str(k): str(v) for k, v in (message.get("attributes") or {}).items()},
        message_id=str(message.get("messageId") or message.get("message_id") or ""),
        publish_time=_publish_time(message.get("publishTime") or message.get("publish_time")),
    )


def _publish_time(value: object) -> dt.datetime:
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # Pub/Sub times are UTC
        except ValueError:
            pass
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
