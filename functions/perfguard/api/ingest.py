"""`record_performance_metric`: validate, scrub and store a batch; publish it for evaluation."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from werkzeug.wrappers import Request, Response

from perfguard.api.auth import INGEST
from perfguard.api.params import parse_json
from perfguard.api.responses import json_response
from perfguard.domain.timestamps import datetime_to_ns, format_rfc3339, ns_to_datetime
from perfguard.domain.validation import BatchResult, parse_batch
from perfguard.errors import BusError, InvalidRequest, PayloadTooLarge
from perfguard.runtime import Runtime

log = logging.getLogger(__name__)
TOPIC = "metrics-ingested"


def record_performance_metric(runtime: Runtime, request: Request) -> Response:
    """POST one PerformanceMetric or `{"metrics": [...]}`; answers accepted, rejected and warnings."""
    key = runtime.keys.authenticate(request.headers.get("Authorization"), INGEST)
    if request.method != "POST":
        return json_response({"error": {"code": "method_not_allowed", "message": "use POST"}}, 405)
    records = _records(parse_json(_body(runtime, request)), runtime.settings.max_batch_records)
    now = runtime.clock()
    result = parse_batch(records, datetime_to_ns(now), runtime.ingest_limits())
    stored = runtime.warehouse.ingest_metrics(result.accepted, now)
    if result.rejected:
        log.warning(
            "rejected %d of %d records from key %s; first: %s",
            len(result.rejected),
            len(records),
            key.name,
            result.rejected[0]["error"],
        )
    if stored:
        _announce(runtime, result, stored, now)
    return json_response(_answer(result, stored), 400 if records and not result.accepted else 200)


def _body(runtime: Runtime, request: Request) -> bytes:
    limit = runtime.settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"the body is {request.content_length} bytes; the limit is {limit}")
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"the body is over the limit of {limit} bytes")
    if not data:
        raise InvalidRequest('the body is empty; send a metric object or {"metrics": [...]}')
    return data


def _records(body: Any, max_records: int) -> list[Any]:
    if isinstance(body, dict) and "metrics" in body:
        records = body["metrics"]
        if not isinstance(records, list):
            raise InvalidRequest("'metrics' must be an array of metric objects")
        if len(records) > max_records:
            raise PayloadTooLarge(f"{len(records)} metrics in one batch; the limit is {max_records}")
        return records
    if isinstance(body, dict):
        return [body]
    raise InvalidRequest('send a metric object or {"metrics": [...]}')


def _announce(runtime: Runtime, result: BatchResult, stored: int, now: dt.datetime) -> None:
    message = {
        "stored": stored,
        "oldest_timestamp": format_rfc3339(ns_to_datetime(min(m.timestamp_us for m in result.accepted) * 1000)),
        "metric_types": sorted({m.metric_type.value for m in result.accepted}),
        "ingested_at": format_rfc3339(now),
    }
    try:
        runtime.bus.publish(TOPIC, message, {"source": "record_performance_metric"})
    except BusError as exc:
        # The records are safely stored; the one-minute evaluation tick will see them anyway.
        log.warning("stored %d metrics but could not announce them: %s", stored, exc)


def _answer(result: BatchResult, stored: int) -> dict[str, Any]:
    return {
        "accepted": len(result.accepted),
        "stored": stored,
        "duplicates": len(result.accepted) - stored,
        "rejected": result.rejected,
        "warnings": result.warnings,
    }
