"""How each kind of rule judges a group at an evaluation time, the data ranges it needs, and the check at `at`.

- threshold: the statistic of the window that just ended against the threshold (and the resolve threshold).
- slo_burn_rate: the SRE Workbook's multiwindow, multi-burn-rate condition on a ratio of bad to all events.
- trend: the statistic worse than the same window a day and a week earlier by a relative and an absolute margin.
- anomaly: k of the last n windows far from a seasonal (same time of day) median, "far" being calibrated on
  the residuals the previous days show among themselves (an empirical quantile, not a Gaussian 3 sigma).
"""

from __future__ import annotations

import bisect
import datetime as dt
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from perfguard.domain.thresholds import (
    MINUTE,
    Breach,
    Episode,
    Judgement,
    ThresholdRule,
    Window,
    breach_of,
    compare,
    enough,
    floor_window,
    replay,
    series_by_group,
)

DAY = dt.timedelta(days=1)
Series = Mapping[dt.datetime, Window]
Range = tuple[dt.datetime, dt.datetime]


def data_ranges(rule: ThresholdRule, at: dt.datetime) -> list[Range]:
    """The ranges of window starts whose statistics the check at `at` reads."""
    end = floor_window(at, rule.window)
    start = end - rule.lookback
    if rule.kind == "slo_burn_rate":
        return [(start - max(w.long for w in rule.burn_windows), end)]
    if rule.kind == "trend" and rule.trend:
        return [(start - rule.window, end)] + [(start - rule.window - o, end - o) for o in rule.trend.offsets]
    if rule.kind == "anomaly" and rule.anomaly:
        spec = rule.anomaly
        before, after = (spec.n + spec.neighbours) * rule.window, spec.neighbours * rule.window
        return [(start - before, end)] + [(start - before - d * DAY, end - d * DAY + after)
                                          for d in range(1, spec.seasons + 1)]  # fmt: skip
    return [(start - rule.window, end)]


def judgement_times(rule: ThresholdRule, at: dt.datetime) -> list[dt.datetime]:
    """The evaluation times the check at `at` replays: every window end in the lookback, `at`'s last."""
    end = floor_window(at, rule.window)
    step = MINUTE if rule.kind == "slo_burn_rate" else rule.window
    count = int(rule.lookback / step)
    return [end - i * step for i in range(count - 1, -1, -1)]


@dataclass(frozen=True)
class GroupReplay:
    """One group's replay over the lookback: its episodes, and whether any window could be judged at all."""

    group: str | None
    episodes: tuple[Episode, ...]
    judged: bool

    @property
    def firing(self) -> Episode | None:
        """The episode still firing at the end of the replay."""
        return self.episodes[-1] if self.episodes and self.episodes[-1].resolved_at is None else None


def find_breaches(rule: ThresholdRule, rows: Iterable[Mapping[str, Any]], at: dt.datetime) -> list[Breach]:
    """Groups whose episode is still firing at `at`, replayed from the windows of `data_ranges`."""
    return [breach_of(rule, r.firing) for r in replay_groups(rule, rows, at) if r.firing is not None]


def replay_groups(rule: ThresholdRule, rows: Iterable[Mapping[str, Any]], at: dt.datetime) -> list[GroupReplay]:
    """Each group's replay up to `at` (a rule alerting on no data judges all endpoints even with no rows)."""
    series = series_by_group(rule, rows)
    if not series and rule.no_data == "alerting" and rule.group != "endpoint":
        series = {None: {}}
    times = judgement_times(rule, at)
    replays = []
    for group, windows in sorted(series.items(), key=lambda item: item[0] or ""):
        judge = judge_for(rule, windows)
        judgements = [judge(moment) for moment in times]
        judged = any(j.breaching is not None for j in judgements)
        replays.append(GroupReplay(group, tuple(replay(rule, group, judgements)), judged))
    return replays


def judge_for(rule: ThresholdRule, series: Series) -> Callable[[dt.datetime], Judgement]:
    """The judge of the rule's kind over one group's windows."""
    if rule.kind == "slo_burn_rate":
        return _BurnRate(rule, series).judge
    if rule.kind == "trend":
        return lambda at: _trend(rule, series, at)
    if rule.kind == "anomaly":
        return _Anomaly(rule, series).judge
    return lambda at: _threshold(rule, series, at)


def _threshold(rule: ThresholdRule, series: Series, at: dt.datetime) -> Judgement:
    window = series.get(at - rule.window)
    if window is None or not enough(rule, window) or window.value is None:
        return Judgement(at, None, None, None, window)
    value = window.value
    return Judgement(at, compare(rule.comparator, value, rule.threshold),
                     compare(rule.comparator, value, rule.recovery), value, window)  # fmt: skip


def _trend(rule: ThresholdRule, series: Series, at: dt.datetime) -> Judgement:
    assert rule.trend is not None
    window = series.get(at - rule.window)
    if window is None or not enough(rule, window) or window.value is None:
        return Judgement(at, None, None, None, window)
    baselines = {
        f"{int(offset / DAY)}d": base.value
        for offset in rule.trend.offsets
        if (base := series.get(at - rule.window - offset)) is not None and enough(rule, base) and base.value is not None
    }
    if not baselines:
        return Judgement(at, None, None, window.value, window, {"baselines": {}})
    worse = all(
        _worse(rule, window.value, base, rule.trend.relative, rule.trend.absolute) for base in baselines.values()
    )
    return Judgement(at, worse, worse, window.value, window, {"baselines": baselines})


def _worse(rule: ThresholdRule, value: float, base: float, relative: float, absolute: float) -> bool:
    """Worse than `base` by more than both margins, in the rule's direction."""
    if rule.higher_is_worse:
        return value > base * (1 + relative) and value - base > absolute
    return value < base * (1 - relative) and base - value > absolute


