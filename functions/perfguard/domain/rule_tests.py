"""Unit tests of alert rules in the spirit of `promtool test rules`: the file format, series, and verdicts.

A test file (format in docs/rules.md) names the rules file, then tests: input series in promtool's expanding
notation, and at chosen evaluation times the alerts expected to fire. Pure: the runner
(`perfguard.local.rule_tests`) stores the records in a fresh embedded store and evaluates.

>>> expand("1+1x3 _ 7x1 _x2")
[1.0, 2.0, 3.0, 4.0, None, 7.0, 7.0, None, None]
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from perfguard.domain.metric import MetricType
from perfguard.domain.rules import parse_duration
from perfguard.errors import ConfigError

_TERM = re.compile(r"(-?[0-9.]+(?:e-?\d+)?)(?:([+-][0-9.]+(?:e-?\d+)?)?x(\d+))?")
_SERIES = re.compile(r"\s*([a-z_]+)\s*(?:\{(.*)\})?\s*")
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
DEFAULT_START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
UNITS = {"api_latency": "ms", "canister_cycles": "cycles", "memory_usage": "bytes", "crash_rate": "count",
         "user_journey": "ms"}  # fmt: skip


@dataclass(frozen=True)
class Series:
    """Records of one metric type and label set: `counts[i]` records of value `values[i]` in interval i."""

    metric_type: str
    endpoint: str
    tags: Mapping[str, str]
    values: tuple[float | None, ...]
    counts: tuple[int, ...]
    unit: str


@dataclass(frozen=True)
class ExpectedAlert:
    """An alert expected to fire: the labels it must carry (endpoint, severity, ...) and optionally its value."""

    labels: Mapping[str, str]
    value: float | None = None


@dataclass(frozen=True)
class Expectation:
    """At `eval_time` after the start, rule `alertname` fires exactly the `alerts` (none: must not fire)."""

    eval_time: dt.timedelta
    alertname: str
    alerts: tuple[ExpectedAlert, ...]


@dataclass(frozen=True)
class RuleTest:
    """One test: its series from `start`, one interval apart, and what must hold at each evaluation time."""

    name: str
    start: dt.datetime
    interval: dt.timedelta
    series: tuple[Series, ...]
    expectations: tuple[Expectation, ...]


@dataclass(frozen=True)
class TestFile:
    """A parsed test file: the rules file it tests (None: the packaged rules) and its tests."""

    rule_files: tuple[str, ...]
    tests: tuple[RuleTest, ...]


@dataclass
class Verdict:
    """The outcome of one test: its failures, one line each (none: passed)."""

    name: str
    failures: list[str] = field(default_factory=list)


def expand(notation: str) -> list[float | None]:
    """promtool's expanding notation: `a+bxn` is a, a+b, ... a+n*b (n+1 values); `axn` repeats a n+1 times;
    `_` is a missing interval and `_xn` n of them; terms are separated by spaces."""
    values: list[float | None] = []
    for term in notation.split():
        if term == "_" or re.fullmatch(r"_x\d+", term):
            values.extend([None] * (1 if term == "_" else int(term[2:])))
            continue
        found = _TERM.fullmatch(term)
        if found is None:
            raise ConfigError(f"series value {term!r} is not a number, _, a+bxn or axn")
        start, step, times = float(found[1]), float(found[2] or 0), found[3]
        values.extend([start] if times is None else [start + i * step for i in range(int(times) + 1)])
    return values


def parse_test_file(text: str, source: str) -> TestFile:
    """The tests of a YAML test file; ConfigError names the test and field of a mistake."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(document, Mapping) or not isinstance(document.get("tests"), list) or not document["tests"]:
        raise ConfigError(f"{source}: expected a mapping with a non-empty 'tests' list")
    files = document.get("rule_files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise ConfigError(f"{source}: rule_files must be a list of paths")
    tests = tuple(_test(entry, f"{source}: test #{i}") for i, entry in enumerate(document["tests"], 1))
    return TestFile(tuple(files), tests)


def _test(entry: Any, where: str) -> RuleTest:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: expected a mapping")
    where = f"{where} ({entry.get('name', 'unnamed')})"
    interval = _duration(entry.get("interval", "1m"), f"{where}, interval")
    start = entry.get("start", DEFAULT_START)
    if isinstance(start, str):
        start = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    if not isinstance(start, dt.datetime) or start.tzinfo is None:
        raise ConfigError(f"{where}, start: expected an RFC 3339 time with a zone, got {entry.get('start')!r}")
    series = tuple(
        _series(item, f"{where}, input_series #{i}") for i, item in enumerate(entry.get("input_series", []), 1)
    )
    checks = entry.get("alert_rule_test", [])
    if not isinstance(checks, list) or not checks:
        raise ConfigError(f"{where}: alert_rule_test must list at least one check")
    expectations = tuple(_expectation(item, f"{where}, alert_rule_test #{i}") for i, item in enumerate(checks, 1))
    return RuleTest(str(entry.get("name", "unnamed")), start.astimezone(dt.UTC), interval, series, expectations)


def _series(item: Any, where: str) -> Series:
    if not isinstance(item, Mapping) or not isinstance(item.get("series"), str):
        raise ConfigError(f"{where}: expected a mapping with 'series' (e.g. 'api_latency{{endpoint=\"GET /x\"}}')")
    metric_type, labels = parse_series_name(item["series"], where)
    values = expand(str(item.get("values", "")))
    counts = expand(str(item.get("counts", ""))) if "counts" in item else [1.0] * len(values)
    if not values or len(counts) != len(values) or any(c is not None and c < 0 for c in counts):
        raise ConfigError(f"{where}: values and counts must expand to the same number of intervals")
    endpoint = labels.pop("endpoint", "")
    if not endpoint:
        raise ConfigError(f"{where}: the series needs an endpoint label (its endpoint_or_operation)")
    unit = str(item.get("unit", UNITS[metric_type]))
    return Series(metric_type, endpoint, labels, tuple(values), tuple(int(c or 0) for c in counts), unit)


def parse_series_name(text: str, where: str) -> tuple[str, dict[str, str]]:
    """`metric_type{label="value", ...}` as the metric type and its labels."""
    found = _SERIES.fullmatch(text)
    if found is None or found[1] not in {m.value for m in MetricType}:
        raise ConfigError(f'{where}: {text!r} is not metric_type{{label="value", ...}} with a known metric_type')
    labels: dict[str, str] = {}
    body = (found[2] or "").strip()
    while body:
        label = _LABEL.match(body)
        if label is None:
            raise ConfigError(f"{where}: cannot read the labels {body!r}")
        labels[label[1]] = label[2].replace('\\"', '"').replace("\\\\", "\\")
        body = body[label.end() :].strip()
    return found[1], labels


def _expectation(item: Any, where: str) -> Expectation:
    if not isinstance(item, Mapping) or "eval_time" not in item or not isinstance(item.get("alertname"), str):
        raise ConfigError(f"{where}: expected eval_time and alertname")
    alerts = []
    for expected in item.get("exp_alerts") or []:
        labels = expected.get("exp_labels", {}) if isinstance(expected, Mapping) else None
        if not isinstance(labels, Mapping):
            raise ConfigError(f"{where}: exp_alerts items are mappings with exp_labels")
        value = expected.get("exp_value")
        alerts.append(
            ExpectedAlert({str(k): str(v) for k, v in labels.items()}, None if value is None else float(value))
        )
    return Expectation(_duration(item["eval_time"], f"{where}, eval_time", least=0), item["alertname"], tuple(alerts))


def _duration(value: Any, where: str, least: int = 1) -> dt.timedelta:
    try:
        duration = parse_duration(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    if duration.total_seconds() < least:
        raise ConfigError(f"{where}: must be at least {least} s")
    return duration


def judge(expectation: Expectation, fired: Sequence[tuple[Mapping[str, str], float | None]]) -> list[str]:
    """What is wrong with the alerts that `fired` (labels, value) against the expectation; [] when all agree.
    Expected labels must all be present and equal (others are ignored); each expected alert takes one
    distinct fired alert, and nothing else may fire."""
    left = list(fired)
    problems = []
    # The most specific expectations choose first, so a bare one cannot take the alert a precise one needs.
    for expected in sorted(expectation.alerts, key=lambda e: (e.value is None, -len(e.labels))):
        match = next((f for f in left if _agrees(expected, f)), None)
        if match is None:
            problems.append(f"expected {_show(expected.labels, expected.value)}, not among the fired alerts")
        else:
            left.remove(match)
    problems.extend(f"unexpected alert {_show(labels, value)}" for labels, value in left)
    when = f"at {_span(expectation.eval_time)}, {expectation.alertname}"
    return [f"{when}: {problem}" for problem in problems]


def _agrees(expected: ExpectedAlert, fired: tuple[Mapping[str, str], float | None]) -> bool:
    labels, value = fired
    if any(labels.get(k) != v for k, v in expected.labels.items()):
        return False
    return expected.value is None or (value is not None and abs(value - expected.value) <= 1e-6 * max(1.0, abs(value)))


def _show(labels: Mapping[str, str], value: float | None) -> str:
    text = "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
    return text if value is None else f"{text} value={value:g}"


def _span(span: dt.timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes}m" if span.total_seconds() % 60 == 0 else f"{int(span.total_seconds())}s"
