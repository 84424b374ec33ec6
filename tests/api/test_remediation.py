"""remediate_alert over a real DuckDB store, with the capturing receiver as the webhook action's target:
off does nothing, dry_run records and posts nothing, on posts once and records it, a failing webhook is
recorded and not raised, a redelivery repeats nothing, and the rate limit holds across alerts."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfguard.api.auth import KeyRing
from perfguard.api.remediation import remediate_alert
from perfguard.bus.memory import MemoryBus
from perfguard.notify.retry import RetryPolicy
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse
from tests.support.doubles import alert_message, embedded_store
from tests.support.receiver import Receiver, receiver

T0 = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
FAST = RetryPolicy(attempts=2, first_backoff=0.01, max_backoff=0.01, deadline=2.0, timeout=2.0)
CATALOG = """
actions:
  scale_out_hint:
    type: webhook
    description: Hint the autoscaler.
    cooldown_minutes: 30
    on: {alert_type: threshold_exceeded, rule: p95_api_latency, severity: critical}
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    warehouse = embedded_store(tmp_path / "r.duckdb")
    yield warehouse
    warehouse.close()


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


def runtime_with(store: DuckDBWarehouse, tmp_path: Path, mode: str, url: str, **settings: Any) -> Runtime:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG, encoding="utf-8")
    config = Settings(
        remediation_mode=mode, remediation_catalog_file=str(catalog), remediation_webhook_url=url, **settings
    )
    return Runtime(config, store, MemoryBus(), KeyRing([]), clock=lambda: T0)


def opened(alert_id: str = "alrt_1", endpoint: str = "POST /swaps", severity: str = "critical") -> Any:
    return alert_message("open", T0, T0.isoformat(), id=alert_id, endpoint_or_operation=endpoint, severity=severity)


def audit(store: DuckDBWarehouse) -> list[tuple[Any, ...]]:
    sql = (
        "SELECT alert_id, action, mode, outcome, detail, acted_by FROM remediation_actions ORDER BY acted_at, alert_id"
    )
    return [tuple(row.values()) for row in store.query(sql, {})]


def test_off_does_nothing(store: DuckDBWarehouse, tmp_path: Path, hook: Receiver) -> None:
    runtime = runtime_with(store, tmp_path, "off", hook.url)
    assert remediate_alert(runtime, opened(), FAST) == []
    assert audit(store) == [] and hook.requests == []


def test_dry_run_records_and_posts_nothing(store: DuckDBWarehouse, tmp_path: Path, hook: Receiver) -> None:
    runtime = runtime_with(store, tmp_path, "dry_run", hook.url)
    remediate_alert(runtime, opened(), FAST)
    remediate_alert(runtime, opened(), FAST)  # a redelivery: already dry-run
    assert audit(store) == [("alrt_1", "scale_out_hint", "dry_run", "skipped", None, "remediation")]
    assert hook.requests == []


def test_on_posts_once_and_records_it(store: DuckDBWarehouse, tmp_path: Path, hook: Receiver) -> None:
    runtime = runtime_with(store, tmp_path, "on", hook.url + "/remediate")
    remediate_alert(runtime, opened(), FAST)
    remediate_alert(runtime, opened(), FAST)  # a redelivery
    assert audit(store) == [("alrt_1", "scale_out_hint", "executed", "ok", None, "remediation")]
    (request,) = hook.requests
    assert request.path == "/remediate" and request.headers["Content-Type"] == "application/json"
    body = json.loads(request.body)
    assert body["action"] == "scale_out_hint" and body["description"] == "Hint the autoscaler."
    assert body["alert"]["id"] == "alrt_1" and body["alert"]["severity"] == "critical"
    assert body["alert"]["endpoint_or_operation"] == "POST /swaps"


def test_events_the_catalog_does_not_bind_do_nothing(store: DuckDBWarehouse, tmp_path: Path, hook: Receiver) -> None:
    runtime = runtime_with(store, tmp_path, "on", hook.url)
    remediate_alert(runtime, opened(severity="high"), FAST)
    remediate_alert(runtime, alert_message("resolved", T0, T0.isoformat(), severity="critical"), FAST)
    assert audit(store) == [] and hook.requests == []


def test_a_failing_webhook_is_recorded_not_raised_and_not_repeated(
    store: DuckDBWarehouse, tmp_path: Path, hook: Receiver
) -> None:
    hook.script = [503, 503]
    runtime = runtime_with(store, tmp_path, "on", hook.url)
    rows = remediate_alert(runtime, opened(), FAST)
    assert [(r["mode"], r["outcome"], r["detail"]) for r in rows] == [
        ("executed", "failed", "HTTP 503 (after 2 attempts)")
    ]
    remediate_alert(runtime, opened(), FAST)  # at most once: a remediation is not retried behind people's backs
    assert len(hook.requests) == 2 and len(audit(store)) == 1


def test_without_a_webhook_url_the_action_is_unavailable(store: DuckDBWarehouse, tmp_path: Path) -> None:
    runtime = runtime_with(store, tmp_path, "on", "")
    remediate_alert(runtime, opened(), FAST)
    assert audit(store) == [("alrt_1", "scale_out_hint", "skipped", "skipped", "unavailable", "remediation")]


def test_cooldown_and_rate_limit_across_alerts(store: DuckDBWarehouse, tmp_path: Path, hook: Receiver) -> None:
    runtime = runtime_with(store, tmp_path, "on", hook.url, remediation_max_per_hour=2)
    remediate_alert(runtime, opened("a1", "GET /a"), FAST)
    remediate_alert(runtime, opened("a2", "GET /a"), FAST)  # same identity (rule, endpoint): cooling down
    remediate_alert(runtime, opened("a3", "GET /b"), FAST)
    remediate_alert(runtime, opened("a4", "GET /c"), FAST)  # the third act within the hour
    assert [(row[0], row[2], row[4]) for row in audit(store)] == [
        ("a1", "executed", None),
        ("a2", "skipped", "cooldown"),
        ("a3", "executed", None),
        ("a4", "skipped", "rate limit"),
    ]
    assert len(hook.requests) == 2
