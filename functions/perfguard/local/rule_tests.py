"""`perfguard test-rules`: run rule unit tests (domain/rule_tests.py) against a fresh embedded store each.

Each test's series become PerformanceMetric records in a temporary DuckDB file; the evaluator's own code
(`evaluate_rules`) judges the rules at each evaluation time, so a test that passes here passes in production.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from xml.etree import ElementTree

from perfguard.api.rule_evaluation import evaluate_rules
from perfguard.domain.metric import MetricType, Outcome, PerformanceMetric, Unit, outcome_from_tags
from perfguard.domain.rule_tests import RuleTest, Series, Verdict, judge, parse_test_file
from perfguard.domain.rules import parse_rules
from perfguard.domain.thresholds import OVERALL, ThresholdRule
from perfguard.errors import ConfigError
from perfguard.runtime import load_threshold_rules
from perfguard.settings import Settings
from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse
from perfguard.warehouse.schema import default_schemas_dir, load_tables, load_views


def run_file(path: Path, progress: Callable[[Verdict], None] | None = None) -> list[Verdict]:
    """The verdict of every test of the file at `path` (rule_files resolve relative to it)."""
    try:
        parsed = parse_test_file(path.read_text(encoding="utf-8"), str(path))
    except OSError as exc:
        raise ConfigError(f"cannot read rule test file {path}: {exc}") from exc
    rules = _rules(path.parent, parsed.rule_files)
    verdicts = []
    for test in parsed.tests:
        verdict = run_test(rules, test)
        verdicts.append(verdict)
        if progress is not None:
            progress(verdict)
    return verdicts


def run_test(rules: Sequence[ThresholdRule], test: RuleTest) -> Verdict:
    """One test on its own store: its records stored, each expectation checked."""
    verdict = Verdict(test.name)
    names = {rule.name for rule in rules}
    with _store() as store:
        store.ingest_metrics(list(_records(test)), test.start)
        for expectation in test.expectations:
            if expectation.alertname not in names:
                verdict.failures.append(f"no rule named {expectation.alertname!r} in the rules under test")
                continue
            rule = next(rule for rule in rules if rule.name == expectation.alertname)
            (result,) = evaluate_rules(store, [rule], test.start + expectation.eval_time)
            if result.error:
                verdict.failures.append(f"{rule.name}: the evaluation failed: {result.error}")
            fired = [(_labels(rule, b.endpoint_or_operation), b.current_value) for b in result.breaches]
            verdict.failures.extend(judge(expectation, fired))
    return verdict


def junit(verdicts: Sequence[Verdict], suite: str) -> str:
    """The verdicts as JUnit XML, for CI systems that show test reports."""
    root = ElementTree.Element("testsuite", name=suite, tests=str(len(verdicts)),
                               failures=str(sum(1 for v in verdicts if v.failures)))  # fmt: skip
    for verdict in verdicts:
        case = ElementTree.SubElement(root, "testcase", name=verdict.name, classname=suite)
        for failure in verdict.failures:
            ElementTree.SubElement(case, "failure", message=failure)
    return ElementTree.tostring(root, encoding="unicode")


def _rules(folder: Path, files: Sequence[str]) -> list[ThresholdRule]:
    if not files:
        return load_threshold_rules(Settings())
    rules: list[ThresholdRule] = []
    for name in files:
        path = folder / name
        try:
            rules.extend(parse_rules(path.read_text(encoding="utf-8"), str(path)))
        except OSError as exc:
            raise ConfigError(f"cannot read rules file {path} (named in rule_files): {exc}") from exc
    return rules


def _labels(rule: ThresholdRule, group: str | None) -> dict[str, str]:
    return {"endpoint": group or OVERALL, "severity": rule.severity, "alert_type": rule.alert_type}


def _records(test: RuleTest) -> Iterator[PerformanceMetric]:
    for number, series in enumerate(test.series):
        for i, (value, count) in enumerate(zip(series.values, series.counts, strict=True)):
            if value is None:
                continue
            for k in range(count):
                yield _record(
                    series,
                    f"t{number}-{i}-{k}",
                    value,
                    test.start + i * test.interval + k * test.interval / max(count, 1),
                )


def _record(series: Series, record_id: str, value: float, at: dt.datetime) -> PerformanceMetric:
    tags = dict(series.tags)
    outcome = outcome_from_tags(tags) if tags else Outcome.OK
    stamp = int(at.timestamp()) * 1_000_000 + at.microsecond
    return PerformanceMetric(record_id, MetricType(series.metric_type), series.endpoint, value, Unit(series.unit),
                             None, stamp, tags, outcome, "rule_test", tags.get("release"), "test")  # fmt: skip


class _store:
    """A throwaway embedded store in a temporary directory."""

    def __enter__(self) -> DuckDBWarehouse:
        self.folder = tempfile.TemporaryDirectory(prefix="perfguard-rule-test-")
        schemas = default_schemas_dir()
        self.warehouse = DuckDBWarehouse(Path(self.folder.name) / "t.duckdb", load_tables(schemas),
                                         load_views(schemas, "main"))  # fmt: skip
        self.warehouse.ensure_tables()
        return self.warehouse

    def __exit__(self, *exc: object) -> None:
        self.warehouse.close()
        self.folder.cleanup()