class _Anomaly:
    """k of the last n windows anomalous; each window's verdict and each slot's residuals computed once, since
    the judgements of a replay share most of their windows."""

    def __init__(self, rule: ThresholdRule, series: Series) -> None:
        assert rule.anomaly is not None
        self.rule, self.spec, self.series = rule, rule.anomaly, series
        self.verdicts: dict[dt.datetime, dict[str, Any] | None] = {}
        self.residuals: dict[dt.datetime, list[float]] = {}

    def judge(self, at: dt.datetime) -> Judgement:
        starts = [at - (i + 1) * self.rule.window for i in range(self.spec.n)]
        verdicts = [self.verdict(start) for start in starts]
        known = [v for v in verdicts if v is not None]
        latest = self.series.get(starts[0])
        value = latest.value if latest else None
        if len(known) < self.spec.k:
            return Judgement(at, None, None, value, latest)
        flagged = sum(1 for v in known if v["anomalous"])
        detail = {"anomalous_windows": flagged, "of": self.spec.n, **(verdicts[0] or {})}
        return Judgement(at, flagged >= self.spec.k, flagged >= 1, value, latest, detail)

    def verdict(self, start: dt.datetime) -> dict[str, Any] | None:
        """The window's residual against its seasonal median and the bound it is judged by; None: too little
        data (the window itself, or fewer than min_seasons earlier days)."""
        if start not in self.verdicts:
            self.verdicts[start] = self._verdict(start)
        return self.verdicts[start]

    def _verdict(self, start: dt.datetime) -> dict[str, Any] | None:
        window, seasonal = self.series.get(start), self._seasonal(start)
        if window is None or not enough(self.rule, window) or window.value is None:
            return None
        if len(seasonal) < self.spec.min_seasons:
            return None
        baseline = statistics.median(seasonal)
        span = range(-self.spec.neighbours, self.spec.neighbours + 1)
        pool = [r for j in span for r in self._slot_residuals(start + j * self.rule.window)]
        calibrated = quantile(pool, self.spec.quantile) if pool else 0.0
        bound = max(calibrated, self.spec.absolute, self.spec.relative * abs(baseline))
        residual = window.value - baseline if self.rule.higher_is_worse else baseline - window.value
        return {"baseline": baseline, "residual": residual, "bound": bound, "anomalous": residual > bound}

    def _seasonal(self, start: dt.datetime) -> list[float]:
        found = (self.series.get(start - d * DAY) for d in range(1, self.spec.seasons + 1))
        return [w.value for w in found if w is not None and enough(self.rule, w) and w.value is not None]

    def _slot_residuals(self, start: dt.datetime) -> list[float]:
        """How far each earlier day of this slot is from the median of the other days: what a normal day shows."""
        if start not in self.residuals:
            values = self._seasonal(start)
            self.residuals[start] = (
                [abs(v - statistics.median([*values[:i], *values[i + 1 :]])) for i, v in enumerate(values)]
                if len(values) >= 3
                else []
            )
        return self.residuals[start]


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile with linear interpolation (numpy's default method).

    >>> quantile([1.0, 2.0, 3.0, 4.0], 0.5)
    2.5
    """
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class _BurnRate:
    """Error-budget burn over trailing windows, from per-minute numerator/denominator counts (prefix sums)."""

    def __init__(self, rule: ThresholdRule, series: Series) -> None:
        self.rule = rule
        self.budget = 1 - (rule.objective or 0.0) / 100
        self.bad: dict[dt.datetime, int] = {}
        self.all: dict[dt.datetime, int] = {}
        self.origin = min(series, default=dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
        self._prefix(series)

    def _prefix(self, series: Series) -> None:
        bad = total = 0
        self.bad[self.origin], self.all[self.origin] = 0, 0
        for start in sorted(series):
            bad, total = bad + series[start].numerator, total + series[start].denominator
            self.bad[start + MINUTE], self.all[start + MINUTE] = bad, total
        self.starts = sorted(self.bad)

    def _cumulative(self, table: dict[dt.datetime, int], moment: dt.datetime) -> int:
        """The count of windows that ended by `moment`."""
        index = bisect.bisect_right(self.starts, moment) - 1
        return table[self.starts[index]] if index >= 0 else 0

    def burn(self, at: dt.datetime, span: dt.timedelta) -> tuple[float | None, int]:
        """The burn rate over [at - span, at) and its number of events."""
        events = self._cumulative(self.all, at) - self._cumulative(self.all, at - span)
        if events <= 0 or self.budget <= 0:
            return None, events
        bad = self._cumulative(self.bad, at) - self._cumulative(self.bad, at - span)
        return bad / events / self.budget, events

    def judge(self, at: dt.datetime) -> Judgement:
        rates: dict[str, Any] = {}
        firing = False
        strongest: float | None = None
        for w in self.rule.burn_windows:
            (long, events), (short, _) = self.burn(at, w.long), self.burn(at, w.short)
            rates[f"{_span(w.long)}/{_span(w.short)}"] = {"long": long, "short": short, "factor": w.factor}
            if long is None or short is None or events < self.rule.min_samples:
                continue
            effective = min(long, short)
            strongest = effective if strongest is None else max(strongest, effective)
            firing = firing or (long > w.factor and short > w.factor)
        if strongest is None:
            return Judgement(at, None, None, None, None, {"burn_rates": rates})
        window = Window(at - MINUTE, self.all_in(at), strongest)
        return Judgement(at, firing, firing, strongest, window, {"burn_rates": rates, "objective": self.rule.objective})

    def all_in(self, at: dt.datetime) -> int:
        return self._cumulative(self.all, at) - self._cumulative(self.all, at - MINUTE)


def _span(span: dt.timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"
