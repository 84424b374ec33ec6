"""Silences, as Alertmanager has them: label matchers that mute matching alerts from a start until an end.

A silence is *pending* before `starts_at`, *active* while `starts_at <= at < ends_at` and *expired* after.
Each matcher compares one label of the alert (`alertname`, `severity`, `endpoint`, `metric_type`: the labels
of `perfguard.notify.message.alert_labels`) with `=`, `!=`, `=~` or `!~`. As in Alertmanager, a regular
expression must match the whole value, and a label the alert does not carry has the empty value.

>>> t0, hour = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC), dt.timedelta(hours=1)
>>> silence = Silence("slnc_1", (Matcher("endpoint", "=~", "POST /swaps.*"),), t0, t0 + hour, "api:ops", "deploy")
>>> matches(silence, {"alertname": "p95_api_latency", "endpoint": "POST /swaps/quote"}, t0)
True
>>> matches(silence, {"endpoint": "GET /listings"}, t0)
False
>>> matches(silence, {"endpoint": "POST /swaps/quote"}, t0 + hour)  # ends_at is not part of it
False

The log of silences is append-only: creating one appends its row, expiring it appends a copy ending now.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from perfguard.domain.scrub import scrub
from perfguard.domain.timestamps import format_rfc3339
from perfguard.errors import ValidationError

EQUAL, NOT_EQUAL, REGEX, NOT_REGEX = "=", "!=", "=~", "!~"
OPS = (EQUAL, NOT_EQUAL, REGEX, NOT_REGEX)
PENDING, ACTIVE, EXPIRED = "pending", "active", "expired"
MAX_DURATION = dt.timedelta(days=30)
# A silence starts at most this far ahead, so with MAX_DURATION every silence ends within 60 days of its
# creation: its row is still there when it ends (the tables' partitions expire after 90 days).
MAX_LEAD = dt.timedelta(days=30)
MAX_MATCHERS = 16
# Label values are endpoint and rule names; a long pattern is a mistake. Python's regular expressions
# backtrack (Alertmanager's RE2 does not), and a short pattern over short values keeps that cheap.
MAX_VALUE_CHARS = 256
MAX_COMMENT_CHARS = 1000
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_MATCHER_KEYS = frozenset({"label", "op", "value"})
# The current state is the row with the latest changed_at: an expiry must sort after the row it ends,
# even when both share a clock reading (as in perfguard.domain.lifecycle).
_AFTER = dt.timedelta(microseconds=1)


@dataclasses.dataclass(frozen=True)
class Matcher:
    """`label op value`; a ValidationError says what is wrong with an invalid one."""

    label: str
    op: str
    value: str
    _pattern: re.Pattern[str] | None = dataclasses.field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if not _LABEL_NAME.fullmatch(self.label):
            raise ValidationError(f"label {self.label!r} is not a label name: a letter or _, then letters, digits or _")
        if self.op not in OPS:
            raise ValidationError(f"op must be one of {', '.join(OPS)}; got {self.op!r}")
        if len(self.value) > MAX_VALUE_CHARS:
            raise ValidationError(f"value is {len(self.value)} characters; the limit is {MAX_VALUE_CHARS}")
        if self.op in (REGEX, NOT_REGEX):
            object.__setattr__(self, "_pattern", _compile(self.value))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether the labels satisfy this matcher; a missing label is the empty string."""
        value = labels.get(self.label, "")
        found = value == self.value if self._pattern is None else self._pattern.fullmatch(value) is not None
        return found if self.op in (EQUAL, REGEX) else not found

    def to_json(self) -> dict[str, str]:
        """The matcher as the API and the warehouse keep it."""
        return {"label": self.label, "op": self.op, "value": self.value}


def _compile(value: str) -> re.Pattern[str]:
    # Alertmanager compiles `^(?:value)$`; fullmatch anchors the same way, and compiling the value alone
    # refuses one like `a)|(b` that only forms a pattern once wrapped.
    try:
        return re.compile(value)
    except re.error as exc:
        raise ValidationError(f"value {value!r} is not a valid regular expression: {exc}") from exc


