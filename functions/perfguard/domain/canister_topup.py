"""Whether a cycles top-up may go ahead: per-canister and per-day caps, and no blind retry after an unknown outcome.

Looked at over the last 24 hours of the action's audit rows (executed and dry-run both count, as in the
remediation framework, so a dry run shows what `on` would do):

* at most `max_per_canister` top-ups of one canister;
* at most `max_cycles_per_day` cycles sent in all (each top-up counted at the current amount);
* a top-up whose outcome was unknown (sent, no answer: it may have been executed) blocks further top-ups
  of that canister for the window: only a person, having checked the balance, should send more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

WINDOW = dt.timedelta(hours=24)
UNKNOWN = "unknown outcome"  # how an audit row's detail starts when a top-up got no answer


@dataclass(frozen=True)
class PastTopUp:
    """One earlier top-up (or dry run) of the audit rows."""

    canister: str
    mode: str
    detail: str | None
    acted_at: dt.datetime


def refusal(
    canister: str,
    past: Sequence[PastTopUp],
    amount: int,
    max_per_canister: int,
    max_cycles_per_day: int,
    now: dt.datetime,
) -> str | None:
    """Why a top-up of `canister` must not go ahead now (None: it may)."""
    recent = [p for p in past if now - p.acted_at < WINDOW]
    mine = [p for p in recent if p.canister == canister]
    if any((p.detail or "").startswith(UNKNOWN) for p in mine):
        return "an earlier top-up's outcome is unknown: check the balance before sending more"
    if len(mine) >= max_per_canister:
        return f"cap: {len(mine)} top-up(s) of this canister in 24 h (max {max_per_canister})"
    if (len(recent) + 1) * amount > max_cycles_per_day:
        return f"cap: {len(recent) * amount} cycles sent in 24 h, another {amount} would pass {max_cycles_per_day}"
    return None
