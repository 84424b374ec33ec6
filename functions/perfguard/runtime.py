"""The process-wide runtime: settings, adapters and state, built once and handed to every handler.

Cloud Functions build it on the first request from the environment (`from_environment`); the local stack
builds it itself and `install`s it before serving, so both run the same handlers.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from perfguard.api.auth import ADMIN, KeyRing, key, load_keys_file
from perfguard.bus.port import Bus
from perfguard.domain.kpi import Kpi, default_kpis
from perfguard.domain.rules import find_rule, parse_rules, with_overrides
from perfguard.domain.thresholds import RULE, ThresholdRule
from perfguard.domain.validation import IngestLimits
from perfguard.errors import ConfigError
from perfguard.notify.port import Notifier
from perfguard.settings import Settings, load_settings
from perfguard.warehouse.port import Warehouse
from perfguard.warehouse.schema import Table, default_schemas_dir, load_tables, load_views


def utc_now() -> dt.datetime:
    """The wall clock, in UTC."""
    return dt.datetime.now(dt.UTC)


@dataclass
class EvaluationState:
    """When this instance last started an evaluation, to coalesce the ones a burst of batches triggers."""

    last_started: dt.datetime = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Runtime:
    """Everything a handler needs; tests build one with their own adapters and clock."""

    settings: Settings
    warehouse: Warehouse
    bus: Bus
    keys: KeyRing
    clock: Callable[[], dt.datetime] = utc_now
    evaluation: EvaluationState = field(default_factory=EvaluationState)
    notifiers: list[Notifier] | None = None  # None: built from the settings on first use
    rules: list[ThresholdRule] | None = None  # None: loaded from the settings on first use

    def channels(self) -> list[Notifier]:
        """The notification channels: the ones given, else those the settings configure."""
        if self.notifiers is None:
            from perfguard.notify.channels import notifiers_from_settings

            self.notifiers = notifiers_from_settings(self.settings)
            if not self.notifiers and self.settings.bus == "inprocess":
                from perfguard.notify.local_sink import LocalSinkNotifier

                self.notifiers = [LocalSinkNotifier(Path(self.settings.data_dir) / "notifications.jsonl")]
        return self.notifiers

    def ingest_limits(self) -> IngestLimits:
        """The record limits of the settings."""
        s = self.settings
        return IngestLimits(
            retention_days=s.retention_days,
            max_future_skew_seconds=s.max_future_skew_seconds,
            max_tags=s.max_tags,
            max_tag_chars=s.max_tag_chars,
            tag_allowlist=frozenset(s.tag_allowlist),
            default_environment=s.environment,
        )

    def threshold_rules(self) -> list[ThresholdRule]:
        """The threshold rules of the rules file, with the settings' overrides; loaded once."""
        if self.rules is None:
            self.rules = load_threshold_rules(self.settings)
        return self.rules

    def threshold_rule(self) -> ThresholdRule:
        """The rule named p95_api_latency (the latency check the settings override)."""
        return find_rule(self.threshold_rules(), RULE)

    def kpis(self) -> list[Kpi]:
        """The KPIs with the configured targets."""
        return default_kpis(self.settings.latency_threshold_ms)


PACKAGED_RULES = "perfguard/rules.yaml"
# Settings that, when changed from their defaults, override a field of the p95_api_latency rule.
RULE_OVERRIDES = {
    "latency_threshold_ms": "threshold",
    "threshold_windows": "windows",
    "threshold_min_samples": "min_samples",
}


def checked_files(settings: Settings) -> list[ThresholdRule]:
    """Read the rules, the remediation catalog (when remediation is on) and the canisters file at start, so a
    bad file stops the start rather than the first evaluation, alert or poll; the rules, for the runtime."""
    if settings.remediation_mode != "off":
        from perfguard.api.remediation import load_catalog

        load_catalog(settings.remediation_catalog_file)
    if settings.canisters_file:
        from perfguard.api.canisters import load_canisters

        load_canisters(settings.canisters_file)
    return load_threshold_rules(settings)


