"""Silences: matchers as Alertmanager evaluates them, when a silence is active, and the rules of creation and expiry.

The expected matches are written out by hand from Alertmanager's semantics (pkg/labels: a regex is compiled as
`^(?:value)$`; a missing label is the empty string), not computed with the module's own helpers.
"""

from __future__ import annotations

import datetime as dt
import doctest
import json
import re
from typing import Any

import pytest

import perfguard.domain.silences as silences_module
from perfguard.domain.silences import (
    ACTIVE,
    EXPIRED,
    MAX_COMMENT_CHARS,
    MAX_MATCHERS,
    PENDING,
    Matcher,
    Silence,
    expired_row,
    matches,
    new_silence,
    parse_matchers,
    silence_from_row,
    silence_row,
    silencing,
    state,
)
from perfguard.errors import ValidationError

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
MINUTE, DAY = dt.timedelta(minutes=1), dt.timedelta(days=1)
LABELS = {"alertname": "p95_api_latency", "severity": "high", "endpoint": "POST /swaps", "metric_type": "api_latency"}
ENDPOINT = Matcher("endpoint", "=", "POST /swaps")


def silence(*matchers: Matcher, starts: int = 0, ends: int = 60, silence_id: str = "slnc_1") -> Silence:
    """A silence from NOW + `starts` to NOW + `ends` minutes."""
    return Silence(silence_id, matchers or (ENDPOINT,), NOW + starts * MINUTE, NOW + ends * MINUTE, "api:ops", "why")


def create(matchers: list[dict[str, Any]], **changes: Any) -> Silence:
    arguments: dict[str, Any] = {
        "silence_id": "slnc_1",
        "matchers": parse_matchers(matchers),
        "starts_at": NOW,
        "end": dt.timedelta(hours=2),
        "created_by": "api:ops",
        "comment": "ledger upgrade",
        "now": NOW,
    }
    return new_silence(**(arguments | changes))


def test_doctest_examples() -> None:
    results = doctest.testmod(silences_module)
    assert results.attempted > 0 and results.failed == 0


# --- matchers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "op", "value", "expected"),
    [
        ("endpoint", "=", "POST /swaps", True),
        ("endpoint", "=", "POST /swap", False),
        ("endpoint", "!=", "POST /swaps", False),
        ("endpoint", "!=", "GET /listings", True),
        ("severity", "=~", "high|critical", True),
        ("severity", "=~", "crit.*", False),
        ("severity", "!~", "low|medium", True),
        ("severity", "!~", "h.*", False),
        ("endpoint", "=~", "POST", False),  # anchored at the end: not a search
        ("endpoint", "=~", "/swaps", False),  # anchored at the start
        ("endpoint", "=~", "POST /swaps|x", True),  # the alternation is inside the anchors: ^(?:POST /swaps|x)$
        ("endpoint", "=~", "x|POST /swaps", True),
        ("endpoint", "=~", "(?i)post /SWAPS", True),  # inline flags apply to the whole value
        ("alertname", "=~", "p95_.*", True),
        # A missing label is the empty string.
        ("team", "=", "", True),
        ("team", "!=", "", False),
        ("team", "!=", "payments", True),
        ("team", "=~", ".*", True),
        ("team", "=~", ".+", False),
        ("team", "!~", "payments", True),
    ],
)
def test_a_matcher_compares_one_label_as_alertmanager_does(label: str, op: str, value: str, expected: bool) -> None:
    assert Matcher(label, op, value).matches(LABELS) is expected


def test_a_regex_must_match_the_whole_value_even_before_a_trailing_newline() -> None:
    # Python's `$` also matches before a final newline; Go's (Alertmanager's) does not.
    assert Matcher("endpoint", "=~", "POST /swaps").matches({"endpoint": "POST /swaps\n"}) is False
    assert Matcher("endpoint", "!~", "POST /swaps").matches({"endpoint": "POST /swaps\n"}) is True


@pytest.mark.parametrize(
    ("matcher", "message"),
    [
        ({"label": "1st", "op": "=", "value": "x"}, "matchers[0]: label '1st' is not a label name"),
        ({"label": "end-point", "op": "=", "value": "x"}, "label 'end-point' is not a label name"),
        ({"label": "", "op": "=", "value": "x"}, "label '' is not a label name"),
        ({"label": "endpoïnt", "op": "=", "value": "x"}, "is not a label name"),
        ({"label": "endpoint", "op": "==", "value": "x"}, "matchers[0]: op must be one of =, !=, =~, !~; got '=='"),
        ({"label": "endpoint", "op": "~", "value": "x"}, "op must be one of"),
        ({"label": "endpoint", "op": "=~", "value": "a("}, "value 'a(' is not a valid regular expression"),
        ({"label": "endpoint", "op": "!~", "value": "a)|(b"}, "value 'a)|(b' is not a valid regular expression"),
        ({"label": "endpoint", "op": "=", "value": "x" * 257}, "value is 257 characters; the limit is 256"),
        ({"label": "endpoint", "op": "=", "value": 7}, "matchers[0]: value is required and must be a string; got 7"),
        ({"label": "endpoint", "value": "x"}, "matchers[0]: op is required and must be a string; got None"),
        ({"name": "endpoint", "op": "=", "value": "x"}, "unknown keys ['name']"),
        ({"label": "endpoint", "op": "=", "value": "x", "isRegex": True}, "unknown keys ['isRegex']"),
        ("endpoint=x", "matchers[0] must be an object"),
    ],
)
def test_an_invalid_matcher_is_refused_with_what_is_wrong(matcher: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=_literal(message)):
        parse_matchers([matcher])


