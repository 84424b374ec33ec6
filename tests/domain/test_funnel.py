"""Funnel semantics on the reference's test vectors (rum-mobile-otlp.md 4.3, window 1 h) and `in progress`."""

from __future__ import annotations

import datetime as dt

from perfguard.domain.funnel import (
    ANY,
    CONVERTED,
    DROPPED,
    EXCLUDED,
    IN_PROGRESS,
    STRICT,
    Event,
    Exclusion,
    FunnelSpec,
    funnel,
    progress,
)

T0 = dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
LATER = T0 + 10 * HOUR  # every window closed
SPEC = FunnelSpec(("A", "B", "C"), HOUR)


def events(*steps: tuple[str, int], unit: str = "u") -> list[Event]:
    return [Event(unit, name, T0 + dt.timedelta(minutes=minute)) for name, minute in steps]


def m(minutes: int) -> dt.timedelta:
    return dt.timedelta(minutes=minutes)


def test_1_converts_with_the_step_deltas() -> None:
    p = progress("u", events(("A", 0), ("B", 10), ("C", 50)), SPEC, LATER)
    assert (p.reached, p.deltas, p.state, p.time_to_convert()) == (3, (m(10), m(40)), CONVERTED, m(50))


def test_2_the_window_runs_from_the_first_step() -> None:
    p = progress("u", events(("A", 0), ("B", 10), ("C", 70)), SPEC, LATER)
    assert (p.reached, p.state) == (2, DROPPED)


def test_3_a_second_step_one_starts_a_new_attempt() -> None:
    p = progress("u", events(("A", 0), ("A", 65), ("B", 70), ("C", 80)), SPEC, LATER)
    assert (p.reached, p.deltas, p.state) == (3, (m(5), m(10)), CONVERTED)


def test_4_strict_order_ends_the_attempt_on_another_event() -> None:
    strict = FunnelSpec(("A", "B"), HOUR, STRICT)
    assert progress("u", events(("A", 0), ("X", 1), ("B", 2)), strict, LATER).reached == 1
    assert progress("u", events(("A", 0), ("X", 1), ("B", 2)), FunnelSpec(("A", "B"), HOUR), LATER).reached == 2


def test_5_any_order_converts_when_all_steps_fall_in_the_window() -> None:
    any_order = FunnelSpec(("A", "B", "C"), HOUR, ANY)
    assert progress("u", events(("C", 0), ("A", 10), ("B", 20)), any_order, LATER).state == CONVERTED
    assert progress("u", events(("C", 0), ("A", 10), ("B", 70)), any_order, LATER).reached == 2


def test_6_an_exclusion_between_two_steps_removes_the_unit_from_every_step() -> None:
    spec = FunnelSpec(("A", "B", "C"), HOUR, exclusions=(Exclusion("X", 1, 2),))
    result = funnel(events(("A", 0), ("X", 5), ("B", 10), ("C", 20)) + events(("A", 0), unit="v"), spec, LATER)
    assert progress("u", events(("A", 0), ("X", 5), ("B", 10)), spec, LATER).state == EXCLUDED
    assert (result.reached, result.excluded) == ((1, 0, 0), 1)


def test_one_event_advances_an_attempt_by_one_step_only() -> None:
    same = FunnelSpec(("A", "A"), HOUR)
    assert progress("u", events(("A", 0)), same, LATER).reached == 1
    assert progress("u", events(("A", 0), ("A", 5)), same, LATER).reached == 2


def test_an_open_window_is_in_progress_not_dropped() -> None:
    now = T0 + m(30)
    assert progress("u", events(("A", 0), ("B", 10)), SPEC, now).state == IN_PROGRESS
    assert progress("u", events(("A", 0), ("B", 10)), SPEC, T0 + m(61)).state == DROPPED


def test_counts_drop_off_completion_and_time_to_convert() -> None:
    now = T0 + m(90)
    data = (
        events(("A", 0), ("B", 10), ("C", 20), unit="u1")  # converted in 20 min
        + events(("A", 0), ("B", 5), ("C", 45), unit="u2")  # converted in 45 min
        + events(("A", 0), ("B", 30), unit="u3")  # dropped after B
        + events(("A", 0), unit="u4")  # dropped after A
        + events(("A", 60), unit="u5")  # in progress (window open until 120)
        + events(("B", 10), unit="u6")  # never entered
    )
    result = funnel(data, SPEC, now)
    assert result.reached == (5, 3, 2)
    assert result.dropped_after == (1, 1, 0)
    assert (result.converted, result.in_progress) == (2, 1)
    assert result.completion_rate() == 0.5
    assert result.median_time_to_convert() == m(32) + dt.timedelta(seconds=30)


def test_no_settled_unit_has_no_completion_rate() -> None:
    result = funnel(events(("A", 0)), SPEC, T0 + m(1))
    assert result.completion_rate() is None and result.median_time_to_convert() is None


def test_an_abandon_event_settles_the_unit_at_once() -> None:
    spec = FunnelSpec(("started", "completed"), HOUR, abandon=("failed",))
    now = T0 + m(5)
    assert progress("j", events(("started", 0), ("failed", 2)), spec, now).state == DROPPED
    assert progress("j", events(("started", 0)), spec, now).state == IN_PROGRESS
