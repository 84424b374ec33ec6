"""Alert rules and their deterministic evaluation: per-window statistics in, firing groups out.

A rule judges one group (an endpoint, or all endpoints together) at evaluation times that fall on window ends.
Each judgement says whether the condition holds (`breaching`), whether a firing alert is still not recovered
(`holding`, looser when the rule has a resolve threshold) or that the window has no usable data. The state
machine is Prometheus's: a group fires once `windows` judgements in a row breach (the `for`); a firing group
resolves at the first judgement that does not hold, or `keep_firing_for` later. How each kind judges lives in
`perfguard.domain.rule_kinds`.

Everything is computed from stored data at an evaluation time `at`, replayed over the rule's lookback, so a
restarted or duplicated evaluator, a backfill and the backtest give the same answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from perfguard.domain.silences import Matcher

MINUTE = dt.timedelta(minutes=1)
RULE = "p95_api_latency"
OVERALL = "(all endpoints)"
COMPARATORS = (">", ">=", "<", "<=")
GROUPS = ("endpoint_and_overall", "endpoint", "overall")
STATISTICS = ("p50", "p95", "p99", "mean", "max", "min", "count", "rate", "ratio")
KINDS = ("threshold", "slo_burn_rate", "trend", "anomaly")
NO_DATA_POLICIES = ("no_data", "ok", "alerting", "keep_last")
ERROR_POLICIES = ("error", "ok", "alerting", "keep_last")
ALERT_TYPES = {
    "threshold": "threshold_exceeded",
    "slo_burn_rate": "threshold_exceeded",
    "trend": "trend_degradation",
    "anomaly": "anomaly_detected",
}
BASE_LOOKBACK = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class BurnWindow:
    """One multiwindow burn-rate condition: both windows burn the error budget faster than `factor`."""

    long: dt.timedelta
    short: dt.timedelta
    factor: float


@dataclass(frozen=True)
class TrendSpec:
    """Worse than the same window `offsets` earlier by both a relative and an absolute margin."""

    relative: float = 0.5
    absolute: float = 0.0
    offsets: tuple[dt.timedelta, ...] = (dt.timedelta(days=1), dt.timedelta(days=7))


@dataclass(frozen=True)
class AnomalySpec:
    """A window is anomalous when its residual from the median of the same window on the previous `seasons`
    days exceeds the `quantile` of the residuals those days show among themselves (and the margins); the
    group breaches when `k` of the last `n` windows are anomalous."""

    seasons: int = 7
    min_seasons: int = 3
    quantile: float = 0.99
    k: int = 3
    n: int = 5
    relative: float = 0.2
    absolute: float = 0.0
    neighbours: int = 6  # windows on each side whose seasonal residuals also calibrate the bound


@dataclass(frozen=True)
class ThresholdRule:
    """One alert rule; the defaults are the packaged `p95_api_latency` (P95 > 2 s for 5 one-minute windows)."""

    name: str = RULE
    metric_type: str = "api_latency"
    threshold: float = 2000.0
    windows: int = 5  # the `for`: consecutive breaching judgements before the alert fires
    min_samples: int = 10
    severity: str = "high"
    comparator: str = ">"  # one of COMPARATORS
    group: str = "endpoint_and_overall"  # one of GROUPS
    group_by: tuple[str, ...] = ()  # labels (tags, outcome, ...) that split each endpoint into groups of its own
    runbook: str = "p95_api_latency.md"  # a file name in runbooks/
    description: str = ""
    statistic: str = "p95"  # one of STATISTICS
    kind: str = "threshold"  # one of KINDS
    match: tuple[Matcher, ...] = ()  # which rows of metric_type the rule reads
    numerator: tuple[Matcher, ...] = ()  # ratio: the rows counted above the line
    denominator: tuple[Matcher, ...] = ()  # ratio: the rows counted below it (empty: every selected row)
    window: dt.timedelta = MINUTE
    resolve_threshold: float | None = None  # value hysteresis: a firing alert holds until past this
    keep_firing_for: dt.timedelta = dt.timedelta()
    no_data: str = "no_data"  # one of NO_DATA_POLICIES
    on_error: str = "keep_last"  # one of ERROR_POLICIES
    route: tuple[str, ...] = ()  # notification channels (empty: all)
    unit: str = ""  # how messages show values (empty: ms for api_latency, a burn factor for SLOs)
    objective: float | None = None  # slo_burn_rate: the target in percent of good events, e.g. 99.5
    burn_windows: tuple[BurnWindow, ...] = ()
    trend: TrendSpec | None = None
    anomaly: AnomalySpec | None = None
    # Long enough to replay the start of an episode the evaluator (every minute) has just seen fire; a longer
    # episode keeps its recorded alert (domain.alert_state), so a short lookback costs nothing.
    lookback: dt.timedelta = BASE_LOOKBACK

    @property
    def alert_type(self) -> str:
        """The seed's alert type of this rule's alerts."""
        return ALERT_TYPES[self.kind]

    @property
    def recovery(self) -> float:
        """The value a firing alert must get past to resolve."""
        return self.threshold if self.resolve_threshold is None else self.resolve_threshold

    @property
    def display_unit(self) -> str:
        """The unit messages show values in."""
        if self.unit:
            return self.unit
        if self.kind == "slo_burn_rate":
            return "x budget burn"
        return "ms" if self.metric_type == "api_latency" and self.statistic not in ("count", "rate", "ratio") else ""

    @property
    def higher_is_worse(self) -> bool:
        """Whether the rule fires on values above its threshold (`>`, `>=`)."""
        return self.comparator in (">", ">=")


@dataclass(frozen=True)
class Window:
    """The statistics of one group over one window starting at `minute`."""

    minute: dt.datetime
    count: int
    value: float | None
    numerator: int = 0
    denominator: int = 0


@dataclass(frozen=True)
class Judgement:
    """One evaluation of one group at `at` (a window end); None: no usable data."""

    at: dt.datetime
    breaching: bool | None
    holding: bool | None
    value: float | None
    window: Window | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Episode:
    """A span during which a group fired: from `fired_at` until `resolved_at` (None: still firing at the end)."""

    group: str | None
    fired_at: dt.datetime
    resolved_at: dt.datetime | None
    peak: float | None
    last: Judgement
    judgements: tuple[Judgement, ...]


@dataclass(frozen=True)
class Breach:
    """A group whose condition holds at the evaluation time."""

    rule: ThresholdRule
    endpoint_or_operation: str | None
    current_value: float | None
    triggered_at: dt.datetime
    windows: tuple[Window, ...]
    detail: Mapping[str, Any] = field(default_factory=dict)

    def alert_id(self) -> str:
        """Stable across re-evaluations of the same episode, so duplicate evaluators agree."""
        identity = f"{self.rule.name}|{self.endpoint_or_operation}|{self.triggered_at.isoformat()}"
        return "alrt_" + hashlib.sha256(identity.encode()).hexdigest()[:20]

    def context(self) -> dict[str, Any]:
        """Performance context for investigation: the statistic per window with sample counts."""
        rule = self.rule
        return {
            "endpoint_or_operation": self.endpoint_or_operation or OVERALL,
            "rule": rule.name,
            "kind": rule.kind,
            "statistic": rule.statistic,
            "comparator": rule.comparator,
            "threshold": rule.threshold,
            "unit": rule.display_unit,
            **({"threshold_ms": rule.threshold} if rule.display_unit == "ms" else {}),
            "resolve_threshold": rule.recovery,
            "window_seconds": int(rule.window.total_seconds()),
            "consecutive_windows": rule.windows,
            "min_samples": rule.min_samples,
            "runbook": f"runbooks/{rule.runbook}",
            "windows": [_window_json(w, rule.statistic) for w in self.windows],
            **({"detail": dict(self.detail)} if self.detail else {}),
        }


def _window_json(window: Window, statistic: str) -> dict[str, Any]:
    return {"minute": window.minute.isoformat(), statistic: window.value, "count": window.count}


def floor_minute(moment: dt.datetime) -> dt.datetime:
    """The start of the minute containing `moment`."""
    return moment.replace(second=0, microsecond=0)


def floor_window(moment: dt.datetime, window: dt.timedelta) -> dt.datetime:
    """The start of the `window`-long window (aligned on the Unix epoch) containing `moment`."""
    seconds = int(window.total_seconds())
    epoch = int(moment.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % seconds, dt.UTC)


def evaluation_range(rule: ThresholdRule, at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The data range the check at `at` reads: complete windows of the lookback."""
    end = floor_window(at, rule.window)
    return end - rule.lookback, end


