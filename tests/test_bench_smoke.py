"""`python -m bench --quick` runs every benchmark end to end and prints its figure lines (no timing checks)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 240  # the quick run takes well under a minute of work; headroom for a shared, noisy machine


@pytest.mark.stack
def test_quick_run_prints_every_figure() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFGUARD_")}
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    for line in (
        "RESULT ingest clients=1:",
        "RESULT ingest clients=2:",
        "RESULT summary (a) 24 h",
        "RESULT summary (b) last 1 h",
        "RESULT summary (c) 7 days",
        "RESULT summary (d) 24 h by 1 h",
        "RESULT rules shared: 100 rules",
        "RESULT rules distinct: 100 rules",
        "RESULT rules packaged:",
        "parity: ",
        "RESULT canisters poll 100 x 100 ms",
        "RESULT canisters parse /metrics",
        "RESULT firebase import one day:",
        "RESULT scan firebase_ga4_journeys",
    ):
        assert line in output, f"missing {line!r} in:\n{output[-3000:]}"
    if (ROOT / "bench" / "bench_client.py").exists():
        assert "record() median" in output, output[-3000:]
    # Correctness of what was measured, not speed: every acknowledged record is counted back.
    assert output.count("failed requests 0: OK") == 2, output[-3000:]
    assert "counting 200,000 records: OK" in output, output[-3000:]
    assert " 0 of 100 canisters had an error" in output, output[-3000:]
    assert "RESULT firebase re-import: " in output and " 0 new metrics, 0 new crash events" in output
