"""`perfguard backtest` as a user runs it: a subprocess over a DuckDB store built in a temporary directory."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from perfguard.domain.metric import MetricType, Outcome, PerformanceMetric, Unit
from perfguard.runtime import DB_FILE
from tests.support.doubles import embedded_store

START = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
ROOT = Path(__file__).resolve().parents[1]


def minutes_of(value: float, first: dt.datetime, count: int, endpoint: str = "POST /swaps") -> list[PerformanceMetric]:
    """Twelve records of `value` ms in each of `count` minutes from `first`."""
    return [
        PerformanceMetric(
            f"{endpoint}-{first.isoformat()}-{m}-{i}",
            MetricType.API_LATENCY,
            endpoint,
            value,
            Unit.MS,
            None,
            int((first + m * MINUTE).timestamp() * 1e6) + i * 1000,
            {},
            Outcome.OK,
            "t",
            None,
            "t",
        )
        for m in range(count)
        for i in range(12)
    ]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """POST /swaps: 7 slow minutes, 2 fast, 4 slow (too short to fire), 3 fast, then slow to the range's end.
    GET /quotes: fast throughout; with as many records as POST /swaps it leaves the overall P95 slow."""
    folder = tmp_path_factory.mktemp("store")
    store = embedded_store(folder / DB_FILE)
    swaps = minutes_of(2600.0, START, 7) + minutes_of(300.0, START + 7 * MINUTE, 2)
    swaps += minutes_of(2600.0, START + 9 * MINUTE, 4) + minutes_of(300.0, START + 13 * MINUTE, 3)
    swaps += minutes_of(3100.0, START + 16 * MINUTE, 14)
    store.ingest_metrics(swaps + minutes_of(150.0, START, 30, "GET /quotes"), START)
    store.close()
    return folder


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "functions"), str(ROOT)])}
    env.pop("PERFGUARD_CONFIG", None)
    command = [sys.executable, "-m", "perfguard", "backtest", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)


def backtest_json(data_dir: Path, *args: str) -> dict[str, Any]:
    start, end = "2026-11-25T08:00:00Z", "2026-11-25T08:30:00Z"
    done = run("--start", start, "--end", end, "--data-dir", str(data_dir), "--json", *args)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_backtest_reports_each_episode_with_its_firing_and_resolution(data_dir: Path) -> None:
    result = backtest_json(data_dir, "--endpoint", "POST /swaps")
    episodes = [(e["fired_at"], e["resolved_at"], e["windows_breached"], e["peak_p95"]) for e in result["episodes"]]
    assert episodes == [
        ("2026-11-25T08:05:00Z", "2026-11-25T08:08:00Z", 7, 2600.0),
        ("2026-11-25T08:21:00Z", None, 14, 3100.0),
    ]
    summary = result["summary"]
    assert summary["episodes"] == 2 and summary["per_group"] == {"POST /swaps": 2}
    assert summary["firing_seconds"] == (3 + 9) * 60 and summary["firing_fraction"] == pytest.approx(12 / 30)


def test_the_rule_follows_the_flags(data_dir: Path) -> None:
    result = backtest_json(data_dir, "--endpoint", "POST /swaps", "--windows", "4", "--threshold-ms", "3000")
    assert result["rule"]["windows"] == 4 and result["rule"]["threshold_ms"] == 3000.0
    assert [(e["fired_at"], e["resolved_at"]) for e in result["episodes"]] == [("2026-11-25T08:20:00Z", None)]


def test_the_overall_group_is_replayed_too(data_dir: Path) -> None:
    groups = {e["group"] for e in backtest_json(data_dir)["episodes"]}
    assert groups == {"POST /swaps", "(all endpoints)"}


def test_the_table_ends_with_a_summary_line(data_dir: Path) -> None:
    done = run("--start", "2026-11-25T08:00:00Z", "--end", "2026-11-25T08:30:00Z", "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    assert "still firing" in done.stdout
    assert done.stdout.splitlines()[-1].startswith("would have fired 4 times on 2 endpoints, firing 40.0% of the time")


def test_an_end_before_the_start_is_an_error(data_dir: Path) -> None:
    done = run("--start", "2026-11-25T08:30:00Z", "--end", "2026-11-25T08:00:00Z", "--data-dir", str(data_dir))
    assert done.returncode == 2
    assert "--end (2026-11-25T08:00:00Z) must be after --start (2026-11-25T08:30:00Z)" in done.stderr


def test_a_missing_store_names_the_file_it_expected(tmp_path: Path) -> None:
    done = run("--start", "2026-11-25T08:00:00Z", "--end", "2026-11-25T09:00:00Z", "--data-dir", str(tmp_path))
    assert done.returncode == 2 and str(tmp_path / DB_FILE) in done.stderr
    assert not (tmp_path / DB_FILE).exists()


def test_a_range_over_a_day_reports_progress_per_day_on_stderr(data_dir: Path) -> None:
    done = run("--start", "2026-11-24T08:00:00Z", "--end", "2026-11-26T08:00:00Z", "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    assert "backtest: day 2/2 (2026-11-25) read" in done.stderr


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("yesterday", "2026-11-25T08:00:00Z", "--start: timestamp 'yesterday' is neither"),
        ("2026-08-01T00:00:00Z", "2026-11-25T00:00:00Z", "a backtest covers at most 90 days"),
        ("2026-11-25T08:00:10Z", "2026-11-25T08:00:50Z", "holds no whole minute"),
    ],
)
def test_bad_ranges_are_errors(data_dir: Path, start: str, end: str, message: str) -> None:
    done = run("--start", start, "--end", end, "--data-dir", str(data_dir))
    assert done.returncode == 2 and message in done.stderr, done.stderr