def affects_evaluation(oldest_new_record: dt.datetime, at: dt.datetime) -> bool:
    """Whether new records can change an evaluation at `at`: only complete minutes count, so records of the
    current minute cannot (the tick after the minute closes evaluates them)."""
    return oldest_new_record < floor_minute(at)


def covers_group(rule: ThresholdRule, group: str | None) -> bool:
    """Whether the rule judges this group (an endpoint, or None: all endpoints together)."""
    if rule.group == "endpoint":
        return group is not None
    if rule.group == "overall":
        return group is None
    return True


def compare(comparator: str, value: float, threshold: float) -> bool:
    """`value comparator threshold`."""
    if comparator == ">":
        return value > threshold
    if comparator == ">=":
        return value >= threshold
    if comparator == "<":
        return value < threshold
    return value <= threshold


def enough(rule: ThresholdRule, window: Window | None) -> bool:
    """Whether a window has the samples to be judged (the denominator for ratios) and a value."""
    if window is None or window.value is None or math.isnan(window.value):
        return False
    samples = window.denominator if rule.statistic == "ratio" else window.count
    return samples >= max(rule.min_samples, 1)


def breaching(rule: ThresholdRule, window: Window) -> bool:
    """Whether one window passes the threshold with enough samples."""
    return enough(rule, window) and compare(rule.comparator, window.value or 0.0, rule.threshold)


