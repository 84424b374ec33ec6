"""Request parameters: read from the query string or a JSON body, validated with specific messages."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Request

from perfguard.domain.metric import MetricType
from perfguard.domain.timestamps import ns_to_datetime, parse_timestamp_ns
from perfguard.errors import InvalidRequest, ValidationError

_TAG_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
TAG_PREFIX = "tag."


def request_params(request: Request) -> dict[str, Any]:
    """Query-string parameters, overlaid by a JSON object body when there is one."""
    params: dict[str, Any] = dict(request.args.items())
    if request.method in ("POST", "PUT") and request.get_data(cache=True):
        body = parse_json(request.get_data(cache=True))
        if not isinstance(body, dict):
            raise InvalidRequest("the JSON body must be an object of parameters")
        params.update(body)
    return params


def parse_json(data: bytes) -> Any:
    """Decode a JSON body (UTF-8, as RFC 8259 requires); the message says where it broke."""
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"the body is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc


def metric_type(params: Mapping[str, Any]) -> str:
    """The required metric_type."""
    value = params.get("metric_type")
    if not value:
        raise ValidationError("metric_type is required")
    if value not in {m.value for m in MetricType}:
        raise ValidationError(f"unknown metric_type {value!r} (use one of: {', '.join(m.value for m in MetricType)})")
    return str(value)


def moment(params: Mapping[str, Any], name: str, default: dt.datetime | None = None) -> dt.datetime:
    """A time parameter (RFC 3339 or integer nanoseconds); required when there is no default."""
    value = params.get(name)
    if value is None or value == "":
        if default is None:
            raise ValidationError(f"{name} is required (RFC 3339 or integer nanoseconds)")
        return default
    try:
        return ns_to_datetime(parse_timestamp_ns(value))
    except ValidationError as exc:
        raise ValidationError(f"{name}: {exc}") from exc
    except OverflowError as exc:
        raise ValidationError(f"{name}: {value} is beyond any date this service can store") from exc


def time_range(params: Mapping[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    """The required [start, end) range."""
    start, end = moment(params, "start"), moment(params, "end")
    if end <= start:
        raise ValidationError("end must be after start")
    return start, end


def integer(params: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    """An integer parameter within [low, high]."""
    value = params.get(name, default)
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(value)
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name} must be an integer, got {value!r}") from exc
    if not low <= number <= high:
        raise ValidationError(f"{name} must be between {low} and {high}, got {number}")
    return number


def optional_text(params: Mapping[str, Any], name: str) -> str | None:
    """An optional string parameter."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string")
    return value


def tag_filters(params: Mapping[str, Any]) -> dict[str, str]:
    """`tag.<key>=<value>` parameters (or a `tags` object in a JSON body)."""
    filters = {name[len(TAG_PREFIX) :]: value for name, value in params.items() if name.startswith(TAG_PREFIX)}
    body_tags = params.get("tags") or {}
    if not isinstance(body_tags, dict):
        raise ValidationError("tags must be an object of key: value filters")
    filters.update(body_tags)
    for key, value in filters.items():
        if not _TAG_KEY.fullmatch(key):
            raise ValidationError(f"tag filter key {key!r} must be a letter or _ then letters, digits or _")
        if not isinstance(value, str):
            raise ValidationError(f"tag filter {key!r} must be a string")
    return {key: str(value) for key, value in filters.items()}


def encode_cursor(timestamp: dt.datetime, record_id: str) -> str:
    """An opaque cursor after (timestamp, id)."""
    raw = json.dumps([timestamp.isoformat(), record_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: str | None) -> tuple[dt.datetime, str]:
    """The (timestamp, id) a cursor points after; the epoch and '' without one."""
    if not value:
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC), ""
    try:
        stamp, record_id = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        return dt.datetime.fromisoformat(stamp), str(record_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ValidationError("cursor is not one this server issued; pass next_cursor back unchanged") from exc