def load_threshold_rules(settings: Settings) -> list[ThresholdRule]:
    """The rules of `rules_file` (empty: the packaged rules.yaml); the settings latency_threshold_ms,
    threshold_windows and threshold_min_samples override p95_api_latency when they differ from their defaults."""
    if settings.rules_file:
        try:
            text = Path(settings.rules_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read rules file {settings.rules_file}: {exc}") from exc
        rules = parse_rules(text, settings.rules_file)
    else:
        rules = parse_rules(
            resources.files("perfguard").joinpath("rules.yaml").read_text(encoding="utf-8"), PACKAGED_RULES
        )
    defaults = Settings()
    changes: dict[str, Any] = {
        field: getattr(settings, name)
        for name, field in RULE_OVERRIDES.items()
        if getattr(settings, name) != getattr(defaults, name)
    }
    return with_overrides(rules, RULE, changes) if changes else rules


def key_ring(settings: Settings) -> KeyRing:
    """The API keys of the settings: PERFGUARD_API_KEY (every scope) and the keys file."""
    keys = [key("default", settings.api_key, [ADMIN])] if settings.api_key else []
    if settings.api_keys_file:
        keys.extend(load_keys_file(Path(settings.api_keys_file)))
    return KeyRing(keys)


def tables(settings: Settings) -> tuple[dict[str, Table], Path]:
    """The table schemas and the folder they came from."""
    folder = Path(settings.schemas_dir) if settings.schemas_dir else default_schemas_dir()
    return load_tables(folder), folder


DB_FILE = "perfguard.duckdb"


def make_warehouse(settings: Settings) -> Warehouse:
    """The warehouse adapter the settings name, with its tables."""
    schemas, folder = tables(settings)
    if settings.warehouse == "duckdb":
        from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse

        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
        return DuckDBWarehouse(Path(settings.data_dir) / DB_FILE, schemas, load_views(folder, "main"))
    from perfguard.warehouse.bigquery_warehouse import BigQueryWarehouse, make_client

    client = make_client(settings.gcp_project, settings.bigquery_endpoint)
    views = load_views(folder, f"`{settings.gcp_project}.{settings.bigquery_dataset}`")
    return BigQueryWarehouse(client, settings.gcp_project, settings.bigquery_dataset, schemas, views,
                             settings.retention_days)  # fmt: skip


def cloud_runtime(settings: Settings) -> Runtime:
    """The runtime of a Cloud Function: Pub/Sub and (normally) BigQuery, as deployed by Terraform."""
    if settings.bus != "pubsub":
        raise ConfigError("Cloud Functions publish through Pub/Sub: set PERFGUARD_BUS=pubsub (the in-process bus "
                          "exists only inside `perfguard serve`)")  # fmt: skip
    from perfguard.bus.pubsub_bus import make_pubsub_bus

    bus = make_pubsub_bus(settings.gcp_project, settings.pubsub_emulator_host or None)
    rules = checked_files(settings)
    return Runtime(settings, make_warehouse(settings), bus, key_ring(settings), rules=rules)


_current: Runtime | None = None
_current_lock = threading.Lock()


def install(runtime: Runtime | None) -> None:
    """Make `runtime` the one every handler of this process uses (the local stack and tests)."""
    global _current
    with _current_lock:
        _current = runtime


def current() -> Runtime:
    """The installed runtime; on Google Cloud, built on first use from the environment."""
    global _current
    with _current_lock:
        if _current is None:
            _current = from_environment()
        return _current


def from_environment() -> Runtime:
    """Settings from PERFGUARD_CONFIG (a file) and PERFGUARD_* variables: the Cloud Functions path."""
    settings = load_settings(
        os.environ.get("PERFGUARD_CONFIG"), {k: v for k, v in os.environ.items() if k != "PERFGUARD_CONFIG"}
    )
    return cloud_runtime(settings)
