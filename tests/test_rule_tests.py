"""`perfguard test-rules` as a user runs it, and the series notation and verdicts it is built on."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from perfguard.domain.rule_tests import Expectation, ExpectedAlert, expand, judge, parse_series_name, parse_test_file
from perfguard.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
PACKAGED_TESTS = ROOT / "functions" / "perfguard" / "rule_tests" / "packaged_rules_test.yaml"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "perfguard", "test-rules", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_the_packaged_rules_pass_their_tests() -> None:
    result = run(str(PACKAGED_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed, 0 failed" in result.stdout


def test_a_wrong_expectation_fails_with_what_fired_and_a_junit_report(tmp_path: Path) -> None:
    rules = (ROOT / "functions" / "perfguard" / "rules.yaml").resolve()
    spec = tmp_path / "t.yaml"
    spec.write_text(
        f"""rule_files: ['{rules}']
tests:
  - name: expects too early
    input_series:
      - series: 'api_latency{{endpoint="POST /swaps"}}'
        values: '2500x9'
        counts: '12x9'
    alert_rule_test:
      - eval_time: 4m
        alertname: p95_api_latency
        exp_alerts: [{{exp_labels: {{endpoint: POST /swaps}}}}]
      - eval_time: 6m
        alertname: p95_api_latency
""",
        encoding="utf-8",
    )
    report = tmp_path / "junit.xml"
    result = run(str(spec), "--junit", str(report))
    assert result.returncode == 1
    assert 'at 4m, p95_api_latency: expected {endpoint="POST /swaps"}, not among the fired alerts' in result.stdout
    assert 'at 6m, p95_api_latency: unexpected alert {alert_type="threshold_exceeded", endpoint="POST /swaps"' in (
        result.stdout
    )
    assert 'failures="1"' in report.read_text(encoding="utf-8")


def test_a_broken_test_file_is_a_clear_error(tmp_path: Path) -> None:
    spec = tmp_path / "t.yaml"
    spec.write_text("tests:\n  - name: x\n    input_series: [{series: 'latency{a=\"b\"}', values: '1'}]\n", "utf-8")
    result = run(str(spec))
    assert result.returncode == 2
    assert "test #1 (x), input_series #1: 'latency{a=\"b\"}' is not metric_type" in result.stderr


@pytest.mark.parametrize(
    ("notation", "values"),
    [
        ("1 2 3", [1.0, 2.0, 3.0]),
        ("5x2", [5.0, 5.0, 5.0]),
        ("0+10x3", [0.0, 10.0, 20.0, 30.0]),
        ("10-2x2 _ _x2 1e3", [10.0, 8.0, 6.0, None, None, None, 1000.0]),
    ],
)
def test_expanding_notation(notation: str, values: list[float | None]) -> None:
    assert expand(notation) == values


def test_bad_notation_and_series_names() -> None:
    with pytest.raises(ConfigError, match="'x3' is not a number"):
        expand("x3")
    assert parse_series_name('crash_rate{endpoint="app", event="a \\"b\\""}', "w") == (
        "crash_rate",
        {"endpoint": "app", "event": 'a "b"'},
    )
    with pytest.raises(ConfigError, match="cannot read the labels"):
        parse_series_name("api_latency{endpoint=x}", "w")


def test_counts_and_values_must_have_the_same_length() -> None:
    text = "tests:\n - input_series: [{series: 'api_latency{endpoint=\"a\"}', values: '1x3', counts: '2x1'}]\n"
    with pytest.raises(ConfigError, match="same number of intervals"):
        parse_test_file(text + "   alert_rule_test: [{eval_time: 1m, alertname: a}]\n", "f.yaml")


def test_judge_matches_each_expected_alert_to_one_fired_alert() -> None:
    two = Expectation(
        dt.timedelta(minutes=5), "r", (ExpectedAlert({"endpoint": "a"}), ExpectedAlert({"endpoint": "a"}, 3.0))
    )
    assert judge(two, [({"endpoint": "a"}, 3.0), ({"endpoint": "a", "severity": "high"}, 1.0)]) == []
    assert judge(two, [({"endpoint": "a"}, 1.0)]) == [
        'at 5m, r: expected {endpoint="a"} value=3, not among the fired alerts'
    ]
    none = Expectation(dt.timedelta(seconds=90), "r", ())
    assert judge(none, [({"endpoint": "b"}, None)]) == ['at 90s, r: unexpected alert {endpoint="b"}']


def test_group_by_labels_make_an_alert_per_label_value(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        """rules:
  - {name: p95_by_platform, metric_type: api_latency, statistic: p95, comparator: ">", threshold: 2000,
     windows: 3, min_samples: 5, severity: high, group: endpoint, group_by: [platform], runbook: p95_api_latency.md}
""",
        encoding="utf-8",
    )
    spec = tmp_path / "t.yaml"
    spec.write_text(
        """rule_files: [rules.yaml]
tests:
  - name: only android is slow
    input_series:
      - {series: 'api_latency{endpoint="POST /swaps", platform="android"}', values: '2500x5', counts: '6x5'}
      - {series: 'api_latency{endpoint="POST /swaps", platform="ios"}', values: '300x5', counts: '6x5'}
    alert_rule_test:
      - eval_time: 3m
        alertname: p95_by_platform
        exp_alerts: [{exp_labels: {endpoint: 'POST /swaps {platform="android"}'}}]
""",
        encoding="utf-8",
    )
    result = run(str(spec))
    assert result.returncode == 0, result.stdout + result.stderr
