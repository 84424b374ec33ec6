"""The minimal threshold check: P95 above the threshold for N consecutive one-minute windows.

Deterministic from stored data at an evaluation time `at`: only complete minutes before `at` count, a
window with fewer than `min_samples` records or none at all breaks a streak, and the alert's trigger time
is the end of the N-th breaching window, so a backfill evaluated at chosen times gives the same answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MINUTE = dt.timedelta(minutes=1)
RULE = "p95_api_latency"
OVERALL = "(all endpoints)"
COMPARATORS = (">", ">=")
GROUPS = ("endpoint_and_overall", "endpoint", "overall")


@dataclass(frozen=True)
class ThresholdRule:
    """P95 of `metric_type` above `threshold` (`comparator`) for `windows` consecutive minutes of `min_samples`
    or more, judged per endpoint and/or overall (`group`). The defaults are the packaged `p95_api_latency`."""

    name: str = RULE
    metric_type: str = "api_latency"
    threshold: float = 2000.0
    windows: int = 5
    min_samples: int = 10
    severity: str = "high"
    comparator: str = ">"  # one of COMPARATORS
    group: str = "endpoint_and_overall"  # one of GROUPS
    runbook: str = "p95_api_latency.md"  # a file name in runbooks/
    description: str = ""
    # Long enough to find the start of a streak the evaluator (every minute) has just seen reach `windows`;
    # a longer episode keeps its recorded alert (domain.alert_state), so a short lookback costs nothing.
    lookback: dt.timedelta = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Window:
    """One one-minute window of one group."""

    minute: dt.datetime
    count: int
    p95: float


@dataclass(frozen=True)
class Breach:
    """A group whose condition holds at the evaluation time."""

    rule: ThresholdRule
    endpoint_or_operation: str | None
    current_value: float
    triggered_at: dt.datetime
    windows: tuple[Window, ...]

    def alert_id(self) -> str:
        """Stable across re-evaluations of the same episode, so duplicate evaluators agree."""
        identity = f"{self.rule.name}|{self.endpoint_or_operation}|{self.triggered_at.isoformat()}"
        return "alrt_" + hashlib.sha256(identity.encode()).hexdigest()[:20]

    def context(self) -> dict[str, Any]:
        """Performance context for investigation: the statistic per window with sample counts."""
        return {
            "endpoint_or_operation": self.endpoint_or_operation or OVERALL,
            "rule": self.rule.name,
            "statistic": "p95",
            "threshold_ms": self.rule.threshold,
            "consecutive_windows": self.rule.windows,
            "min_samples": self.rule.min_samples,
            "runbook": f"runbooks/{self.rule.runbook}",
            "windows": [{"minute": w.minute.isoformat(), "p95": w.p95, "count": w.count} for w in self.windows],
        }


def evaluation_range(rule: ThresholdRule, at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The data range the check at `at` reads: complete minutes of the lookback."""
    end = floor_minute(at)
    return end - rule.lookback, end


def floor_minute(moment: dt.datetime) -> dt.datetime:
    """The start of the minute containing `moment`."""
    return moment.replace(second=0, microsecond=0)


def affects_evaluation(oldest_new_record: dt.datetime, at: dt.datetime) -> bool:
    """Whether new records can change an evaluation at `at`: only complete minutes count, so records of the
    current minute cannot (the tick after the minute closes evaluates them)."""
    return oldest_new_record < floor_minute(at)


def find_breaches(rule: ThresholdRule, rows: Iterable[Mapping[str, Any]], at: dt.datetime) -> list[Breach]:
    """Groups (each endpoint and/or all endpoints as None, per the rule's `group`) whose last `windows` complete
    minutes all breach."""
    by_group: dict[str | None, dict[dt.datetime, Window]] = defaultdict(dict)
    for row in rows:
        if not covers_group(rule, row["endpoint_or_operation"]):
            continue
        window = Window(row["minute"], int(row["count"]), float(row["p95"]))
        by_group[row["endpoint_or_operation"]][window.minute] = window
    breaches = (_breach(rule, group, windows, floor_minute(at)) for group, windows in by_group.items())
    return [breach for breach in breaches if breach is not None]


def _breach(
    rule: ThresholdRule, group: str | None, windows: Mapping[dt.datetime, Window], end: dt.datetime
) -> Breach | None:
    streak: list[Window] = []
    minute = end - MINUTE
    while minute in windows and breaching(rule, windows[minute]):
        streak.append(windows[minute])
        minute -= MINUTE
    if len(streak) < rule.windows:
        return None
    streak.reverse()
    triggered_at = streak[0].minute + rule.windows * MINUTE
    return Breach(rule, group, streak[-1].p95, triggered_at, tuple(streak[-rule.windows :]))


def covers_group(rule: ThresholdRule, group: str | None) -> bool:
    """Whether the rule judges this group (an endpoint, or None: all endpoints together)."""
    if rule.group == "endpoint":
        return group is not None
    if rule.group == "overall":
        return group is None
    return True


def breaching(rule: ThresholdRule, window: Window) -> bool:
    """Whether one window counts towards a streak: enough samples and a P95 above (`>`) or at or above (`>=`)
    the threshold."""
    if window.count < rule.min_samples:
        return False
    return window.p95 >= rule.threshold if rule.comparator == ">=" else window.p95 > rule.threshold
