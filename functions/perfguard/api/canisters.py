"""`poll_canisters`: read every configured canister, store its snapshot and derived rows, advise, and alert.

Each tick (every minute, topology.yaml) reads the canisters of `canisters_file` through the ICP agent and
the metrics gateway (perfguard.icp.collector: bounded in time and concurrency), then per canister:

* a `canister_snapshots` row, whatever the outcome (the history later polls derive from);
* the `performance_metrics` rows of the contract (perfguard.domain.canister_rows): a poll row per attempt,
  and balance, burn, runway and memory when the poll succeeded; the threshold rules read these;
* the derived figures (perfguard.domain.canister_report) over its stored history and the api_latency
  records of its methods; new recommendations and bottlenecks go to `canister_insights` (a standing one is
  written again only after INSIGHT_REPEAT);
* a cycles spike opens a `canister_cycles_spike` alert (anomaly_detected) through record_alert_changes, with
  the methods and deploys that explain it and the recommendations in its context; a poll without the spike
  resolves it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perfguard.api.alerting import record_alert_changes
from perfguard.bus.cloudevent import Message
from perfguard.domain.canister_config import CanisterConfig, parse_canisters
from perfguard.domain.canister_methods import CallRecord
from perfguard.domain.canister_report import Report, Snapshot, Windows, counters_of, report
from perfguard.domain.canister_rows import derived_rows, poll_row
from perfguard.errors import ConfigError
from perfguard.icp.collector import CanisterSource, IcpSource, Reading, collect, mapped, per_method
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from perfguard.warehouse.sql import load_query

log = logging.getLogger(__name__)
SNAPSHOTS, INSIGHTS = "canister_snapshots", "canister_insights"
SPIKE_RULE = "canister_cycles_spike"
POLLER = "canister_poller"
INSIGHT_REPEAT = dt.timedelta(hours=1)


@dataclasses.dataclass(frozen=True)
class PollSummary:
    """What one poll did: readings per outcome, reports per canister id, and alert changes."""

    readings: list[Reading]
    reports: dict[str, Report]
    alerts: list[dict[str, Any]]


def poll_canisters(
    runtime: Runtime, message: Message | None = None, source: CanisterSource | None = None
) -> PollSummary:
    """Poll every configured canister once and record what it gave."""
    del message  # any tick will do
    settings = runtime.settings
    configs = load_canisters(settings.canisters_file)
    if not configs:
        return PollSummary([], {}, [])
    now = runtime.clock()
    readings = collect(
        configs,
        source or icp_source(settings.icp_replica_url, settings.icp_identity_pem, settings.canister_poll_concurrency),
        settings.icp_metrics_url,
        settings.canister_poll_timeout_seconds,
        settings.canister_poll_concurrency,
    )
    reports = _derive_and_store(runtime, configs, readings, now)
    _record_insights(runtime, configs, reports, now)
    alerts = _spike_alerts(runtime, readings, reports, now)
    record_alert_changes(runtime, alerts)
    return PollSummary(readings, reports, alerts)


def _derive_and_store(
    runtime: Runtime, configs: Sequence[CanisterConfig], readings: Sequence[Reading], now: dt.datetime
) -> dict[str, Report]:
    """Store a snapshot and the contract's rows per reading; the report of each canister read."""
    windows = _windows(runtime.settings)
    ids = [c.canister_id for c in configs]
    history = _history(runtime, ids, now - windows.baseline - windows.spike, now)
    calls = _calls(runtime, ids, now - windows.burn, now)
    environment = runtime.settings.environment
    reports: dict[str, Report] = {}
    metrics, snapshots = [], []
    for reading in readings:
        canister_id, name = reading.config.canister_id, reading.config.name
        snapshot = _snapshot(reading, now)
        snapshots.append(_snapshot_row(reading, snapshot, now))
        metrics.append(poll_row(name, canister_id, now, reading.outcome, environment))
        if reading.status is None or snapshot is None:
            log.warning("canister %s (%s) not read: %s %s", name, canister_id, reading.outcome, reading.error)
            continue
        upgrade = mapped(reading.config, reading.page, "upgrade_instructions") if reading.page else None
        found = report(reading.config, reading.status, snapshot, history.get(canister_id, []),
                       calls.get(canister_id, []), windows, upgrade if isinstance(upgrade, int) else None)  # fmt: skip
        reports[canister_id] = found
        metrics.extend(derived_rows(name, canister_id, now, reading.status, found, environment))
    runtime.warehouse.append_rows(SNAPSHOTS, snapshots)
    runtime.warehouse.ingest_metrics(metrics, now)
    return reports


