"""`perfguard demo` (the README's run command): live traffic, and the degraded endpoint's alert opens."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.stack


def test_the_demo_marketplace_raises_the_latency_alert_and_stops_by_itself(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFGUARD_")}
    command = [sys.executable, "-m", "perfguard", "demo", "--port", "0", "--data-dir", str(tmp_path), "--duration", "8"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "alert open: p95_api_latency POST /swaps" in output, output[-3000:]
    assert "alert open: p95_api_latency GET /listings" not in output
    assert "NOTIFY HIGH open: p95_api_latency on POST /swaps" in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
