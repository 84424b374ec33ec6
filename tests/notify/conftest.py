"""Alert events as the evaluator publishes them, and the runbook guidance the channels quote."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from perfguard.notify.port import AlertEvent
from perfguard.notify.retry import RetryPolicy
from perfguard.notify.runbook import Guidance, RunbookLibrary, default_runbooks_dir

TRIGGERED = dt.datetime(2026, 11, 25, 9, 5, tzinfo=dt.UTC)
WINDOWS = [
    {"minute": "2026-11-25T09:00:00+00:00", "p95": 2310.0, "count": 120},
    {"minute": "2026-11-25T09:01:00+00:00", "p95": 2420.5, "count": 118},
    {"minute": "2026-11-25T09:02:00+00:00", "p95": 2555.0, "count": 131},
    {"minute": "2026-11-25T09:03:00+00:00", "p95": 2498.0, "count": 99},
    {"minute": "2026-11-25T09:04:00+00:00", "p95": 2600.0, "count": 1204},
]
# Small delays so retry tests take fractions of a second (Retry-After still sets its own wait).
FAST = RetryPolicy(attempts=3, first_backoff=0.05, max_backoff=0.2, max_retry_after=5, deadline=10, timeout=5)


def alert_event(status: str = "open", **changes: Any) -> AlertEvent:
    """The evaluator's event for `POST /swaps` (as `from_message` reads it off the bus), in `status`."""
    closed = status in ("resolved", "false_positive")
    changed_at = TRIGGERED + (dt.timedelta(minutes=17) if status != "open" else dt.timedelta())
    data: dict[str, Any] = {
        "id": "alrt_0123456789abcdef0123",
        "alert_type": "threshold_exceeded",
        "rule": "p95_api_latency",
        "metric_type": "api_latency",
        "endpoint_or_operation": "POST /swaps",
        "current_value": 2600.0,
        "threshold_value": 2000.0,
        "severity": "high",
        "status": status,
        "triggered_at": TRIGGERED.isoformat(),
        "resolved_at": changed_at.isoformat() if closed else None,
        "changed_at": changed_at.isoformat(),
        "changed_by": "evaluator" if status in ("open", "resolved") else "U024BE7LH",
        "context": {
            "endpoint_or_operation": "POST /swaps",
            "rule": "p95_api_latency",
            "statistic": "p95",
            "threshold_ms": 2000.0,
            "consecutive_windows": 5,
            "min_samples": 10,
            "runbook": "runbooks/p95_api_latency.md",
            "windows": WINDOWS,
        },
    }
    data.update(changes)
    return AlertEvent.from_message(data)


@pytest.fixture(scope="session")
def library() -> RunbookLibrary:
    """The repository's runbooks, linked under an example repository URL."""
    return RunbookLibrary(default_runbooks_dir(), "https://git.example.com/perfguard/blob/main")


@pytest.fixture(scope="session")
def guidance(library: RunbookLibrary) -> Guidance:
    """The latency runbook's guidance."""
    return library.for_event(alert_event())
