"""Evaluate the rules at a time `at`: fetch each rule's windows (one query per selector and range, shared by
the rules that read the same rows) and judge them; a failing query marks its rules `error`, never the others.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from perfguard.domain.rule_kinds import data_ranges, replay_groups
from perfguard.domain.thresholds import Breach, ThresholdRule, breach_of
from perfguard.errors import WarehouseError
from perfguard.warehouse.port import Warehouse
from perfguard.warehouse.window_stats import needs_percentiles, selector_key, window_stats_query

log = logging.getLogger(__name__)
FIRING, OK, NO_DATA, ERROR = "firing", "ok", "no_data", "error"
Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class RuleResult:
    """What one rule says at `at`: its state, the groups firing, and the groups with a judgeable window."""

    rule: ThresholdRule
    state: str
    breaches: tuple[Breach, ...] = ()
    groups_with_data: frozenset[str | None] = frozenset()
    error: str = ""

    def summary(self) -> dict[str, Any]:
        """The rule's line in check_thresholds."""
        return {
            "rule": self.rule.name,
            "kind": self.rule.kind,
            "metric_type": self.rule.metric_type,
            "state": self.state,
            "firing": len(self.breaches),
            **({"error": self.error} if self.error else {}),
        }


@dataclass
class WindowFetcher:
    """Runs window_stats queries, each (selector, range) once per evaluation; a selector that some rule reads a
    percentile of gets the percentiles for all its rules, so counts and ratios of it cost no second query."""

    warehouse: Warehouse
    cache: dict[tuple[Any, ...], Rows] = field(default_factory=dict)
    with_percentiles: set[tuple[Any, ...]] = field(default_factory=set)

    @classmethod
    def for_rules(cls, warehouse: Warehouse, rules: Sequence[ThresholdRule]) -> WindowFetcher:
        """A fetcher that knows which selectors need percentiles."""
        return cls(warehouse, with_percentiles={selector_key(r) for r in rules if needs_percentiles(r)})

    def rows(self, rule: ThresholdRule, at: dt.datetime) -> Rows:
        """The windows of every range the rule reads at `at`."""
        return [row for start, end in data_ranges(rule, at) for row in self._range(rule, start, end)]

    def _range(self, rule: ThresholdRule, start: dt.datetime, end: dt.datetime) -> Rows:
        selector = selector_key(rule)
        percentiles = needs_percentiles(rule) or selector in self.with_percentiles
        key = (selector, start, end, percentiles)
        if key not in self.cache:
            sql, params = window_stats_query(rule, start, end, percentiles)
            self.cache[key] = self.warehouse.query(sql, params)
        return self.cache[key]


def evaluate_rules(warehouse: Warehouse, rules: Sequence[ThresholdRule], at: dt.datetime) -> list[RuleResult]:
    """Every rule's result at `at`."""
    fetcher = WindowFetcher.for_rules(warehouse, rules)
    return [evaluate_rule(fetcher, rule, at) for rule in rules]


def evaluate_rule(fetcher: WindowFetcher, rule: ThresholdRule, at: dt.datetime) -> RuleResult:
    """One rule's result; an error of its query is its result, not an exception."""
    try:
        rows = fetcher.rows(rule, at)
    except WarehouseError as exc:
        log.error("rule %s not evaluated: %s", rule.name, exc)
        return _errored(rule, at, str(exc))
    replays = replay_groups(rule, rows, at)
    breaches = tuple(breach_of(rule, r.firing) for r in replays if r.firing is not None)
    judged = frozenset(r.group for r in replays if r.judged)
    state = FIRING if breaches else OK if judged else NO_DATA
    return RuleResult(rule, state, breaches, judged)


def _errored(rule: ThresholdRule, at: dt.datetime, message: str) -> RuleResult:
    if rule.on_error == "alerting":
        breach = Breach(rule, None, None, at.replace(second=0, microsecond=0), (), {"error": message})
        return RuleResult(rule, ERROR, (breach,), error=message)
    return RuleResult(rule, ERROR, error=message)
