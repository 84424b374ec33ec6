"""`get_performance_data` and `get_performance_summary`: read stored metrics back."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Request, Response

from perfguard.api import params as p
from perfguard.api.auth import READ
from perfguard.api.responses import json_response
from perfguard.domain import summary
from perfguard.domain.thresholds import floor_minute
from perfguard.domain.timestamps import datetime_to_ns, format_rfc3339
from perfguard.errors import ValidationError
from perfguard.runtime import Runtime
from perfguard.warehouse.sql import load_query

MAX_PAGE = 10_000


def get_performance_data(runtime: Runtime, request: Request) -> Response:
    """Stored metrics of one type in [start, end), oldest first, a page at a time (`next_cursor`)."""
    runtime.keys.authenticate(request.headers.get("Authorization"), READ)
    args = p.request_params(request)
    start, end = p.time_range(args)
    limit = p.integer(args, "limit", runtime.settings.page_size, 1, MAX_PAGE)
    after_timestamp, after_id = p.decode_cursor(p.optional_text(args, "cursor"))
    filters = p.tag_filters(args)
    sql, tag_params = _with_tag_filters(load_query("performance_data"), filters)
    rows = runtime.warehouse.query(
        sql,
        {
            "metric_type": p.metric_type(args),
            "start": start,
            "end": end,
            "endpoint_or_operation": p.optional_text(args, "endpoint_or_operation"),
            "after_timestamp": after_timestamp,
            "after_id": after_id,
            "limit": limit,
            **tag_params,
        },
    )
    cursor = p.encode_cursor(rows[-1]["timestamp"], rows[-1]["id"]) if len(rows) == limit else None
    return json_response({"metrics": [_metric(row) for row in rows], "next_cursor": cursor})


def _with_tag_filters(sql: str, filters: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    # Keys are validated identifiers (params.tag_filters), so they can be part of the JSON path literal;
    # values always travel as query parameters.
    conditions = [f"AND JSON_VALUE(tags, '$.{key}') = @tag_{n}" for n, key in enumerate(filters)]
    values = {f"tag_{n}": value for n, value in enumerate(filters.values())}
    return sql.replace("/*tag_filters*/", " ".join(conditions)), values


def _metric(row: Mapping[str, Any]) -> dict[str, Any]:
    stamp: dt.datetime = row["timestamp"]
    return {
        **{k: v for k, v in row.items() if k not in ("timestamp", "tags")},
        "timestamp": format_rfc3339(stamp),
        "timestamp_ns": datetime_to_ns(stamp),
        "tags": json.loads(row["tags"]) if isinstance(row["tags"], str) else (row["tags"] or {}),
    }


def get_performance_summary(runtime: Runtime, request: Request) -> Response:
    """Per endpoint_or_operation statistics over [start, end), optionally bucketed, with baselines."""
    runtime.keys.authenticate(request.headers.get("Authorization"), READ)
    args = p.request_params(request)
    start, end = p.time_range(args)
    interval = _interval(p.optional_text(args, "interval"))
    exact_max = dt.timedelta(hours=runtime.settings.exact_percentile_max_hours)
    method = summary.choose_method(start, end, exact_max)
    if method == summary.HISTOGRAM:
        start, end = floor_minute(start), floor_minute(end)  # rollups hold whole minutes
    query = {
        "metric_type": p.metric_type(args),
        "endpoint_or_operation": p.optional_text(args, "endpoint_or_operation"),
        "interval_us": (interval or 0) * 1_000_000,
    }
    current = _groups(runtime, method, start, end, query)
    earlier = {
        name: _groups(runtime, method, start - shift, end - shift, query)
        for name, shift in summary.BASELINE_SHIFTS.items()
    }
    groups = summary.with_baselines(current, earlier)
    return json_response(
        {
            "method": method,
            "start": format_rfc3339(start),
            "end": format_rfc3339(end),
            "interval": p.optional_text(args, "interval"),
            "groups": [_group(group, interval is not None) for group in groups],
        }
    )


def _interval(value: str | None) -> int | None:
    if value is None:
        return None
    if value not in summary.INTERVALS:
        raise ValidationError(f"interval must be one of {', '.join(summary.INTERVALS)}, got {value!r}")
    return summary.INTERVALS[value]


def _groups(
    runtime: Runtime, method: str, start: dt.datetime, end: dt.datetime, query: dict[str, Any]
) -> list[summary.SummaryGroup]:
    params = {**query, "start": start, "end": end}
    if method == summary.EXACT:
        return summary.groups_from_exact(runtime.warehouse.query(load_query("summary_exact"), params))
    return summary.groups_from_histogram(runtime.warehouse.query(load_query("summary_histogram"), params))


def _group(group: summary.SummaryGroup, bucketed: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"endpoint_or_operation": group.endpoint_or_operation}
    if bucketed and group.bucket_start is not None:
        body["bucket_start"] = format_rfc3339(group.bucket_start)
    for name in ("count", "mean", "min", "max", "p50", "p95", "p99", "error_rate", "timeout_rate", "baseline"):
        body[name] = getattr(group, name)
    return body