def _literal(text: str) -> str:
    return re.escape(text)


@pytest.mark.parametrize(
    ("matchers", "message"),
    [
        (None, "matchers is required"),
        ([], "matchers is required"),
        ({"label": "endpoint", "op": "=", "value": "x"}, "matchers is required: a list"),
        ([{"label": "endpoint", "op": "=", "value": "x"}] * (MAX_MATCHERS + 1), "at most 16 matchers; got 17"),
    ],
)
def test_matchers_must_be_a_non_empty_bounded_list(matchers: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=_literal(message)):
        parse_matchers(matchers)


def test_the_error_names_the_matcher_at_fault() -> None:
    good = {"label": "endpoint", "op": "=", "value": "x"}
    with pytest.raises(ValidationError, match=r"^matchers\[2\]: op must be"):
        parse_matchers([good, good, {"label": "severity", "op": "=<", "value": "high"}])


# --- when a silence silences -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minute", "expected_state"),
    [(-1, PENDING), (0, ACTIVE), (59, ACTIVE), (60, EXPIRED), (61, EXPIRED)],
)
def test_a_silence_is_active_from_its_start_until_before_its_end(minute: int, expected_state: str) -> None:
    at = NOW + minute * MINUTE
    assert state(silence(), at) == expected_state
    assert matches(silence(), LABELS, at) is (expected_state == ACTIVE)


def test_every_matcher_must_match() -> None:
    high = Matcher("severity", "=", "high")
    assert matches(silence(ENDPOINT, high), LABELS, NOW)
    assert not matches(silence(ENDPOINT, high), LABELS | {"severity": "critical"}, NOW)
    assert not matches(silence(ENDPOINT, Matcher("team", "=", "payments")), LABELS, NOW)


def test_silencing_is_the_first_silence_that_matches() -> None:
    other = silence(Matcher("endpoint", "=", "GET /listings"), silence_id="slnc_other")
    later = silence(starts=10, silence_id="slnc_later")
    first, second = silence(silence_id="slnc_a"), silence(Matcher("severity", "=~", "h.*"), silence_id="slnc_b")
    assert silencing([other, later, first, second], LABELS, NOW) == first
    assert silencing([other, later], LABELS, NOW) is None
    assert silencing([other, later], LABELS, NOW + 10 * MINUTE) == later
    assert silencing([], LABELS, NOW) is None


# --- creation ----------------------------------------------------------------------------------------------


def test_a_new_silence_starts_now_by_default_and_ends_after_its_duration() -> None:
    created = create([{"label": "endpoint", "op": "=", "value": "POST /swaps"}])
    assert created == Silence("slnc_1", (ENDPOINT,), NOW, NOW + 2 * 60 * MINUTE, "api:ops", "ledger upgrade")


def test_a_start_in_the_past_becomes_now_and_a_duration_counts_from_there() -> None:
    created = create([{"label": "endpoint", "op": "=", "value": "x"}], starts_at=NOW - DAY, end=30 * MINUTE)
    assert (created.starts_at, created.ends_at) == (NOW, NOW + 30 * MINUTE)


def test_a_silence_may_start_later_and_end_at_a_given_time() -> None:
    created = create([{"label": "endpoint", "op": "=", "value": "x"}], starts_at=NOW + DAY, end=NOW + 2 * DAY)
    assert (created.starts_at, created.ends_at) == (NOW + DAY, NOW + 2 * DAY)


@pytest.mark.parametrize(
    "matchers",
    [
        [{"label": "endpoint", "op": "=~", "value": ".*"}],
        [{"label": "team", "op": "=", "value": ""}],
        [{"label": "endpoint", "op": "!=", "value": "POST /swaps"}],
        [{"label": "endpoint", "op": "!~", "value": ".+"}],
        [{"label": "endpoint", "op": "=~", "value": "x|"}, {"label": "severity", "op": "!=", "value": "low"}],
    ],
)
def test_a_silence_whose_every_matcher_matches_the_empty_string_is_refused(matchers: list[dict[str, Any]]) -> None:
    with pytest.raises(ValidationError, match="^at least one matcher must not match the empty string"):
        create(matchers)


