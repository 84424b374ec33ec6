"""D1 and week-4 retention by install cohort, counted only once settled (72 h of late GA4 events)."""

from __future__ import annotations

import datetime as dt

from perfguard.domain.retention_cohort import D1, WEEK4, cohorts, retention, settled_for

DAY0 = dt.date(2026, 10, 1)


def day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


def test_the_cohort_is_the_first_first_open() -> None:
    assert cohorts([("u", day(3)), ("u", day(1)), ("v", day(2))]) == {"u": day(1), "v": day(2)}


def test_d1_settles_four_days_after_the_cohort_day_and_week4_thirty() -> None:
    assert not settled_for(DAY0, D1, day(3)) and settled_for(DAY0, D1, day(4))
    assert not settled_for(DAY0, WEEK4[1], day(29)) and settled_for(DAY0, WEEK4[1], day(30))


def test_d1_and_week4_retention() -> None:
    cohort = {"a": DAY0, "b": DAY0, "c": DAY0, "d": DAY0, "late": day(10)}
    active = {
        "a": frozenset({day(1), day(22)}),  # D1 and week 4
        "b": frozenset({day(2)}),  # neither (day 2 is not D1)
        "c": frozenset({day(1)}),  # D1 only
        "d": frozenset({day(27)}),  # week 4 only (day 27 is the last of week 4)
        "late": frozenset({day(11)}),
    }
    d1 = retention(cohort, active, (D1, D1), today=day(12))
    assert (d1.cohort_days, d1.users, d1.retained) == ((DAY0,), 4, 2)  # day(10)'s cohort is not settled yet
    assert retention(cohort, active, (D1, D1), today=day(14)).percent() == 60.0  # both cohorts: 3 of 5
    w4 = retention(cohort, active, WEEK4, today=day(30))
    assert (w4.users, w4.retained, w4.percent()) == (4, 2, 50.0)
    assert retention(cohort, active, WEEK4, today=day(29)).percent() is None
