"""The local stack as a process: clean shutdown, no acknowledged record lost to kill -9, the KPI figure."""

from __future__ import annotations

import datetime as dt
import random
import signal
from pathlib import Path

import numpy as np
import pytest

from tests.integration.conftest import start_stack, stop_stack
from tests.integration.traffic import record, unique

pytestmark = pytest.mark.stack


def test_ctrl_c_stops_the_stack_cleanly(tmp_path: Path) -> None:
    stack = start_stack(tmp_path)
    assert stack.call("get_kpi_status").status_code == 200
    assert stop_stack(stack, signal.SIGINT) == 0
    assert "stopping: finishing the deliveries in flight" in stack.output() and "shutting down" in stack.output()
    assert "Traceback" not in stack.output()


def test_sigterm_stops_the_stack_cleanly(tmp_path: Path) -> None:
    stack = start_stack(tmp_path)
    assert stop_stack(stack, signal.SIGTERM) == 0 and "shutting down" in stack.output()


def test_no_acknowledged_record_is_lost_when_killed_and_restarted(tmp_path: Path) -> None:
    stack = start_stack(tmp_path)
    endpoint = unique("GET /durable")
    now = dt.datetime.now(dt.UTC)
    acknowledged = 0
    for batch in range(20):
        records = [record(endpoint, float(i), now - dt.timedelta(seconds=i, milliseconds=batch)) for i in range(500)]
        response = stack.call("record_performance_metric", json={"metrics": records})
        assert response.status_code == 200
        acknowledged += response.json()["stored"]
    stop_stack(stack, signal.SIGKILL)
    restarted = start_stack(tmp_path)
    try:
        params = {
            "metric_type": "api_latency",
            "endpoint_or_operation": endpoint,
            "start": (now - dt.timedelta(hours=1)).isoformat(),
            "end": (now + dt.timedelta(minutes=1)).isoformat(),
            "limit": 10000,
        }
        metrics = restarted.call("get_performance_data", params=params).json()["metrics"]
        assert len(metrics) == acknowledged == 10_000
    finally:
        stop_stack(restarted)


def test_the_kpi_latency_is_the_p95_of_the_last_hour(tmp_path: Path) -> None:
    stack = start_stack(tmp_path)
    try:
        now = dt.datetime.now(dt.UTC)
        rng = random.Random(3)
        values = [round(rng.lognormvariate(6.5, 0.6), 3) for _ in range(400)]
        old = [record(unique("GET /old"), 99_999.0, now - dt.timedelta(hours=2))]  # outside the window
        recent = [record(unique("GET /kpi"), v, now - dt.timedelta(seconds=i * 5)) for i, v in enumerate(values)]
        assert stack.call("record_performance_metric", json={"metrics": old + recent}).json()["stored"] == 401
        latency = next(k for k in stack.call("get_kpi_status").json()["kpis"] if k["key"] == "api_latency_p95")
        expected = float(np.percentile(values, 95))
        assert latency["value"] == pytest.approx(expected, rel=1e-12) and latency["sample_size"] == 400
        assert latency["status"] == ("breach" if expected > 2000 else "at_risk" if expected > 1600 else "ok")
    finally:
        stop_stack(stack)
