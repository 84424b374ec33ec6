"""The alert rules of a YAML file (`perfguard/rules.yaml` by default): parsed and validated, pure.

The file holds `rules:`, a list of mappings (fields: `docs/rules.md`); a mistake is a ConfigError naming the
rule and the field. Durations are `30s`, `5m`, `1h`, `1d` (or seconds); label matchers are Alertmanager's
`label="value"`, `label!="value"`, `label=~"regex"`, `label!~"regex"`; burn windows are `1h/5m@14.4`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import yaml

from perfguard.domain.silences import Matcher
from perfguard.domain.thresholds import (
    BASE_LOOKBACK,
    COMPARATORS,
    ERROR_POLICIES,
    GROUPS,
    KINDS,
    NO_DATA_POLICIES,
    STATISTICS,
    AnomalySpec,
    BurnWindow,
    ThresholdRule,
    TrendSpec,
)
from perfguard.errors import ConfigError, ValidationError

NAME = re.compile(r"[a-z0-9_]+")
LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
RUNBOOK = re.compile(r"[A-Za-z0-9_.-]+\.md")
DURATION = re.compile(r"(\d+)([smhd])")
MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"(.*)"\s*')
BURN = re.compile(r"\s*(\d+[smhd])\s*/\s*(\d+[smhd])\s*@\s*([0-9.]+)\s*")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
SEVERITIES = ("low", "medium", "high", "critical")
CHANNELS = ("slack", "email", "webhook", "local")
# What every kind needs; a threshold rule also needs the fields that say what crosses what.
REQUIRED = ("name", "metric_type", "severity")
THRESHOLD_REQUIRED = ("statistic", "comparator", "threshold", "windows", "min_samples")
OPTIONAL = (
    "kind", "statistic", "comparator", "threshold", "windows", "min_samples", "group", "group_by", "runbook",
    "description",
    "match", "numerator", "denominator", "window", "resolve_threshold", "keep_firing_for", "no_data", "on_error",
    "route", "unit", "objective", "burn_windows", "trend", "anomaly",
)  # fmt: skip
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
    kind = _choice(entry, "kind", KINDS, fail) if "kind" in entry else "threshold"
    for field in REQUIRED + (THRESHOLD_REQUIRED if kind == "threshold" else ()):
        if field not in entry:
            raise fail(field, "missing")
    name = _text(entry, "name", fail)
    if not NAME.fullmatch(name):
        raise fail("name", f"must match [a-z0-9_]+, got {name!r}")
    rule = _checked(_build(entry, name, kind, fail), fail)
    return dataclasses.replace(rule, lookback=_lookback(rule))


def _build(entry: Mapping[Any, Any], name: str, kind: str, fail: Fail) -> ThresholdRule:
    is_slo = kind == "slo_burn_rate"
    burn = _burn_windows(entry, fail) if is_slo else ()

    def choice(field: str, choices: Sequence[str], default: str) -> str:
        return _choice(entry, field, choices, fail) if field in entry else default

    return ThresholdRule(
        name=name,
        kind=kind,
        metric_type=_text(entry, "metric_type", fail),
        statistic="ratio" if is_slo else choice("statistic", STATISTICS, "p95"),
        threshold=min(w.factor for w in burn) if is_slo else _number(entry, "threshold", fail, 0.0),
        windows=_count(entry, "windows", fail, least=1) if "windows" in entry else 5 if kind == "threshold" else 1,
        min_samples=_count(entry, "min_samples", fail, least=0) if "min_samples" in entry else 1,
        severity=_choice(entry, "severity", SEVERITIES, fail),
        comparator=">" if is_slo else choice("comparator", COMPARATORS, ">"),
        group=choice("group", GROUPS, "overall" if is_slo else "endpoint_and_overall"),
        group_by=_labels(entry, "group_by", fail),
        runbook=_text(entry, "runbook", fail) if "runbook" in entry else f"{name}.md",
        description=_text(entry, "description", fail, empty=True) if "description" in entry else "",
        match=_matchers(entry, "match", fail),
        numerator=_matchers(entry, "numerator", fail),
        denominator=_matchers(entry, "denominator", fail),
        window=_duration(entry, "window", fail, dt.timedelta(minutes=1)),
        resolve_threshold=_number(entry, "resolve_threshold", fail, None),
        keep_firing_for=_duration(entry, "keep_firing_for", fail, dt.timedelta(), least=0),
        no_data=choice("no_data", NO_DATA_POLICIES, "no_data"),
        on_error=choice("on_error", ERROR_POLICIES, "keep_last"),
        route=_route(entry, fail),
        unit=_text(entry, "unit", fail) if "unit" in entry else "",
        objective=_number(entry, "objective", fail, None),
        burn_windows=burn,
        trend=_spec(entry, "trend", TrendSpec, fail) if kind == "trend" else None,
        anomaly=_spec(entry, "anomaly", AnomalySpec, fail) if kind == "anomaly" else None,
    )


def _checked(rule: ThresholdRule, fail: Fail) -> ThresholdRule:
    """Cross-field checks: what one field means depends on another."""
    if not RUNBOOK.fullmatch(rule.runbook):
        raise fail("runbook", f"must be a file name in runbooks/ ending in .md, got {rule.runbook!r}")
    if rule.statistic == "ratio" and not rule.numerator:
        raise fail("numerator", "a ratio needs the matchers of the rows it counts (e.g. ['event=\"fatal_crash\"'])")
    if rule.kind == "slo_burn_rate" and not (rule.objective is not None and 0 < rule.objective < 100):
        raise fail(
            "objective", f"an SLO needs its target in percent, between 0 and 100 exclusive, got {rule.objective!r}"
        )
    if rule.kind != "slo_burn_rate" and rule.objective is not None:
        raise fail("objective", "only rules of kind slo_burn_rate have an objective")
    if rule.resolve_threshold is not None and _past(rule):
        side = "at or below" if rule.higher_is_worse else "at or above"
        raise fail(
            "resolve_threshold", f"must be {side} the threshold ({rule.threshold:g}) to resolve later than it fires"
        )
    if rule.group_by and rule.group == "overall":
        raise fail("group_by", "splits endpoints into groups: use group endpoint or endpoint_and_overall")
    if rule.window.total_seconds() % 60 or 86400 % rule.window.total_seconds():
        raise fail("window", "must be whole minutes that divide a day (1m, 5m, 15m, 1h, ...)")
    return rule


def _past(rule: ThresholdRule) -> bool:
    recovery = rule.recovery
    return recovery > rule.threshold if rule.higher_is_worse else recovery < rule.threshold


def _lookback(rule: ThresholdRule) -> dt.timedelta:
    """Long enough to replay an episode's start and its keep_firing_for; anomaly rules add their k-of-n.
    Longer is only slower: an episode longer than the lookback keeps its recorded alert (alert_state)."""
    margin = max(2 * rule.window, dt.timedelta(minutes=10))  # ten 1-minute windows, two longer ones
    span = (rule.windows + (rule.anomaly.n if rule.anomaly else 0)) * rule.window + margin + rule.keep_firing_for
    return max(BASE_LOOKBACK, span)


def with_overrides(rules: Sequence[ThresholdRule], name: str, changes: Mapping[str, Any]) -> list[ThresholdRule]:
    """`rules` with the fields of `changes` replaced in the rule called `name` (the others unchanged)."""
    changed = [dataclasses.replace(rule, **changes) if rule.name == name else rule for rule in rules]
    return [dataclasses.replace(rule, lookback=_lookback(rule)) if rule.name == name else rule for rule in changed]


def find_rule(rules: Sequence[ThresholdRule], name: str) -> ThresholdRule:
    """The first rule called `name`; ConfigError listing the known ones otherwise."""
    for rule in rules:
        if rule.name == name:
            return rule
    raise ConfigError(f"no rule named {name!r} (known: {', '.join(rule.name for rule in rules)})")


def parse_duration(value: object) -> dt.timedelta:
    """`90s`, `5m`, `1h`, `3d` or a number of seconds.

    >>> parse_duration("6h")
    datetime.timedelta(seconds=21600)
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return dt.timedelta(seconds=value)
    found = DURATION.fullmatch(value.strip()) if isinstance(value, str) else None
    if found is None:
        raise ValueError(f"expected a duration like 30s, 5m, 1h or 1d, got {value!r}")
    return dt.timedelta(seconds=int(found[1]) * UNITS[found[2]])