@functools.cache
def load_canisters(path: str) -> tuple[CanisterConfig, ...]:
    """The canisters of `path` (none when empty); read once per process (a bad file is a ConfigError)."""
    if not path:
        return ()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read canisters file {path}: {exc}") from exc
    return parse_canisters(text, path)


_sources: dict[tuple[str, str, int], IcpSource] = {}
_sources_lock = threading.Lock()


def icp_source(replica_url: str, identity_pem: str, concurrency: int) -> IcpSource:
    """One agent and connection pool per replica and identity, kept for the process's later polls."""
    with _sources_lock:
        key = (replica_url, identity_pem, concurrency)
        if key not in _sources:
            _sources[key] = IcpSource(replica_url, identity_pem, concurrency)
        return _sources[key]


def close_sources() -> None:
    """Close every kept agent and pool (tests, the demo and the benchmark, when their replica goes away)."""
    with _sources_lock:
        for source in _sources.values():
            source.close()
        _sources.clear()


def _windows(settings: Settings) -> Windows:
    return Windows(
        spike_factor=settings.canister_spike_factor,
        min_extra_per_day=settings.canister_spike_min_cycles_per_day,
        runway_target_days=settings.canister_runway_days,
    )


def _snapshot(reading: Reading, now: dt.datetime) -> Snapshot | None:
    status = reading.status
    if status is None:
        return None
    page = reading.page
    counters = (
        counters_of(
            per_method(reading.config, page, "method_calls"), per_method(reading.config, page, "method_instructions")
        )
        if page
        else {}
    )
    return Snapshot(now, status.cycles, status.idle_cycles_burned_per_day, status.module_hash, counters,
                    status.wasm_memory_size, status.stable_memory_size)  # fmt: skip


def _snapshot_row(reading: Reading, snapshot: Snapshot | None, now: dt.datetime) -> dict[str, Any]:
    status = reading.status
    upgrade = mapped(reading.config, reading.page, "upgrade_instructions") if reading.page else None
    return {
        "polled_at": now,
        "canister_id": reading.config.canister_id,
        "name": reading.config.name,
        "poll_status": reading.outcome,
        "error": reading.error,
        "cycles": status.cycles if status else None,
        "reserved_cycles": status.reserved_cycles if status else None,
        "idle_cycles_burned_per_day": status.idle_cycles_burned_per_day if status else None,
        "freezing_threshold": status.freezing_threshold if status else None,
        "memory_size": status.memory_size if status else None,
        "wasm_memory_size": status.wasm_memory_size if status else None,
        "stable_memory_size": status.stable_memory_size if status else None,
        "wasm_memory_limit": status.wasm_memory_limit if status else None,
        "module_hash": status.module_hash if status else None,
        "query_calls_total": status.query_calls_total if status else None,
        "query_instructions_total": status.query_instructions_total if status else None,
        "method_counters": json.dumps(snapshot.counters) if snapshot and snapshot.counters else None,
        "upgrade_instructions": upgrade if isinstance(upgrade, int) else None,
        "seconds": reading.seconds,
    }


def _history(runtime: Runtime, ids: Sequence[str], since: dt.datetime, until: dt.datetime) -> dict[str, list[Snapshot]]:
    rows = runtime.warehouse.query(
        load_query("canister_history"), {"since": since, "until": until, "canister_ids": list(ids)}
    )
    history: dict[str, list[Snapshot]] = {}
    for row in rows:
        counters = json.loads(row["method_counters"]) if row["method_counters"] else {}
        history.setdefault(row["canister_id"], []).append(
            Snapshot(
                row["polled_at"],
                int(row["cycles"]),
                _int(row["idle_cycles_burned_per_day"]),
                row["module_hash"],
                counters,
                _int(row["wasm_memory_size"]),
                _int(row["stable_memory_size"]),
            )  # fmt: skip
        )
    return history


def _calls(runtime: Runtime, ids: Sequence[str], start: dt.datetime, end: dt.datetime) -> dict[str, list[CallRecord]]:
    rows = runtime.warehouse.query(
        load_query("canister_calls"), {"start": start, "end": end, "canister_ids": list(ids)}
    )
    calls: dict[str, list[CallRecord]] = {}
    for row in rows:
        calls.setdefault(row["canister_id"], []).append(
            CallRecord(
                str(row["method"]),
                str(row["call_type"]),
                float(row["latency_ms"]),
                row["outcome"] == "ok",
                row["reject_code"],
                _digits(row["instructions"]),
                row["caller_canister"],
                row["callee_canister"],
            )  # fmt: skip
        )
    return calls


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _digits(value: Any) -> int | None:
    text = str(value) if value is not None else ""
    return int(text) if text.isascii() and text.isdigit() else None


