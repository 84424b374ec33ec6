"""User retention by install cohort (GA4): D1 and 4-week, counted only once a cohort has settled.

A user's cohort is the day of their first `first_open`; a user is active on a day with a `user_engagement` or
`session_start` event (one definition for both KPIs). D1 = active on cohort day + 1. Week 4 = active on
any of days 21-27 after the cohort day (firebase-exports.md 3). GA4 daily tables take late events for 72 h,
so a cohort counts for D1 only from day d0 + 1 + 3, and for week 4 from day d0 + 27 + 3. Reinstalls get a new
user_pseudo_id (a new user), which GA4 cannot tell apart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

LATE_DAYS = 3
D1 = 1
WEEK4 = (21, 27)


@dataclass(frozen=True)
class Retention:
    """Retained users out of cohort users, over the cohort days counted."""

    cohort_days: tuple[dt.date, ...]
    users: int
    retained: int

    def percent(self) -> float | None:
        """Retained users in % of cohort users; None without users."""
        return 100.0 * self.retained / self.users if self.users else None


def settled_for(day0: dt.date, last_day: int, today: dt.date) -> bool:
    """Whether a cohort's data up to `last_day` after day0 can no longer change (GA4's 72 h of late events)."""
    return (today - day0).days >= last_day + LATE_DAYS


def cohorts(first_open: Iterable[tuple[str, dt.date]]) -> dict[str, dt.date]:
    """Each user's cohort day: their earliest first_open."""
    found: dict[str, dt.date] = {}
    for user, day in first_open:
        if user not in found or day < found[user]:
            found[user] = day
    return found


def retention(
    cohort_of: Mapping[str, dt.date],
    active: Mapping[str, frozenset[dt.date]],
    offsets: tuple[int, int],
    today: dt.date,
    days: int = 7,
) -> Retention:
    """Retention over the `days` most recent cohort days settled for `offsets` (first, last day after day0)."""
    settled = sorted({d for d in cohort_of.values() if settled_for(d, offsets[1], today)}, reverse=True)[:days]
    chosen = set(settled)
    users = [u for u, d in cohort_of.items() if d in chosen]
    retained = sum(1 for u in users if _active_between(active.get(u, frozenset()), cohort_of[u], offsets))
    return Retention(tuple(sorted(chosen)), len(users), retained)


def _active_between(days: frozenset[dt.date], day0: dt.date, offsets: tuple[int, int]) -> bool:
    return any(offsets[0] <= (day - day0).days <= offsets[1] for day in days)