def parse_matcher(text: object) -> Matcher:
    """`label="value"` (or !=, =~, !~) as a Matcher."""
    found = MATCHER.fullmatch(text) if isinstance(text, str) else None
    if found is None:
        raise ValueError(f'expected label="value", label!="value", label=~"regex" or label!~"regex", got {text!r}')
    try:
        return Matcher(found[1], found[2], found[3])
    except ValidationError as exc:
        raise ValueError(str(exc)) from exc


def _matchers(entry: Mapping[Any, Any], field: str, fail: Fail) -> tuple[Matcher, ...]:
    items = entry.get(field, [])
    if not isinstance(items, list):
        raise fail(field, f"must be a list of matchers like 'measure=\"runway_days\"', got {items!r}")
    try:
        return tuple(parse_matcher(item) for item in items)
    except ValueError as exc:
        raise fail(field, str(exc)) from exc


def _duration(entry: Mapping[Any, Any], field: str, fail: Fail, default: dt.timedelta, least: int = 60) -> dt.timedelta:
    if field not in entry:
        return default
    try:
        value = parse_duration(entry[field])
    except ValueError as exc:
        raise fail(field, str(exc)) from exc
    if value.total_seconds() < least:
        raise fail(field, f"must be at least {least} s, got {entry[field]!r}")
    return value


