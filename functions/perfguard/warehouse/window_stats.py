"""The `window_stats` query of a rule: its label matchers turned into parameterised SQL predicates.

Labels are columns (`endpoint` is endpoint_or_operation; outcome, source, release, environment) or tag keys
(JSON_VALUE of `tags`); label names are validated identifiers and every value is a query parameter, so a
rules file cannot inject SQL. As in Alertmanager, a missing label is the empty string and a regular
expression must match the whole value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from perfguard.domain.silences import EQUAL, NOT_EQUAL, NOT_REGEX, Matcher
from perfguard.domain.thresholds import ThresholdRule
from perfguard.warehouse.sql import load_query

COLUMNS = {
    "endpoint": "endpoint_or_operation",
    "outcome": "outcome",
    "source": "source",
    "release": "release",
    "environment": "environment",
}
PLACEHOLDERS = ("selector", "numerator", "denominator")
COUNTED = ("count", "rate", "ratio")  # statistics window_counts.sql serves without computing percentiles


def selector_key(rule: ThresholdRule) -> tuple[Any, ...]:
    """Rules with the same key read the same rows: one query serves them all."""
    return (rule.metric_type, rule.match, rule.numerator, rule.denominator, rule.window, rule.group_by)


def needs_percentiles(rule: ThresholdRule) -> bool:
    """Whether the rule's statistic needs window_stats.sql (window_counts.sql serves counts, rates and ratios)."""
    return rule.statistic not in COUNTED


def window_stats_query(
    rule: ThresholdRule, start: dt.datetime, end: dt.datetime, percentiles: bool | None = None
) -> tuple[str, dict[str, Any]]:
    """The SQL and parameters of the per-window statistics the rule reads over window starts in [start, end);
    `percentiles` (default: what the rule's statistic needs) picks window_stats over window_counts."""
    wanted = needs_percentiles(rule) if percentiles is None else percentiles
    sql = load_query("window_stats" if wanted else "window_counts")
    params: dict[str, Any] = {
        "metric_type": rule.metric_type,
        "start": start,
        "end": end,
        "window_us": int(rule.window.total_seconds()) * 1_000_000,
    }
    matchers = dict(zip(PLACEHOLDERS, (rule.match, rule.numerator, rule.denominator), strict=True))
    sql = sql.replace("endpoint_or_operation /* group */", group_expression(rule.group_by))
    return with_matchers(sql, matchers, params), params


def group_expression(labels: Sequence[str]) -> str:
    """The endpoint, followed by `{label="value", ...}` of the rule's group_by labels (validated names)."""
    if not labels:
        return "endpoint_or_operation"
    parts = [
        f"'{', ' if i else ' {'}{label}=\"', COALESCE({_column(label)}, ''), '\"'" for i, label in enumerate(labels)
    ]
    return "CONCAT(endpoint_or_operation, " + ", ".join(parts) + ", '}')"


def _column(label: str) -> str:
    return COLUMNS.get(label, f"JSON_VALUE(tags, '$.{label}')")


def with_matchers(sql: str, matchers: Mapping[str, Sequence[Matcher]], params: dict[str, Any]) -> str:
    """`sql` with each `TRUE /* <placeholder> */` replaced by its matchers' predicate; their values join
    `params` as `<placeholder>_<n>`."""
    for placeholder, found in matchers.items():
        sql = sql.replace(f"TRUE /* {placeholder} */", _predicate(placeholder, found, params))
    return sql


def _predicate(prefix: str, matchers: Sequence[Matcher], params: dict[str, Any]) -> str:
    if not matchers:
        return "TRUE"
    return "(" + " AND ".join(_condition(f"{prefix}_{i}", m, params) for i, m in enumerate(matchers)) + ")"


def _condition(name: str, matcher: Matcher, params: dict[str, Any]) -> str:
    column = _column(matcher.label)
    value = f"COALESCE({column}, '')"
    if matcher.op in (EQUAL, NOT_EQUAL):
        params[name] = matcher.value
        return f"{value} {'=' if matcher.op == EQUAL else '!='} @{name}"
    params[name] = f"^(?:{matcher.value})$"
    found = f"REGEXP_CONTAINS({value}, @{name})"
    return f"NOT {found}" if matcher.op == NOT_REGEX else found
