"""The alert lifecycle: every allowed and refused status change, and the row a change appends."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from typing import Any

import pytest

from perfguard.domain.lifecycle import (
    FALSE_POSITIVE,
    INVESTIGATING,
    MAX_NOTE_CHARS,
    MAX_NOTES,
    OPEN,
    RESOLVED,
    STATUSES,
    allowed_next,
    changed_row,
    check_transition,
    clean_note,
    parse_status,
)
from perfguard.errors import ValidationError

T0 = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
NOW = T0 + dt.timedelta(minutes=7)
# Written out by hand from the module docstring's diagram, independently of the module's table.
ALLOWED = {
    (OPEN, INVESTIGATING),
    (OPEN, RESOLVED),
    (OPEN, FALSE_POSITIVE),
    (INVESTIGATING, OPEN),
    (INVESTIGATING, RESOLVED),
    (INVESTIGATING, FALSE_POSITIVE),
}
COPIED = (
    "id",
    "alert_type",
    "rule",
    "metric_type",
    "endpoint_or_operation",
    "current_value",
    "threshold_value",
    "severity",
    "triggered_at",
    "context",
)
ALL_PAIRS = list(itertools.product(STATUSES, STATUSES))


def alert(status: str = OPEN, **extra: Any) -> dict[str, Any]:
    return {
        "id": "alrt_x",
        "alert_type": "threshold_exceeded",
        "rule": "api_latency_p95",
        "metric_type": "api_latency",
        "endpoint_or_operation": "POST /swaps",
        "current_value": 2600.0,
        "threshold_value": 2000.0,
        "severity": "high",
        "status": status,
        "context": json.dumps({"statistic": "p95"}),
        "triggered_at": T0,
        "resolved_at": None,
        "changed_at": T0 + dt.timedelta(minutes=1),
        "changed_by": "evaluator",
        **extra,
    }


def test_the_seed_statuses_are_the_lifecycle() -> None:
    assert set(STATUSES) == {"open", "investigating", "resolved", "false_positive"}


@pytest.mark.parametrize(("current", "wanted"), sorted(ALLOWED))
def test_an_allowed_change_appends_a_row_with_who_and_when(current: str, wanted: str) -> None:
    row = changed_row(alert(current), wanted, "api:ops", NOW)
    assert row["status"] == wanted
    assert (row["changed_at"], row["changed_by"]) == (NOW, "api:ops")
    assert row["resolved_at"] == (NOW if wanted in (RESOLVED, FALSE_POSITIVE) else None)
    assert {name: row[name] for name in COPIED} == {name: alert(current)[name] for name in COPIED}


@pytest.mark.parametrize(("current", "wanted"), [pair for pair in ALL_PAIRS if pair not in ALLOWED])
def test_every_other_change_is_refused_saying_why(current: str, wanted: str) -> None:
    with pytest.raises(ValidationError, match=f"alert alrt_x is already {current}"):
        changed_row(alert(current), wanted, "api:ops", NOW)


@pytest.mark.parametrize(("current", "wanted"), ALL_PAIRS)
def test_allowed_next_agrees_with_check_transition(current: str, wanted: str) -> None:
    assert (wanted in allowed_next(current)) == ((current, wanted) in ALLOWED)
    if (current, wanted) in ALLOWED:
        check_transition("a", current, wanted)


def test_a_final_status_says_it_is_final() -> None:
    with pytest.raises(ValidationError, match="already resolved, which is final; a new breach opens a new alert"):
        check_transition("alrt_x", RESOLVED, OPEN)
    with pytest.raises(ValidationError, match="^alert alrt_x is already resolved$"):
        check_transition("alrt_x", RESOLVED, RESOLVED)


def test_a_status_the_lifecycle_does_not_know_cannot_change() -> None:
    with pytest.raises(ValidationError, match="cannot change from snoozed to open"):
        check_transition("alrt_x", "snoozed", OPEN)


def test_a_change_sorts_after_the_state_it_changes_even_with_a_clock_behind() -> None:
    previous = alert()["changed_at"]
    for now in (previous, previous - dt.timedelta(seconds=30)):
        assert changed_row(alert(), INVESTIGATING, "slack:U1", now)["changed_at"] == previous + dt.timedelta(
            microseconds=1
        )


def test_a_note_is_appended_to_the_context_with_who_and_when() -> None:
    first = changed_row(alert(), INVESTIGATING, "api:ops", NOW, "looking at the canister")
    later = NOW + dt.timedelta(minutes=3)
    second = changed_row({**first}, RESOLVED, "slack:U2", later, "rolled back")
    context = json.loads(second["context"])
    assert context["statistic"] == "p95"
    assert context["notes"] == [
        {"at": "2026-11-26T10:07:00Z", "by": "api:ops", "status": "investigating", "text": "looking at the canister"},
        {"at": "2026-11-26T10:10:00Z", "by": "slack:U2", "status": "resolved", "text": "rolled back"},
    ]


def test_no_note_leaves_the_context_as_it_was() -> None:
    assert json.loads(changed_row(alert(), INVESTIGATING, "api:ops", NOW)["context"]) == {"statistic": "p95"}


@pytest.mark.parametrize("context", [None, "", {"statistic": "p95"}])
def test_a_context_as_null_empty_or_object_is_read(context: Any) -> None:
    row = changed_row(alert(context=context), INVESTIGATING, "api:ops", NOW, "n")
    assert [note["text"] for note in json.loads(row["context"])["notes"]] == ["n"]


def test_only_the_latest_notes_are_kept() -> None:
    row = alert()
    for i in range(MAX_NOTES + 5):
        row = changed_row(row, INVESTIGATING if row["status"] == OPEN else OPEN, "api:ops", NOW, f"n{i}")
    notes = json.loads(row["context"])["notes"]
    assert len(notes) == MAX_NOTES and notes[-1]["text"] == f"n{MAX_NOTES + 4}"


def test_a_note_is_scrubbed_of_user_data() -> None:
    assert clean_note("  user ann@example.com at 10.1.2.3 hit it ") == "user [email] at [ip] hit it"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_an_empty_note_is_no_note(value: Any) -> None:
    assert clean_note(value) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [(42, "note must be a string"), ("x" * (MAX_NOTE_CHARS + 1), f"the limit is {MAX_NOTE_CHARS}")],
)
def test_a_bad_note_is_refused(value: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        clean_note(value)


@pytest.mark.parametrize("value", ["closed", "", None, 1, "Resolved"])
def test_an_unknown_status_names_the_choices(value: Any) -> None:
    with pytest.raises(ValidationError, match="status must be one of open, investigating, resolved, false_positive"):
        parse_status(value)
