"""Shared by the benchmarks: the local stack in a subprocess, realistic api_latency records, figures.

The stack runs exactly as a user starts it (`python -m perfguard serve --port 0 --data-dir DIR`), so the
figures include waitress, functions-framework, the bus and the scheduler, not just the handler.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import requests

from perfguard.domain.metric import MetricType, PerformanceMetric, Unit, outcome_from_tags
from tests.support.stack_process import launch

API_KEY = "bench-admin-key-0123456789"
START_TIMEOUT_S = 60
SLOW_STOP_S = 10

# 50 endpoints of a marketplace backend, each with its own typical latency (ms): a realistic mix of
# fast reads, slower writes and a few slow canister calls.
_ROUTES = (
    "listings",
    "listings/{id}",
    "listings/search",
    "offers",
    "offers/{id}",
    "swaps",
    "swaps/{id}",
    "swaps/{id}/status",
    "users/{id}/profile",
    "wallet/balance",
)
_VERBS = ("GET", "POST", "PUT", "DELETE", "PATCH")
ENDPOINTS = tuple(f"{verb} /api/v1/{route}" for route in _ROUTES for verb in _VERBS)
_MEDIAN_MS = np.geomspace(10.0, 400.0, len(ENDPOINTS))
_SIGMA = 0.6  # lognormal shape: p99 is ~4x the median, as typical API latencies
_STATUS_CODES = np.array(["200", "201", "400", "404", "500", "504"])
_STATUS_WEIGHTS = np.array([0.90, 0.04, 0.02, 0.02, 0.015, 0.005])
_PLATFORMS = np.array(["android", "ios", "web"])
_REGIONS = np.array(["europe-west1", "us-central1", "asia-east1"])


@dataclass
class Stack:
    """A running `perfguard serve` process and where it listens."""

    process: subprocess.Popen[str]
    url: str
    data_dir: Path
    lines: list[str] = field(default_factory=list)

    def get(self, function: str, params: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
        """GET a function with the admin key; raises on an HTTP error."""
        response = requests.get(f"{self.url}/{function}", params=params, headers=auth_headers(), timeout=timeout)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


def auth_headers() -> dict[str, str]:
    """The Authorization header of the benchmark's admin key."""
    return {"Authorization": f"Bearer {API_KEY}"}


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    """A temporary directory, deleted afterwards even on error."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def running_stack(data_dir: Path) -> Iterator[Stack]:
    """The local stack on `data_dir`, stopped (SIGTERM, then kill) however the block ends."""
    stack = start_stack(data_dir)
    try:
        yield stack
    finally:
        stop_stack(stack)


def start_stack(data_dir: Path) -> Stack:
    """Start `perfguard serve --port 0` and wait for its 'serving on' line."""
    process, url, lines = launch(data_dir, {"PERFGUARD_API_KEY": API_KEY}, START_TIMEOUT_S)
    return Stack(process, url, data_dir, lines)


def stop_stack(stack: Stack, timeout: float = 60) -> None:
    """SIGTERM (a clean shutdown that checkpoints DuckDB), then SIGKILL if it hangs; says so when slow.

    Not SIGINT: a shell starts background jobs with SIGINT ignored, the stack inherits that, and then
    Python never turns SIGINT into KeyboardInterrupt; the stack handles SIGTERM itself.
    """
    started = time.perf_counter()
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGTERM)
        try:
            stack.process.wait(timeout)
        except subprocess.TimeoutExpired:
            stack.process.kill()
            stack.process.wait(10)
            print(f"  note: the stack did not stop within {timeout:.0f} s of SIGTERM and was killed")
    took = time.perf_counter() - started
    if took > SLOW_STOP_S:
        print(f"  note: the stack took {took:.1f} s to stop; its last lines:\n    " + "\n    ".join(stack.lines[-8:]))
    errors = [line for line in stack.lines if " ERROR " in line or "Traceback" in line]
    if errors:
        print(f"  note: the stack logged {len(errors)} error line(s); first: {errors[0]}")


@dataclass(frozen=True)
class Columns:
    """Generated api_latency records as columns (numpy), cheap to build by the million."""

    endpoint: np.ndarray  # index into ENDPOINTS
    value: np.ndarray  # ms
    timestamp_ns: np.ndarray  # int64, sorted ascending
    status_code: np.ndarray  # str
    platform: np.ndarray  # str
    region: np.ndarray  # str, "" when the record has only two tags
    id_prefix: str
    first_id: int

    def __len__(self) -> int:
        return len(self.value)

    def record_id(self, i: int) -> str:
        """The unique id of record i."""
        return f"{self.id_prefix}-{self.first_id + i:09d}"


def generate(
    count: int, start_ns: int, end_ns: int, rng: np.random.Generator, id_prefix: str, first_id: int = 0
) -> Columns:
    """`count` records with timestamps in [start_ns, end_ns), sorted by time; 2 or 3 tags each."""
    endpoint = rng.integers(0, len(ENDPOINTS), count)
    value = np.round(rng.lognormal(np.log(_MEDIAN_MS[endpoint]), _SIGMA), 3)
    stamps = np.sort(rng.integers(start_ns // 1000, end_ns // 1000, count)) * 1000  # microseconds, as stored
    status = _STATUS_CODES[rng.choice(len(_STATUS_CODES), count, p=_STATUS_WEIGHTS)]
    platform_ = _PLATFORMS[rng.integers(0, len(_PLATFORMS), count)]
    region = np.where(rng.random(count) < 0.5, _REGIONS[rng.integers(0, len(_REGIONS), count)], "")
    return Columns(endpoint, value, stamps, status, platform_, region, id_prefix, first_id)


def _tag_dicts(columns: Columns, picked: Sequence[int] | range) -> list[dict[str, str]]:
    # Plain Python lists first: indexing numpy string arrays one element at a time is ~10x slower.
    codes, platforms, regions = columns.status_code.tolist(), columns.platform.tolist(), columns.region.tolist()
    tags = []
    for i in picked:
        tag = {"status_code": codes[i], "platform": platforms[i]}
        if regions[i]:
            tag["region"] = regions[i]
        tags.append(tag)
    return tags


def as_records(columns: Columns, indices: Sequence[int] | range | None = None) -> list[dict[str, Any]]:
    """The records as the JSON objects a client sends to record_performance_metric."""
    picked = range(len(columns)) if indices is None else indices
    values, stamps, endpoints = columns.value.tolist(), columns.timestamp_ns.tolist(), columns.endpoint.tolist()
    return [
        {
            "id": columns.record_id(i),
            "metric_type": "api_latency",
            "endpoint_or_operation": ENDPOINTS[endpoints[i]],
            "value": values[i],
            "unit": "ms",
            "timestamp": stamps[i],
            "tags": tags,
            "source": "bench",
            "environment": "production",
        }
        for i, tags in zip(picked, _tag_dicts(columns, picked), strict=True)
    ]


def as_metrics(columns: Columns, indices: Sequence[int] | range | None = None) -> list[PerformanceMetric]:
    """The records as the PerformanceMetric objects validation makes of them, built directly (much faster)."""
    picked = range(len(columns)) if indices is None else indices
    values, stamps, endpoints = columns.value.tolist(), columns.timestamp_ns.tolist(), columns.endpoint.tolist()
    outcomes = {code: outcome_from_tags({"status_code": code}) for code in _STATUS_CODES.tolist()}
    return [
        PerformanceMetric(
            id=columns.record_id(i),
            metric_type=MetricType.API_LATENCY,
            endpoint_or_operation=ENDPOINTS[endpoints[i]],
            value=values[i],
            unit=Unit.MS,
            percentile=None,
            timestamp_us=stamps[i] // 1000,
            tags=tags,
            outcome=outcomes[tags["status_code"]],  # the only tag that decides it here
            source="bench",
            release=None,
            environment="production",
        )
        for i, tags in zip(picked, _tag_dicts(columns, picked), strict=True)
    ]


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """The nearest-rank q-quantile of an ascending sequence."""
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def machine() -> str:
    """One line naming where the figures were measured."""
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{today}; {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}); "
        f"Python {platform.python_version()}; load average {load}"
    )


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process, all its threads (Linux /proc); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime in clock ticks


def now_ns() -> int:
    """The wall clock in integer nanoseconds."""
    return time.time_ns()


def rfc3339(ns: int) -> str:
    """Integer nanoseconds as an RFC 3339 string (microsecond precision)."""
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ns // 1000)
    return moment.isoformat().replace("+00:00", "Z")
