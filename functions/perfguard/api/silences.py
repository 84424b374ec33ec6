"""Silences over HTTP: `create_silence` and `expire_silence` (admin key), `get_silences` (read key).

A silence mutes the notifications of the alert state changes its matchers match while it is active
(`perfguard.api.notify`); the alerts themselves are still evaluated and recorded. Matchers compare the
labels of the alert as the webhook payload carries them: `alertname` (the rule), `severity`, `endpoint`
(`(all endpoints)` for an overall alert) and `metric_type`. For example, to mute the latency alerts of one
endpoint for a two-hour maintenance:

    POST /create_silence {"matchers": [{"label": "endpoint", "op": "=", "value": "POST /swaps"}],
                          "duration_minutes": 120, "comment": "ledger upgrade"}

Like changing an alert's status, creating or expiring a silence changes what the on-call sees, so it needs
the `admin` scope.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Request, Response

from perfguard.api import params as p
from perfguard.api.auth import ADMIN, READ
from perfguard.api.responses import json_response
from perfguard.domain.silences import (
    MAX_DURATION,
    expired_row,
    new_silence,
    parse_matchers,
    silence_from_row,
    silence_row,
    state,
)
from perfguard.domain.timestamps import format_rfc3339
from perfguard.errors import InvalidRequest, NotFound, ValidationError
from perfguard.runtime import Runtime
from perfguard.warehouse.sql import load_query

log = logging.getLogger(__name__)

TABLE = "alert_silences"
STATES = ("active", "all")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # every silence kept ends after it: get_silences?state=all
CREATE_USAGE = 'create_silence takes a POST with a JSON body {"matchers", "ends_at" or "duration_minutes", "comment"}'
_SILENCE_ID = re.compile(r"slnc_[0-9a-f]{1,64}")
# Only keeps absurd numbers out of timedelta: the 30-day limit is new_silence's, which says why it refuses.
_MAX_MINUTES = MAX_DURATION // dt.timedelta(minutes=1) * 100


def create_silence(runtime: Runtime, request: Request) -> Response:
    """POST {"matchers", "ends_at" | "duration_minutes", "starts_at"?, "comment"}: answers the new silence."""
    api_key = runtime.keys.authenticate(request.headers.get("Authorization"), ADMIN)
    _require_post(request, CREATE_USAGE)
    args, now = p.request_params(request), runtime.clock()
    silence = new_silence(
        f"slnc_{secrets.token_hex(10)}",
        parse_matchers(args.get("matchers")),
        p.moment(args, "starts_at", now),
        _end(args),
        f"api:{api_key.name}",
        args.get("comment"),
        now,
    )
    row = silence_row(silence, now, silence.created_by)
    runtime.warehouse.append_rows(TABLE, [row])
    log.info("silence %s created by %s until %s", silence.id, silence.created_by, format_rfc3339(silence.ends_at))
    return json_response({"silence": silence_json(row, now)})


def get_silences(runtime: Runtime, request: Request) -> Response:
    """The silences not yet expired (active or pending), soonest end first; `state=all` adds the expired ones."""
    runtime.keys.authenticate(request.headers.get("Authorization"), READ)
    wanted = _state_param(p.request_params(request).get("state"))
    now = runtime.clock()
    rows = runtime.warehouse.query(load_query("active_silences"), {"at": now if wanted == "active" else EPOCH})
    return json_response({"state": wanted, "silences": [silence_json(row, now) for row in rows]})


def expire_silence(runtime: Runtime, request: Request) -> Response:
    """POST {"id"}: end a silence now (a pending one never starts); answers the expired silence."""
    api_key = runtime.keys.authenticate(request.headers.get("Authorization"), ADMIN)
    _require_post(request, 'expire_silence takes a POST with a JSON body {"id"}')
    silence_id, now = _silence_id(p.request_params(request).get("id")), runtime.clock()
    rows = runtime.warehouse.query(load_query("silence_by_id"), {"id": silence_id})
    if not rows:
        raise NotFound(f"no silence with id {silence_id!r}")
    row = expired_row(rows[0], now, f"api:{api_key.name}")
    runtime.warehouse.append_rows(TABLE, [row])
    log.info("silence %s expired by %s", silence_id, row["changed_by"])
    return json_response({"silence": silence_json(row, now)})


def silence_json(row: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
    """An alert_silences row as JSON, with its state now (pending, active or expired)."""
    silence = silence_from_row(row)
    times = {name: format_rfc3339(row[name]) for name in ("starts_at", "ends_at", "changed_at")}
    return {
        "id": silence.id,
        "state": state(silence, now),
        "matchers": [matcher.to_json() for matcher in silence.matchers],
        **times,
        "created_by": silence.created_by,
        "comment": silence.comment,
        "changed_by": row["changed_by"],
    }


def _end(args: Mapping[str, Any]) -> dt.datetime | dt.timedelta:
    """ends_at, or duration_minutes from the start: exactly one of them."""
    has_end, has_duration = args.get("ends_at") not in (None, ""), args.get("duration_minutes") not in (None, "")
    if has_end and has_duration:
        raise ValidationError("give ends_at or duration_minutes, not both")
    if not has_end and not has_duration:
        raise ValidationError("ends_at (RFC 3339 or integer nanoseconds) or duration_minutes is required")
    if has_end:
        return p.moment(args, "ends_at")
    return dt.timedelta(minutes=p.integer(args, "duration_minutes", 0, 1, _MAX_MINUTES))


def _require_post(request: Request, usage: str) -> None:
    if request.method != "POST":
        raise InvalidRequest(usage)


def _state_param(value: object) -> str:
    if value is None or value == "":
        return "active"
    if value not in STATES:
        raise ValidationError(f"state must be active (the default: active or pending) or all; got {value!r}")
    return str(value)


def _silence_id(value: object) -> str:
    if not isinstance(value, str) or not _SILENCE_ID.fullmatch(value):
        raise ValidationError(f"id is required: the id of a silence, e.g. slnc_0123456789abcdef0123; got {value!r}")
    return value