def _burn_windows(entry: Mapping[Any, Any], fail: Fail) -> tuple[BurnWindow, ...]:
    items = entry.get("burn_windows")
    if not isinstance(items, list) or not items:
        raise fail("burn_windows", "an SLO rule needs a list like ['1h/5m@14.4', '6h/30m@6']")
    windows = []
    for item in items:
        found = BURN.fullmatch(item) if isinstance(item, str) else None
        if found is None:
            raise fail("burn_windows", f"expected long/short@factor like '1h/5m@14.4', got {item!r}")
        long, short, factor = parse_duration(found[1]), parse_duration(found[2]), float(found[3])
        if short >= long or short < dt.timedelta(minutes=1) or factor <= 0:
            raise fail("burn_windows", f"{item!r}: the short window must be at least 1m and shorter than the long one")
        windows.append(BurnWindow(long, short, factor))
    return tuple(windows)


def _spec(entry: Mapping[Any, Any], field: str, kind: type[Any], fail: Fail) -> Any:
    """The `trend:` or `anomaly:` mapping over its dataclass's defaults."""
    given = entry.get(field, {})
    if not isinstance(given, Mapping):
        raise fail(field, f"must be a mapping, got {given!r}")
    known = {f.name: f for f in dataclasses.fields(kind)}
    values: dict[str, Any] = {}
    for key, value in given.items():
        if key not in known:
            raise fail(field, f"unknown setting {key!r} (known: {', '.join(known)})")
        values[key] = _spec_value(field, key, value, known[key].default, fail)
    spec = kind(**values)
    if isinstance(spec, AnomalySpec) and not (1 <= spec.k <= spec.n and 3 <= spec.min_seasons <= spec.seasons):
        raise fail(field, "needs 1 <= k <= n and 3 <= min_seasons <= seasons")
    return spec


def _spec_value(field: str, key: str, value: object, default: object, fail: Fail) -> Any:
    try:
        if isinstance(default, tuple):
            return tuple(parse_duration(item) for item in value) if isinstance(value, list) else _bad(value)
        if isinstance(default, int):
            return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else _bad(value)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
            return float(value)
        return _bad(value)
    except ValueError as exc:
        raise fail(field, f"{key}: {exc}") from exc


def _bad(value: object) -> Any:
    raise ValueError(f"not a valid value: {value!r}")


def _labels(entry: Mapping[Any, Any], field: str, fail: Fail) -> tuple[str, ...]:
    items = entry.get(field, [])
    if not isinstance(items, list) or not all(isinstance(i, str) and LABEL.fullmatch(i) for i in items):
        raise fail(field, f"must be a list of label names (tags such as platform, or outcome, release), got {items!r}")
    if "endpoint" in items:
        raise fail(field, "endpoint is always part of the group; list the other labels")
    return tuple(items)


def _route(entry: Mapping[Any, Any], fail: Fail) -> tuple[str, ...]:
    items = entry.get("route", [])
    if not isinstance(items, list) or any(item not in CHANNELS for item in items):
        raise fail("route", f"must be a list of channels among {', '.join(CHANNELS)}, got {items!r}")
    return tuple(items)


def _text(entry: Mapping[Any, Any], field: str, fail: Fail, *, empty: bool = False) -> str:
    value = entry[field]
    if not isinstance(value, str) or not (empty or value.strip()):
        raise fail(field, f"must be a non-empty string, got {value!r}")
    return value


def _number(entry: Mapping[Any, Any], field: str, fail: Fail, default: float | None) -> Any:
    if field not in entry:
        return default
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