@dataclasses.dataclass(frozen=True)
class Silence:
    """Mutes the alerts its matchers all match, from starts_at until ends_at."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: dt.datetime
    ends_at: dt.datetime
    created_by: str
    comment: str


def state(silence: Silence, at: dt.datetime) -> str:
    """pending, active or expired at `at`."""
    if at < silence.starts_at:
        return PENDING
    return ACTIVE if at < silence.ends_at else EXPIRED


def matches(silence: Silence, labels: Mapping[str, str], at: dt.datetime) -> bool:
    """Whether the silence is active at `at` and every one of its matchers matches the labels."""
    return state(silence, at) == ACTIVE and all(matcher.matches(labels) for matcher in silence.matchers)


def silencing(silences: Iterable[Silence], labels: Mapping[str, str], at: dt.datetime) -> Silence | None:
    """The first of the silences that mutes an alert with these labels at `at`, or None."""
    return next((silence for silence in silences if matches(silence, labels, at)), None)


def parse_matchers(value: object) -> tuple[Matcher, ...]:
    """Matchers from JSON: a non-empty list of {"label", "op", "value"}; the error names the one at fault."""
    if not isinstance(value, list) or not value:
        raise ValidationError('matchers is required: a list of {"label", "op", "value"}, at least one')
    if len(value) > MAX_MATCHERS:
        raise ValidationError(f"a silence has at most {MAX_MATCHERS} matchers; got {len(value)}")
    return tuple(_matcher(index, item) for index, item in enumerate(value))


def _matcher(index: int, item: object) -> Matcher:
    where = f"matchers[{index}]"
    if not isinstance(item, dict):
        raise ValidationError(f'{where} must be an object {{"label", "op", "value"}}; got {item!r}')
    unknown = sorted(set(item) - _MATCHER_KEYS)
    if unknown:  # e.g. Alertmanager's isRegex: ignoring it would silently turn a pattern into a literal
        raise ValidationError(f"{where} has unknown keys {unknown}: a matcher has label, op and value")
    for key in sorted(_MATCHER_KEYS):
        if not isinstance(item.get(key), str):
            raise ValidationError(f"{where}: {key} is required and must be a string; got {item.get(key)!r}")
    try:
        return Matcher(item["label"], item["op"], item["value"])
    except ValidationError as exc:
        raise ValidationError(f"{where}: {exc}") from exc


def clean_comment(value: object) -> str:
    """The required comment (why the alerts are silenced), with user data and secrets scrubbed."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("comment is required: say why these alerts are silenced")
    if len(value) > MAX_COMMENT_CHARS:
        raise ValidationError(f"comment is {len(value)} characters; the limit is {MAX_COMMENT_CHARS}")
    return scrub(value.strip())


def new_silence(
    silence_id: str,
    matchers: tuple[Matcher, ...],
    starts_at: dt.datetime,
    end: dt.datetime | dt.timedelta,
    created_by: str,
    comment: object,
    now: dt.datetime,
    max_duration: dt.timedelta = MAX_DURATION,
) -> Silence:
    """A silence checked against the creation rules; `end` is a time or a duration from the start.

    A start in the past becomes `now`, as Alertmanager does: a silence cannot mute what was already sent.
    """
    _check_matchers(matchers)
    start = max(starts_at, now)
    ends_at = start + end if isinstance(end, dt.timedelta) else end
    _check_times(start, ends_at, now, max_duration)
    if not created_by:
        raise ValidationError("a silence needs its creator (created_by)")
    return Silence(silence_id, matchers, start, ends_at, created_by, clean_comment(comment))


def _check_matchers(matchers: tuple[Matcher, ...]) -> None:
    if not matchers:
        raise ValidationError("a silence needs at least one matcher")
    if all(matcher.matches({}) for matcher in matchers):  # {}: every label missing, so empty
        raise ValidationError(
            "at least one matcher must not match the empty string: "
            "a silence of only such matchers would also mute alerts without those labels"
        )


def _check_times(starts_at: dt.datetime, ends_at: dt.datetime, now: dt.datetime, max_duration: dt.timedelta) -> None:
    if starts_at - now > MAX_LEAD:
        raise ValidationError(f"starts_at is {_days(starts_at - now)} ahead; the limit is {_days(MAX_LEAD)}")
    if ends_at <= now:
        raise ValidationError(f"ends_at {format_rfc3339(ends_at)} is not in the future: a silence must end after now")
    if ends_at <= starts_at:
        raise ValidationError(f"ends_at must be after starts_at ({format_rfc3339(starts_at)})")
    if ends_at - starts_at > max_duration:
        raise ValidationError(
            f"a silence lasts at most {_days(max_duration)}; this one would last {_days(ends_at - starts_at)}"
            " (create a new one when it ends)"
        )


def _days(span: dt.timedelta) -> str:
    """A span for people, to the minute: `30 d`, `30 d 1 min`, `2 h 30 min`."""
    hours, minutes = divmod(round(span / dt.timedelta(minutes=1)), 60)
    days, hours = divmod(hours, 24)
    return " ".join(f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if n) or "0 min"


def silence_row(silence: Silence, changed_at: dt.datetime, changed_by: str) -> dict[str, Any]:
    """The alert_silences row recording the silence as it is from changed_at on."""
    return {
        "id": silence.id,
        "matchers": json.dumps([matcher.to_json() for matcher in silence.matchers]),
        "starts_at": silence.starts_at,
        "ends_at": silence.ends_at,
        "created_by": silence.created_by,
        "comment": silence.comment,
        "changed_at": changed_at,
        "changed_by": changed_by,
    }


def silence_from_row(row: Mapping[str, Any]) -> Silence:
    """The silence an alert_silences row records (matchers as JSON text or as a list)."""
    matchers = row["matchers"]
    return Silence(
        str(row["id"]),
        parse_matchers(json.loads(matchers) if isinstance(matchers, str) else matchers),
        row["starts_at"],
        row["ends_at"],
        str(row["created_by"]),
        str(row["comment"]),
    )


def expired_row(current: Mapping[str, Any], now: dt.datetime, changed_by: str) -> dict[str, Any]:
    """The row that expires the silence of `current` now (a pending one ends before it starts)."""
    silence = silence_from_row(current)
    if state(silence, now) == EXPIRED:
        raise ValidationError(f"silence {silence.id} already expired at {format_rfc3339(silence.ends_at)}")
    ended = dataclasses.replace(silence, starts_at=min(silence.starts_at, now), ends_at=now)
    return silence_row(ended, max(now, current["changed_at"] + _AFTER), changed_by)
