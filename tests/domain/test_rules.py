"""The rules file: parsing, each validation error, comparator and group, the packaged file and its runbooks."""

from __future__ import annotations

import datetime as dt
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


def test_the_packaged_file_is_todays_rule() -> None:
    (rule,) = packaged()
    assert rule == ThresholdRule(description=rule.description)
    assert load_threshold_rules(Settings()) == [rule]


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