def _record_insights(
    runtime: Runtime, configs: Sequence[CanisterConfig], reports: Mapping[str, Report], now: dt.datetime
) -> None:
    recent = {
        (r["canister_id"], r["rule"])
        for r in runtime.warehouse.query(load_query("canister_insights_recent"), {"since": now - INSIGHT_REPEAT})
    }
    names = {c.canister_id: c.name for c in configs}
    rows = []
    for canister_id, found in reports.items():
        for advice in found.advice:
            if (canister_id, advice.rule) not in recent:
                rows.append(_insight(canister_id, names[canister_id], "recommendation", advice.rule, advice.severity,
                                     advice.message, advice.evidence, now))  # fmt: skip
        for b in found.bottlenecks[:1]:
            if (canister_id, "bottleneck") not in recent:
                message = (
                    f"{b.method}: {b.time_share:.0%} of call time, {b.cycles_share:.0%} of cycles "
                    f"(P95 {b.p95_ms:.0f} ms)"
                )
                evidence = dataclasses.asdict(b)
                rows.append(
                    _insight(canister_id, names[canister_id], "bottleneck", "bottleneck", "low", message, evidence, now)
                )
    if rows:
        runtime.warehouse.append_rows(INSIGHTS, rows)


def _insight(
    canister_id: str,
    name: str,
    kind: str,
    rule: str,
    severity: str,
    message: str,
    evidence: Mapping[str, Any],
    now: dt.datetime,
) -> dict[str, Any]:
    return {
        "generated_at": now,
        "canister_id": canister_id,
        "name": name,
        "kind": kind,
        "rule": rule,
        "severity": severity,
        "message": message,
        "evidence": json.dumps(evidence, default=str),
    }


def _spike_alerts(
    runtime: Runtime, readings: Sequence[Reading], reports: Mapping[str, Report], now: dt.datetime
) -> list[dict[str, Any]]:
    """Open a spike alert per canister spiking without one; resolve the active ones of canisters read without."""
    known = runtime.warehouse.query(load_query("recent_alerts"), {"metric_type": "canister_cycles", "since": now})
    active = {
        row["endpoint_or_operation"]: row
        for row in known
        if row["rule"] == SPIKE_RULE and row["status"] in ("open", "investigating")
    }
    changes = []
    for reading in readings:
        name = reading.config.name
        found = reports.get(reading.config.canister_id)
        if found is None:
            continue  # not read: keep whatever state the alert has
        if found.spike is not None and name not in active:
            changes.append(_spike_row(reading.config, found, runtime.settings.canister_spike_factor, now))
            methods = ", ".join(f"{c.method} ({c.share:.0%} of the increase)" for c in found.culprits) or "unknown"
            log.warning("cycles spike on %s: %.2fT cycles/day, %.1fx its baseline; methods: %s", name,
                        found.spike.recent_per_day / 1e12, found.spike.factor, methods)  # fmt: skip
        elif found.spike is None and name in active:
            row = active[name]
            changes.append({**row, "status": "resolved", "resolved_at": now, "changed_at": now, "changed_by": POLLER})
    return changes


def _spike_row(config: CanisterConfig, found: Report, factor: float, now: dt.datetime) -> dict[str, Any]:
    spike = found.spike
    assert spike is not None
    context = {
        "statistic": "burn_per_day",
        "comparator": ">",
        "unit": "cycles/day",
        "canister_id": config.canister_id,
        "baseline_per_day": spike.baseline_per_day,
        "factor": round(spike.factor, 2),
        "methods": [dataclasses.asdict(c) for c in found.culprits],
        "deploys": [{"at": str(moment), "module_hash": module_hash} for moment, module_hash in found.deploys],
        "recommendations": [
            {"rule": a.rule, "severity": a.severity, "message": a.message, "evidence": a.evidence} for a in found.advice
        ],
        "bottlenecks": [dataclasses.asdict(b) for b in found.bottlenecks],
        # The burn between the last polls, as the alert message's table of windows shows them.
        "windows": [
            {"minute": moment.isoformat(), "burn_per_day": rate, "count": 1} for moment, rate in found.recent_burn
        ],
    }
    minute = now.replace(second=0, microsecond=0)
    return {
        "id": f"{SPIKE_RULE}:{config.canister_id}:{minute.strftime('%Y%m%dT%H%M')}",
        "alert_type": "anomaly_detected",
        "rule": SPIKE_RULE,
        "metric_type": "canister_cycles",
        "endpoint_or_operation": config.name,
        "current_value": float(spike.recent_per_day),
        "threshold_value": float(spike.baseline_per_day * factor),
        "severity": "high",
        "status": "open",
        "context": json.dumps(context, default=str),
        "triggered_at": now,
        "resolved_at": None,
        "changed_at": now,
        "changed_by": POLLER,
    }
