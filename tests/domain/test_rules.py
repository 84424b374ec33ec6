"""The rules file: parsing, each validation error, comparator and group, the packaged file and its runbooks."""

from __future__ import annotations

import datetime as dt
import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from perfguard.domain.rule_kinds import find_breaches
from perfguard.domain.rules import find_rule, parse_rules, with_overrides
from perfguard.domain.thresholds import ThresholdRule
from perfguard.errors import ConfigError
from perfguard.runtime import load_threshold_rules
from perfguard.settings import Settings

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
START = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
BASE: dict[str, Any] = {
    "name": "p95_checkout",
    "metric_type": "api_latency",
    "statistic": "p95",
    "comparator": ">=",
    "threshold": 800,
    "windows": 3,
    "min_samples": 5,
    "severity": "critical",
    "group": "endpoint",
    "runbook": "p95_api_latency.md",
    "description": "checkout is slow",
}


def text(*rules: dict[str, Any]) -> str:
    return yaml.safe_dump({"rules": list(rules)})


def packaged() -> list[ThresholdRule]:
    return parse_rules(resources.files("perfguard").joinpath("rules.yaml").read_text(encoding="utf-8"), "packaged")


def test_a_rule_with_every_field() -> None:
    (rule,) = parse_rules(text(BASE), "r.yaml")
    assert rule == ThresholdRule(
        name="p95_checkout",
        metric_type="api_latency",
        threshold=800.0,
        windows=3,
        min_samples=5,
        severity="critical",
        comparator=">=",
        group="endpoint",
        runbook="p95_api_latency.md",
        description="checkout is slow",
    )


def test_optional_fields_default() -> None:
    entry = {k: v for k, v in BASE.items() if k not in ("group", "runbook", "description")}
    (rule,) = parse_rules(text(entry), "r.yaml")
    assert (rule.group, rule.runbook, rule.description) == ("endpoint_and_overall", "p95_checkout.md", "")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "Bad-Name"}, "name"),
        ({"name": ""}, "name"),
        ({"metric_type": 3}, "metric_type"),
        ({"statistic": "p98"}, "statistic"),
        ({"comparator": "=="}, "comparator"),
        ({"threshold": "fast"}, "threshold"),
        ({"threshold": True}, "threshold"),
        ({"threshold": float("nan")}, "threshold"),
        ({"windows": 0}, "windows"),
        ({"windows": 2.5}, "windows"),
        ({"min_samples": -1}, "min_samples"),
        ({"severity": "urgent"}, "severity"),
        ({"group": "region"}, "group"),
        ({"runbook": "../etc/passwd"}, "runbook"),
        ({"runbook": "notes.txt"}, "runbook"),
        ({"description": 7}, "description"),
        ({"labels": {}}, "labels"),
    ],
)
def test_an_invalid_field_names_the_rule_and_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=f"rule .*field '{field}'"):
        parse_rules(text({**BASE, **change}), "r.yaml")


@pytest.mark.parametrize("field", ["name", "metric_type", "statistic", "comparator", "threshold", "windows"])
def test_a_missing_field_is_named(field: str) -> None:
    entry = {k: v for k, v in BASE.items() if k != field}
    with pytest.raises(ConfigError, match=f"field '{field}': missing"):
        parse_rules(text(entry), "r.yaml")


def test_an_unknown_statistic_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"rule 'p95_checkout'.*must be one of p50, p95, p99, mean, max, min"):
        parse_rules(text({**BASE, "statistic": "median"}), "r.yaml")


def test_names_are_unique() -> None:
    with pytest.raises(ConfigError, match="rule 'p95_checkout', field 'name': not unique"):
        parse_rules(text(BASE, BASE), "r.yaml")


