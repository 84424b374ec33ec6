"""The threshold rules of a YAML file (`perfguard/rules.yaml` by default): parsed and validated, pure.

The file holds `rules:`, a list of mappings with the fields below; a mistake is a ConfigError naming the rule
and the field. The current query computes P95 only, so `statistic` accepts `p95` alone for now.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import yaml

from perfguard.domain.thresholds import COMPARATORS, GROUPS, ThresholdRule
from perfguard.errors import ConfigError

NAME = re.compile(r"[a-z0-9_]+")
RUNBOOK = re.compile(r"[A-Za-z0-9_.-]+\.md")
STATISTICS = ("p95",)
SEVERITIES = ("low", "medium", "high", "critical")
REQUIRED = ("name", "metric_type", "statistic", "comparator", "threshold", "windows", "min_samples", "severity")
OPTIONAL = ("group", "runbook", "description")
FIELDS = REQUIRED + OPTIONAL
Fail = Callable[[str, str], ConfigError]


def parse_rules(text: str, source: str) -> list[ThresholdRule]:
    """The rules of the YAML `text` (read from `source`, named in errors), in file order."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(document, Mapping) or not isinstance(document.get("rules"), list):
        raise ConfigError(f"{source}: expected a mapping with a 'rules' list")
    entries: list[Any] = document["rules"]
    if not entries:
        raise ConfigError(f"{source}: 'rules' is empty")
    rules = [parse_rule(entry, source, index) for index, entry in enumerate(entries, 1)]
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            raise ConfigError(f"{source}: rule '{rule.name}', field 'name': not unique")
        seen.add(rule.name)
    return rules


def parse_rule(entry: object, source: str, index: int) -> ThresholdRule:
    """One rule; `index` (1-based) names it in errors until its name is known."""
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{source}: rule #{index}: expected a mapping of fields")
    label = f"rule '{entry['name']}'" if isinstance(entry.get("name"), str) else f"rule #{index}"

    def fail(field: str, problem: str) -> ConfigError:
        return ConfigError(f"{source}: {label}, field '{field}': {problem}")

    unknown = sorted(str(key) for key in entry if key not in FIELDS)
    if unknown:
        raise fail(unknown[0], f"unknown field (known: {', '.join(FIELDS)})")
    for field in REQUIRED:
        if field not in entry:
            raise fail(field, "missing")
    name = _text(entry, "name", fail)
    if not NAME.fullmatch(name):
        raise fail("name", f"must match [a-z0-9_]+, got {name!r}")
    statistic = _text(entry, "statistic", fail)
    if statistic not in STATISTICS:
        raise fail("statistic", f"statistic {statistic!r} is not supported yet (p95)")
    rule = ThresholdRule(
        name=name,
        metric_type=_text(entry, "metric_type", fail),
        threshold=_number(entry, "threshold", fail),
        windows=_count(entry, "windows", fail, least=1),
        min_samples=_count(entry, "min_samples", fail, least=0),
        severity=_choice(entry, "severity", SEVERITIES, fail),
        comparator=_choice(entry, "comparator", COMPARATORS, fail),
        group=_choice(entry, "group", GROUPS, fail) if "group" in entry else "endpoint_and_overall",
        runbook=_text(entry, "runbook", fail) if "runbook" in entry else f"{name}.md",
        description=_text(entry, "description", fail, empty=True) if "description" in entry else "",
    )
    if not RUNBOOK.fullmatch(rule.runbook):
        raise fail("runbook", f"must be a file name in runbooks/ ending in .md, got {rule.runbook!r}")
    return rule


def with_overrides(rules: Sequence[ThresholdRule], name: str, changes: Mapping[str, Any]) -> list[ThresholdRule]:
    """`rules` with the fields of `changes` replaced in the rule called `name` (the others unchanged)."""
    return [dataclasses.replace(rule, **changes) if rule.name == name else rule for rule in rules]


def find_rule(rules: Sequence[ThresholdRule], name: str) -> ThresholdRule:
    """The first rule called `name`; ConfigError listing the known ones otherwise."""
    for rule in rules:
        if rule.name == name:
            return rule
    raise ConfigError(f"no threshold rule named {name!r} (known: {', '.join(rule.name for rule in rules)})")


def _text(entry: Mapping[Any, Any], field: str, fail: Fail, *, empty: bool = False) -> str:
    value = entry[field]
    if not isinstance(value, str) or not (empty or value.strip()):
        raise fail(field, f"must be a non-empty string, got {value!r}")
    return value


def _number(entry: Mapping[Any, Any], field: str, fail: Fail) -> float:
    value = entry[field]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise fail(field, f"must be a finite number, got {value!r}")
    return float(value)


def _count(entry: Mapping[Any, Any], field: str, fail: Fail, *, least: int) -> int:
    value = entry[field]
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise fail(field, f"must be an integer of at least {least}, got {value!r}")
    return value


def _choice(entry: Mapping[Any, Any], field: str, choices: Sequence[str], fail: Fail) -> str:
    value = entry[field]
    if value not in choices:
        raise fail(field, f"must be one of {', '.join(choices)}, got {value!r}")
    return str(value)