def window_from_row(rule: ThresholdRule, row: Mapping[str, Any]) -> Window:
    """A window of the `window_stats` query (or of `minute_p95`, which has only p95) for the rule's statistic."""
    count = int(row["count"])
    numerator, denominator = int(row.get("numerator") or 0), int(row.get("denominator") or 0)
    return Window(row["minute"], count, statistic_value(rule, row, count, numerator, denominator),
                  numerator, denominator)  # fmt: skip


def statistic_value(
    rule: ThresholdRule, row: Mapping[str, Any], count: int, numerator: int, denominator: int
) -> float | None:
    """The rule's statistic of a window row."""
    if rule.statistic == "count":
        return float(count)
    if rule.statistic == "rate":
        return count / rule.window.total_seconds()
    if rule.statistic == "ratio":
        return numerator / denominator if denominator else None
    value = row.get(rule.statistic)
    return None if value is None else float(value)


def series_by_group(
    rule: ThresholdRule, rows: Iterable[Mapping[str, Any]]
) -> dict[str | None, dict[dt.datetime, Window]]:
    """The windows of each group the rule judges, keyed by window start."""
    groups: dict[str | None, dict[dt.datetime, Window]] = {}
    for row in rows:
        group = row["endpoint_or_operation"]
        if covers_group(rule, group):
            groups.setdefault(group, {})[row["minute"]] = window_from_row(rule, row)
    return groups


def replay(rule: ThresholdRule, group: str | None, judgements: Iterable[Judgement]) -> list[Episode]:
    """The episodes of one group over a run of judgements in time order (the Prometheus state machine)."""
    episodes: list[Episode] = []
    streak: list[Judgement] = []
    current: list[Judgement] = []  # the judgements of the open episode
    missed_since: dt.datetime | None = None
    for judgement in judgements:
        breach, hold = _apply_no_data(rule, judgement)
        if not current:
            if breach is None:
                continue  # keep_last: a window without data neither builds nor breaks the streak
            streak = [*streak, judgement] if breach else []
            if len(streak) >= rule.windows:
                current, streak = list(streak[-rule.windows :]), []
            continue
        current.append(judgement)
        if hold is None or hold:
            missed_since = None
            continue
        missed_since = missed_since or judgement.at
        if judgement.at - missed_since >= rule.keep_firing_for:
            episodes.append(_episode(rule, group, current, judgement.at))
            current, missed_since = [], None
    if current:
        episodes.append(_episode(rule, group, current, None))
    return episodes


def _apply_no_data(rule: ThresholdRule, judgement: Judgement) -> tuple[bool | None, bool | None]:
    if judgement.breaching is not None:
        return judgement.breaching, judgement.holding
    if rule.no_data == "alerting":
        return True, True
    if rule.no_data == "keep_last":
        return None, None
    return False, False


def _episode(
    rule: ThresholdRule, group: str | None, judgements: Sequence[Judgement], end: dt.datetime | None
) -> Episode:
    fired = judgements[rule.windows - 1]
    values = [j.value for j in judgements if j.value is not None]
    peak = (max(values) if rule.higher_is_worse else min(values)) if values else None
    last = next((j for j in reversed(judgements) if j.value is not None), judgements[-1])
    return Episode(group, fired.at, end, peak, last, tuple(judgements))


def breach_of(rule: ThresholdRule, episode: Episode) -> Breach:
    """The breach a still-firing episode is, with the judged windows that led to it."""
    windows = tuple(j.window for j in episode.judgements if j.window is not None)[-max(rule.windows, 5) :]
    return Breach(rule, episode.group, episode.last.value, episode.fired_at, windows, episode.last.detail)
