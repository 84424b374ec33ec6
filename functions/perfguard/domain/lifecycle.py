"""The alert lifecycle people drive: which status changes are allowed, and the row each one appends.

    open ──► investigating ──► resolved | false_positive
     │  ◄────────┘
     └──────────────────────► resolved | false_positive

* `investigating` means acknowledged: someone is on it, so escalation stops.
* `investigating → open` undoes an acknowledgement (clicked by mistake, or handed back), so escalation resumes.
* `resolved` and `false_positive` are final. A breach after them is a new episode, for which the evaluator
  opens a new alert with its own id; reopening an old alert would merge two episodes into one record.
* Changing an alert to the status it already has is refused, so a double click or a retried request is
  recorded once and the second attempt says why.

>>> allowed_next("open")
('investigating', 'resolved', 'false_positive')
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from perfguard.domain.scrub import scrub
from perfguard.domain.timestamps import format_rfc3339
from perfguard.errors import ValidationError

OPEN, INVESTIGATING, RESOLVED, FALSE_POSITIVE = "open", "investigating", "resolved", "false_positive"
STATUSES = (OPEN, INVESTIGATING, RESOLVED, FALSE_POSITIVE)
FINAL = frozenset({RESOLVED, FALSE_POSITIVE})
_NEXT: Mapping[str, tuple[str, ...]] = {
    OPEN: (INVESTIGATING, RESOLVED, FALSE_POSITIVE),
    INVESTIGATING: (OPEN, RESOLVED, FALSE_POSITIVE),
    RESOLVED: (),
    FALSE_POSITIVE: (),
}
MAX_NOTE_CHARS = 1000
# open <-> investigating can repeat without end: keep the latest notes so the context stays small.
MAX_NOTES = 50
# The current state is the row with the latest changed_at: a change must sort after the state it changes,
# even when two changes share a clock reading or an instance's clock is behind the previous writer's.
_AFTER = dt.timedelta(microseconds=1)


def allowed_next(status: str) -> tuple[str, ...]:
    """The statuses an alert in `status` may be changed to."""
    return _NEXT.get(status, ())


def parse_status(value: object) -> str:
    """A status a person may ask for; anything else is a ValidationError naming the choices."""
    if not isinstance(value, str) or value not in STATUSES:
        raise ValidationError(f"status must be one of {', '.join(STATUSES)}; got {value!r}")
    return value


def clean_note(value: object) -> str | None:
    """An optional free-text note, with user data and secrets scrubbed (it is stored with the alert)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ValidationError("note must be a string")
    if len(value) > MAX_NOTE_CHARS:
        raise ValidationError(f"note is {len(value)} characters; the limit is {MAX_NOTE_CHARS}")
    return scrub(value.strip())


def check_transition(alert_id: str, current: str, wanted: str) -> None:
    """Raise a ValidationError saying why `current → wanted` is not allowed, if it is not."""
    if current == wanted:
        raise ValidationError(f"alert {alert_id} is already {current}")
    if current in FINAL:
        raise ValidationError(f"alert {alert_id} is already {current}, which is final; a new breach opens a new alert")
    if wanted not in allowed_next(current):
        raise ValidationError(f"alert {alert_id} cannot change from {current} to {wanted}")


def changed_row(
    current: Mapping[str, Any], status: str, changed_by: str, now: dt.datetime, note: str | None = None
) -> dict[str, Any]:
    """The performance_alerts row that records `current` changing to `status` (fields copied, who and when)."""
    check_transition(str(current["id"]), str(current["status"]), status)
    changed_at = max(now, current["changed_at"] + _AFTER)
    context = _context(current.get("context"))
    if note is not None:
        entry = {"at": format_rfc3339(changed_at), "by": changed_by, "status": status, "text": note}
        context["notes"] = [*_notes(context), entry][-MAX_NOTES:]
    return {
        **current,
        "status": status,
        "resolved_at": changed_at if status in FINAL else None,
        "changed_at": changed_at,
        "changed_by": changed_by,
        "context": json.dumps(context),
    }


def _context(value: object) -> dict[str, Any]:
    """The stored context as a dict (the warehouse hands JSON back as text or as an object)."""
    if isinstance(value, str):
        value = json.loads(value) if value else None
    return dict(value) if isinstance(value, Mapping) else {}


def _notes(context: Mapping[str, Any]) -> list[Any]:
    notes = context.get("notes")
    return list(notes) if isinstance(notes, list) else []