@pytest.mark.parametrize(
    ("document", "message"),
    [("rules: [", "not valid YAML"), ("[]", "'rules' list"), ("rules: []", "empty"), ("rules: [3]", "rule #1")],
)
def test_malformed_files(document: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_rules(document, "r.yaml")


def rows(p95s: list[float], endpoint: str | None = "POST /swaps", count: int = 12) -> list[dict[str, Any]]:
    return [
        {"endpoint_or_operation": endpoint, "minute": START + i * MINUTE, "count": count, "p95": p95}
        for i, p95 in enumerate(p95s)
    ]


def test_greater_or_equal_fires_at_the_threshold_and_greater_does_not() -> None:
    at = START + 5 * MINUTE
    assert find_breaches(ThresholdRule(comparator=">="), rows([2000.0] * 5), at)
    assert not find_breaches(ThresholdRule(comparator=">"), rows([2000.0] * 5), at)


@pytest.mark.parametrize(
    ("group", "expected"),
    [("endpoint_and_overall", {None, "POST /swaps"}), ("endpoint", {"POST /swaps"}), ("overall", {None})],
)
def test_group_selects_the_endpoints_the_overall_or_both(group: str, expected: set[str | None]) -> None:
    data = rows([2600.0] * 5) + rows([2600.0] * 5, endpoint=None)
    breaches = find_breaches(ThresholdRule(group=group), data, START + 5 * MINUTE)
    assert {breach.endpoint_or_operation for breach in breaches} == expected


def test_context_links_the_rules_runbook() -> None:
    rule = ThresholdRule(name="p95_checkout", runbook="checkout.md")
    (breach,) = find_breaches(rule, rows([2600.0] * 5), START + 5 * MINUTE)
    assert breach.context()["runbook"] == "runbooks/checkout.md"


def test_the_packaged_file_keeps_the_latency_rule_and_has_a_rule_per_kpi() -> None:
    rules = packaged()
    assert rules[0] == ThresholdRule(description=rules[0].description)
    assert load_threshold_rules(Settings()) == rules
    assert {rule.metric_type for rule in rules} == {"api_latency", "crash_rate", "user_journey", "canister_cycles",
                                                     "memory_usage"}  # fmt: skip
    assert {rule.kind for rule in rules} == {"threshold", "slo_burn_rate", "trend", "anomaly"}


def test_every_packaged_rule_names_an_existing_runbook() -> None:
    for rule in packaged():
        assert (RUNBOOKS / rule.runbook).is_file(), f"rule {rule.name}: runbooks/{rule.runbook} does not exist"


def test_the_settings_override_the_latency_rule_only() -> None:
    settings = Settings(latency_threshold_ms=1500.0, threshold_windows=3, threshold_min_samples=4)
    rule = find_rule(load_threshold_rules(settings), "p95_api_latency")
    assert (rule.threshold, rule.windows, rule.min_samples) == (1500.0, 3, 4)
    other = ThresholdRule(name="other")
    assert with_overrides([other], "p95_api_latency", {"threshold": 1.0}) == [other]


def test_rules_file_replaces_the_packaged_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text(BASE), encoding="utf-8")
    assert [rule.name for rule in load_threshold_rules(Settings(rules_file=str(path)))] == ["p95_checkout"]
    with pytest.raises(ConfigError, match="cannot read rules file"):
        load_threshold_rules(Settings(rules_file=str(tmp_path / "missing.yaml")))


def test_find_rule_lists_the_known_names() -> None:
    with pytest.raises(ConfigError, match="known: p95_api_latency"):
        find_rule(packaged(), "nope")


SLO = {
    "name": "crash_free_sessions_page",
    "kind": "slo_burn_rate",
    "metric_type": "crash_rate",
    "match": ['endpoint="app_sessions"'],
    "numerator": ['event="fatal_crash"'],
    "denominator": ['event="session_start"'],
    "objective": 99.5,
    "burn_windows": ["1h/5m@14.4", "6h/30m@6"],
    "min_samples": 100,
    "severity": "critical",
}


def test_an_slo_rule_with_its_burn_windows() -> None:
    (rule,) = parse_rules(text(SLO), "r.yaml")
    assert (rule.kind, rule.statistic, rule.group, rule.threshold, rule.alert_type) == (
        "slo_burn_rate", "ratio", "overall", 6.0, "threshold_exceeded",
    )  # fmt: skip
    assert [(w.long, w.short, w.factor) for w in rule.burn_windows] == [
        (dt.timedelta(hours=1), dt.timedelta(minutes=5), 14.4),
        (dt.timedelta(hours=6), dt.timedelta(minutes=30), 6.0),
    ]
    assert [(m.label, m.op, m.value) for m in rule.numerator] == [("event", "=", "fatal_crash")]


