"""Test doubles and builders shared by the in-process tests: a real embedded store, a recording channel."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfguard.bus.cloudevent import Message
from perfguard.notify.port import AlertEvent, Delivery
from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse
from perfguard.warehouse.schema import default_schemas_dir, load_tables, load_views

# Notification group timers off: each alert event is delivered as it arrives. Tests of other notification
# behaviour use it; tests/api/test_grouping.py tests the timers.
IMMEDIATE: dict[str, Any] = {"group_wait_seconds": 0, "group_interval_seconds": 0, "repeat_interval_seconds": 0}


def embedded_store(path: Path) -> DuckDBWarehouse:
    """A DuckDB warehouse at `path` with every table and view of bigquery_schemas/ (a real store, not a mock)."""
    folder = default_schemas_dir()
    store = DuckDBWarehouse(path, load_tables(folder), load_views(folder, "main"))
    store.ensure_tables()
    return store


@dataclass
class RecordingNotifier:
    """A notification channel that records what it is given and fails its first `failures` sends.

    The real channels are tested against local Slack, SMTP and webhook servers in tests/notify/.
    """

    name: str
    failures: int = 0
    sent: list[tuple[AlertEvent, Delivery | None]] = field(default_factory=list)

    def send(self, event: AlertEvent, previous: Delivery | None) -> Delivery:
        """Record the event; answer like a channel whose message is `<name>-msg-<n>`."""
        self.sent.append((event, previous))
        if self.failures:
            self.failures -= 1
            return Delivery(self.name, False, error="HTTP 503")
        return Delivery(self.name, True, reference=f"{self.name}-msg-{len(self.sent)}")


def alert_message(status: str, changed_at: dt.datetime, triggered_at: str, **changes: Any) -> Message:
    """An alert state change as the evaluator publishes it: P95 2.6 s on POST /swaps, rule p95_api_latency."""
    data: dict[str, Any] = {
        "id": "alrt_1",
        "alert_type": "threshold_exceeded",
        "rule": "p95_api_latency",
        "metric_type": "api_latency",
        "endpoint_or_operation": "POST /swaps",
        "current_value": 2600.0,
        "threshold_value": 2000.0,
        "severity": "high",
        "status": status,
        "triggered_at": triggered_at,
        "resolved_at": None if status == "open" else changed_at.isoformat(),
        "changed_at": changed_at.isoformat(),
        "changed_by": "evaluator",
        "context": "{}",
    } | changes
    return Message(data, {"status": status}, "m", changed_at)