def test_one_matcher_that_needs_a_value_is_enough() -> None:
    matchers = [{"label": "endpoint", "op": "=~", "value": ".*"}, {"label": "severity", "op": "=", "value": "low"}]
    assert len(create(matchers).matchers) == 2


def test_a_silence_needs_a_matcher() -> None:
    with pytest.raises(ValidationError, match="at least one matcher"):
        new_silence("slnc_1", (), NOW, NOW + DAY, "api:ops", "why", NOW)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"end": NOW}, "ends_at 2026-11-25T09:00:00Z is not in the future: a silence must end after now"),
        ({"end": NOW - MINUTE}, "is not in the future"),
        ({"end": dt.timedelta(0)}, "is not in the future"),
        ({"starts_at": NOW + DAY, "end": NOW + DAY}, "ends_at must be after starts_at (2026-11-26T09:00:00Z)"),
        ({"starts_at": NOW + DAY, "end": NOW + MINUTE}, "ends_at must be after starts_at"),
        ({"end": 30 * DAY + MINUTE}, "a silence lasts at most 30 d; this one would last 30 d 1 min"),
        ({"end": 45 * DAY + 150 * MINUTE}, "this one would last 45 d 2 h 30 min"),
        ({"end": 2 * DAY, "max_duration": DAY}, "a silence lasts at most 1 d; this one would last 2 d"),
        ({"starts_at": NOW + 31 * DAY}, "starts_at is 31 d ahead; the limit is 30 d"),
        ({"comment": None}, "comment is required: say why these alerts are silenced"),
        ({"comment": "   "}, "comment is required"),
        ({"comment": 5}, "comment is required"),
        ({"comment": "x" * (MAX_COMMENT_CHARS + 1)}, "comment is 1001 characters; the limit is 1000"),
        ({"created_by": ""}, "a silence needs its creator"),
    ],
)
def test_the_creation_rules(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=_literal(message)):
        create([{"label": "endpoint", "op": "=", "value": "x"}], **changes)


def test_the_longest_silence_is_allowed() -> None:
    created = create([{"label": "endpoint", "op": "=", "value": "x"}], starts_at=NOW + 30 * DAY, end=30 * DAY)
    assert created.ends_at - NOW == 60 * DAY  # within the 90 days its row is kept


def test_the_comment_is_scrubbed_of_user_data() -> None:
    created = create([{"label": "endpoint", "op": "=", "value": "x"}], comment="  asked by ann@example.com  ")
    assert created.comment == "asked by [email]"


# --- rows and expiry ---------------------------------------------------------------------------------------


def test_a_silence_survives_its_row() -> None:
    original = silence(ENDPOINT, Matcher("alertname", "=~", 'p95 "x" \\d+'))
    row = silence_row(original, NOW, "api:ops")
    assert json.loads(row["matchers"]) == [
        {"label": "endpoint", "op": "=", "value": "POST /swaps"},
        {"label": "alertname", "op": "=~", "value": 'p95 "x" \\d+'},
    ]
    assert (row["changed_at"], row["changed_by"]) == (NOW, "api:ops")
    assert silence_from_row(row) == original
    assert silence_from_row(row | {"matchers": json.loads(row["matchers"])}) == original


def test_expiring_an_active_silence_ends_it_now() -> None:
    current = silence_row(silence(starts=-10), NOW - 10 * MINUTE, "api:ops")
    row = expired_row(current, NOW, "api:oncall")
    assert row == current | {"ends_at": NOW, "changed_at": NOW, "changed_by": "api:oncall"}
    assert state(silence_from_row(row), NOW) == EXPIRED


def test_expiring_a_pending_silence_ends_it_before_it_starts() -> None:
    row = expired_row(silence_row(silence(starts=30, ends=90), NOW - MINUTE, "api:ops"), NOW, "api:oncall")
    assert (row["starts_at"], row["ends_at"]) == (NOW, NOW)


def test_an_expiry_in_the_instant_of_the_creation_still_sorts_after_it() -> None:
    row = expired_row(silence_row(silence(), NOW, "api:ops"), NOW, "api:oncall")
    assert row["changed_at"] == NOW + dt.timedelta(microseconds=1) and row["ends_at"] == NOW


@pytest.mark.parametrize("minute", [60, 61])
def test_an_expired_silence_cannot_be_expired_again(minute: int) -> None:
    with pytest.raises(ValidationError, match=r"^silence slnc_1 already expired at 2026-11-25T10:00:00Z$"):
        expired_row(silence_row(silence(), NOW, "api:ops"), NOW + minute * MINUTE, "api:oncall")