def test_threshold_options_durations_and_matchers() -> None:
    entry = {**BASE, "comparator": "<", "threshold": 90, "resolve_threshold": 92, "window": "15m",
             "keep_firing_for": "10m", "no_data": "keep_last", "on_error": "alerting", "route": ["slack"],
             "match": ['endpoint=~"kpi:.*"', 'platform!="web"'], "statistic": "mean",
             "group_by": ["platform"]}  # fmt: skip
    (rule,) = parse_rules(text(entry), "r.yaml")
    assert (rule.window, rule.keep_firing_for) == (dt.timedelta(minutes=15), dt.timedelta(minutes=10))
    assert (rule.recovery, rule.no_data, rule.on_error, rule.route) == (92.0, "keep_last", "alerting", ("slack",))
    assert [(m.label, m.op) for m in rule.match] == [("endpoint", "=~"), ("platform", "!=")]
    assert rule.group_by == ("platform",)
    assert rule.lookback == (3 + 2) * dt.timedelta(minutes=15) + dt.timedelta(minutes=10)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"resolve_threshold": 900}, "resolve_threshold", "at or below the threshold"),
        ({"window": "7m"}, "window", "divide a day"),
        ({"window": "soon"}, "window", "duration like"),
        ({"keep_firing_for": "-1m"}, "keep_firing_for", "duration like"),
        ({"match": ["endpoint=/swaps"]}, "match", 'label="value"'),
        ({"match": 'endpoint="x"'}, "match", "list of matchers"),
        ({"match": ['endpoint=~"("']}, "match", "not a valid regular expression"),
        ({"statistic": "ratio"}, "numerator", "a ratio needs"),
        ({"no_data": "ignore"}, "no_data", "must be one of"),
        ({"route": ["pager"]}, "route", "channels among"),
        ({"objective": 99.0}, "objective", "only rules of kind slo_burn_rate"),
        ({"group_by": ["endpoint"]}, "group_by", "endpoint is always part of the group"),
        ({"group_by": "platform"}, "group_by", "list of label names"),
        ({"group_by": ["plat-form"]}, "group_by", "list of label names"),
        ({"group_by": ["platform"], "group": "overall"}, "group_by", "use group endpoint"),
    ],
)
def test_invalid_options_name_the_field_and_the_problem(change: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"field '{field}': .*{re.escape(message)}"):
        parse_rules(text({**BASE, **change}), "r.yaml")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"objective": 100}, "objective"),
        ({"burn_windows": ["5m/1h@14.4"]}, "burn_windows"),
        ({"burn_windows": ["1h-5m"]}, "burn_windows"),
        ({"burn_windows": []}, "burn_windows"),
    ],
)
def test_invalid_slo_fields(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=f"rule 'crash_free_sessions_page', field '{field}'"):
        parse_rules(text({**SLO, **change}), "r.yaml")


def test_trend_and_anomaly_settings_over_their_defaults() -> None:
    trend = {"name": "t", "kind": "trend", "metric_type": "api_latency", "severity": "medium", "window": "1h",
             "trend": {"relative": 0.3, "offsets": ["1d"]}}  # fmt: skip
    anomaly = {"name": "a", "kind": "anomaly", "metric_type": "api_latency", "severity": "low", "window": "5m",
               "anomaly": {"k": 2, "n": 4}}  # fmt: skip
    first, second = parse_rules(text(trend, anomaly), "r.yaml")
    assert first.trend is not None and (first.trend.relative, first.trend.offsets) == (0.3, (dt.timedelta(days=1),))
    assert (first.alert_type, second.alert_type) == ("trend_degradation", "anomaly_detected")
    assert second.anomaly is not None and (second.anomaly.k, second.anomaly.n, second.anomaly.seasons) == (2, 4, 7)
    with pytest.raises(ConfigError, match="field 'anomaly': needs 1 <= k <= n"):
        parse_rules(text({**anomaly, "anomaly": {"k": 5, "n": 4}}), "r.yaml")
    with pytest.raises(ConfigError, match="field 'trend': unknown setting 'factor'"):
        parse_rules(text({**trend, "trend": {"factor": 2}}), "r.yaml")
