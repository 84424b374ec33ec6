"""The one typed settings object, built once at start from a file and `PERFGUARD_*` variables.

Precedence: defaults < config file (YAML) < environment < explicit overrides (the CLI's flags).
An unknown key or a value of the wrong type is a `ConfigError` naming the key. Nothing else in perfguard
reads `os.environ`: the process entry points call `load_settings()` once and pass the result down.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from perfguard.errors import ConfigError

ENV_PREFIX = "PERFGUARD_"

DEFAULT_TAG_ALLOWLIST = (
    "status",
    "status_code",
    "http_method",
    "route",
    "service",
    "region",
    "host",
    "platform",
    "os_version",
    "app_version",
    "device_model",
    "network_type",
    "country",
    "release",
    "environment",
    "canister_id",
    "method",
    "call_type",
    "outcome",
    "reject_code",
    "instructions",
    "caller_canister",
    "callee_canister",
    "screen",
    "journey",
    "journey_id",
    "step",
    "variant",
    "experiment",
    "error_type",
    "trace_id",
    "measure",
    "event",
    "app",
)


def _setting(default: Any, help: str) -> Any:
    """A settings field with its help text (shown by `perfguard settings` and checked by a docs test)."""
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """Everything perfguard can be configured with; see `docs/configuration.md`."""

    warehouse: str = _setting("duckdb", "Warehouse adapter: duckdb (a file in data_dir) or bigquery.")
    bus: str = _setting("inprocess", "Bus adapter: inprocess (the local stack) or pubsub (Cloud Functions).")
    data_dir: str = _setting("data", "Directory of the DuckDB file and local state (embedded stack).")
    gcp_project: str = _setting("", "Google Cloud project id (bigquery / pubsub adapters).")
    bigquery_dataset: str = _setting("perfguard", "BigQuery dataset holding perfguard's tables.")
    bigquery_location: str = _setting("US", "BigQuery location of the dataset.")
    bigquery_endpoint: str = _setting("", "Override of the BigQuery API endpoint (an emulator in tests).")
    pubsub_emulator_host: str = _setting("", "host:port of a Pub/Sub emulator; empty uses Google Cloud Pub/Sub.")
    schemas_dir: str = _setting("", "Folder of the table schemas; empty finds bigquery_schemas/ beside the code.")
    environment: str = _setting("production", "Environment stored on records that do not name one.")
    api_key: str = _setting("", "One API key with every scope (local stack; PERFGUARD_API_KEY).")
    api_keys_file: str = _setting("", "YAML/JSON list of {name, key, scopes}; a Secret Manager mount in the cloud.")
    retention_days: int = _setting(90, "Days of data kept; older records are rejected at ingest.")
    max_batch_records: int = _setting(10_000, "Most records accepted in one ingest request.")
    max_body_bytes: int = _setting(10 * 1024 * 1024, "Largest ingest body in bytes (413 beyond).")
    max_future_skew_seconds: int = _setting(300, "How far in the future a timestamp may be.")
    max_tags: int = _setting(32, "Most tags on one record.")
    max_tag_chars: int = _setting(256, "Longest tag value, in characters.")
    tag_allowlist: tuple[str, ...] = _setting(
        DEFAULT_TAG_ALLOWLIST, "Tag keys kept; others are dropped with a warning. Empty keeps every key."
    )
    latency_threshold_ms: float = _setting(2000.0, "P95 API latency threshold (KPI and minimal threshold check).")
    threshold_windows: int = _setting(5, "Consecutive breaching one-minute windows before an alert fires.")
    threshold_min_samples: int = _setting(10, "Fewest records a one-minute window needs to count.")
    kpi_window_minutes: int = _setting(60, "Window of the KPI dashboard's latency figure.")
    exact_percentile_max_hours: int = _setting(24, "Longest range whose percentiles are computed exactly.")
    page_size: int = _setting(1000, "Default page size of get_performance_data (max 10000).")
    runbook_base_url: str = _setting("", "Where runbooks/ is browsable (e.g. a repository URL); empty links the path.")
    slack_bot_token: str = _setting("", "Slack bot token (xoxb-...): posts alerts and updates them when resolved.")
    slack_channel: str = _setting("", "Slack channel id or name for alerts (with the bot token).")
    slack_webhook_url: str = _setting("", "Slack incoming webhook URL, used when there is no bot token.")
    slack_signing_secret: str = _setting("", "Slack signing secret: verifies the alert buttons' requests.")
    slack_api_url: str = _setting("", "Override of https://slack.com/api/ (a local receiver in tests).")
    smtp_host: str = _setting("", "SMTP server for alert email; empty sends none.")
    smtp_port: int = _setting(587, "SMTP port.")
    smtp_starttls: str = _setting("yes", "Use STARTTLS with the SMTP server: yes or no.")
    smtp_username: str = _setting("", "SMTP user name, if the server needs one.")
    smtp_password: str = _setting("", "SMTP password (a Secret Manager secret in the cloud).")
    smtp_from: str = _setting("perfguard@localhost", "Sender address of alert email.")
    smtp_to: tuple[str, ...] = _setting((), "Recipients of alert email (comma-separated).")
    alert_webhook_urls: tuple[str, ...] = _setting((), "URLs that get every alert as Alertmanager webhook v4 JSON.")
    escalation_after_minutes: int = _setting(
        15, "Minutes an open alert may go unacknowledged before it escalates (level 1: mention and email)."
    )
    escalation_mention: str = _setting("", "Text put at the top of escalation messages, e.g. <!subteam^S0ONCALL>.")
    escalation_email_to: tuple[str, ...] = _setting(
        (), "Extra recipients of escalation email (comma-separated), besides smtp_to."
    )
    escalation_critical_immediately: str = _setting("yes", "Critical alerts escalate as soon as they open: yes or no.")
    inhibit_lower_severities: str = _setting(
        "yes", "Mute an alert while a more severe one of its endpoint is open or investigating: yes or no."
    )
    flap_threshold: int = _setting(
        4, "Openings of one rule and endpoint within flap_window_minutes that make it flapping; 0 turns it off."
    )
    flap_window_minutes: int = _setting(60, "Window in which flap_threshold openings mean an alert is flapping.")
    group_by: tuple[str, ...] = _setting(
        ("alertname",),
        "Alert labels (alertname, severity, endpoint, metric_type) whose values form a notification group.",
    )
    group_wait_seconds: int = _setting(
        30,
        "A new group's first notification waits this long for more alerts (sent at the next tick after); 0: at once.",
    )
    group_interval_seconds: int = _setting(
        300, "After a group's notification, its next changes wait this long and go out together; 0: at once."
    )
    repeat_interval_seconds: int = _setting(
        14400, "A group still firing with nothing new is notified again after this long; 0: never."
    )
    remediation_mode: str = _setting(
        "off", "Automated remediation: off, dry_run (decide and record, act on nothing) or on."
    )
    remediation_catalog_file: str = _setting(
        "", "YAML catalog of the allowed remediation actions; empty uses the packaged perfguard/remediation.yaml."
    )
    remediation_max_per_hour: int = _setting(6, "Most remediation actions run (or dry-run) in any hour, all actions.")
    remediation_webhook_url: str = _setting(
        "", "URL the webhook remediation actions post to; empty makes those actions unavailable."
    )
    rules_file: str = _setting("", "YAML file of the threshold rules; empty uses the packaged perfguard/rules.yaml.")
    canisters_file: str = _setting(
        "", "YAML file of the ICP canisters poll_canisters reads (docs/canisters.md); empty polls none."
    )
    icp_replica_url: str = _setting("https://icp-api.io", "ICP API boundary (or local replica) the agent calls.")
    icp_metrics_url: str = _setting(
        "https://{canister_id}.raw.icp0.io/metrics", "URL of a canister's Prometheus page; {canister_id} is filled in."
    )
    icp_identity_pem: str = _setting(
        "", "PEM of the identity the agent signs with (a controller, for canister_status); empty is anonymous."
    )
    canister_poll_timeout_seconds: float = _setting(5.0, "Timeout of each call to one canister (status, metrics).")
    canister_poll_concurrency: int = _setting(16, "Canisters read at the same time by one poll.")
    canister_spike_factor: float = _setting(3.0, "Burn above this many times the canister's baseline is a spike.")
    canister_spike_min_cycles_per_day: int = _setting(
        100_000_000_000, "Smallest burn increase (cycles/day) that counts as a spike."
    )
    canister_runway_days: float = _setting(30.0, "Runway (days) under which a canister gets top-up advice.")
    topup_wallet_canister: str = _setting(
        "", "Cycles wallet that funds top-ups (wallet_send128); empty makes the top-up action unavailable."
    )
    topup_amount_cycles: int = _setting(5_000_000_000_000, "Cycles one top-up sends.")
    topup_max_cycles_per_day: int = _setting(20_000_000_000_000, "Most cycles top-ups send in 24 hours, all canisters.")
    topup_max_per_canister_per_day: int = _setting(2, "Most top-ups of one canister in 24 hours.")
    firebase_project: str = _setting("", "Project of the Firebase export datasets; empty is gcp_project.")
    firebase_app_ids: tuple[str, ...] = _setting(
        ("com.example.market",), "App ids (package / bundle ids) whose Firebase exports are imported (comma-separated)."
    )
    firebase_crashlytics_dataset: str = _setting("firebase_crashlytics", "Dataset of the Crashlytics export.")
    firebase_sessions_dataset: str = _setting("firebase_sessions", "Dataset of the Firebase sessions export.")
    firebase_performance_dataset: str = _setting("firebase_performance", "Dataset of the Performance export.")
    firebase_analytics_dataset: str = _setting(
        "", "Dataset of the GA4 export (analytics_<property id>); empty imports no GA4 events."
    )
    crash_velocity_percent: float = _setting(
        1.0, "A crash cluster's share of sessions (%) in the velocity window that raises crash_cluster_velocity."
    )
    crash_velocity_min_users: int = _setting(25, "Fewest users a crash cluster must hit in the velocity window.")
    crash_velocity_window_minutes: int = _setting(30, "Window of the crash cluster velocity alert, in minutes.")
    swap_sla_minutes: int = _setting(30, "A swap journey succeeds when it completes within this many minutes.")

    def data_path(self) -> Path:
        """The data directory as a Path."""
        return Path(self.data_dir)


def settings_fields() -> list[dataclasses.Field[Any]]:
    """The fields of `Settings`, in declaration order."""
    return list(dataclasses.fields(Settings))


def load_settings(
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings from a YAML file, `PERFGUARD_*` variables and explicit overrides."""
    values: dict[str, Any] = {}
    if config_file:
        values.update(_read_config_file(Path(config_file)))
    values.update(_from_environ(environ or {}))
    values.update(overrides or {})
    return _build(values)


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} must hold a mapping of setting: value")
    return {str(key): value for key, value in loaded.items()}


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    known = {f.name for f in settings_fields()}
    values: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key not in known and key.endswith("_file") and key[: -len("_file")] in known:
            if f"{ENV_PREFIX}{key[: -len('_file')].upper()}" in environ:
                raise ConfigError(f"set either {name} or {name[: -len('_FILE')]}, not both")
            # PERFGUARD_<NAME>_FILE: the value is the content of a file (a Secret Manager volume), so secrets
            # never sit in plain environment variables.
            values[key[: -len("_file")]] = _read_secret_file(name, Path(value))
            continue
        if key not in known:
            raise ConfigError(f"unknown setting {name} in the environment (known: {', '.join(sorted(known))})")
        values[key] = value
    return values


def _read_secret_file(variable: str, path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{variable}: cannot read {path}: {exc}") from exc


def _build(values: Mapping[str, Any]) -> Settings:
    fields = {f.name: f for f in settings_fields()}
    converted: dict[str, Any] = {}
    for key, raw in values.items():
        if key not in fields:
            raise ConfigError(f"unknown setting '{key}' (known: {', '.join(sorted(fields))})")
        converted[key] = _convert(key, raw, fields[key].type)
    settings = Settings(**converted)
    _check(settings)
    return settings


def _convert(key: str, raw: Any, type_name: Any) -> Any:
    try:
        if type_name == "int":
            return _to_int(raw)
        if type_name == "float":
            return _to_float(raw)
        if type_name == "tuple[str, ...]":
            items = raw.split(",") if isinstance(raw, str) else list(raw)
            return tuple(str(item).strip() for item in items if str(item).strip())
        if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
            raise TypeError
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting '{key}' must be {type_name}, got {raw!r}") from exc


def _to_int(raw: Any) -> int:
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise ValueError(raw)
    return int(raw)


def _to_float(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError(raw)
    number = float(raw)
    if not math.isfinite(number):
        raise ValueError(raw)
    return number


def _check(settings: Settings) -> None:
    if settings.warehouse not in ("duckdb", "bigquery"):
        raise ConfigError(f"setting 'warehouse' must be duckdb or bigquery, got {settings.warehouse!r}")
    if settings.bus not in ("inprocess", "pubsub"):
        raise ConfigError(f"setting 'bus' must be inprocess or pubsub, got {settings.bus!r}")
    if (settings.warehouse == "bigquery" or settings.bus == "pubsub") and not settings.gcp_project:
        raise ConfigError("setting 'gcp_project' is required by the bigquery and pubsub adapters")
    for name in ("retention_days", "max_batch_records", "max_body_bytes", "threshold_windows", "page_size"):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"setting '{name}' must be positive, got {getattr(settings, name)}")
    if settings.smtp_host and not settings.smtp_to:
        raise ConfigError("setting 'smtp_host' is set but 'smtp_to' names no recipient")
    if settings.slack_bot_token and not (settings.slack_channel or settings.slack_webhook_url):
        raise ConfigError("setting 'slack_bot_token' needs 'slack_channel' (or use 'slack_webhook_url' alone)")
    if settings.smtp_starttls not in ("yes", "no"):
        raise ConfigError(f"setting 'smtp_starttls' must be yes or no, got {settings.smtp_starttls!r}")
    if settings.page_size > 10_000:
        raise ConfigError(f"setting 'page_size' must be at most 10000, got {settings.page_size}")
    _check_escalation(settings)
    _check_fatigue(settings)
    _check_remediation(settings)
    _check_canisters(settings)


def _check_escalation(settings: Settings) -> None:
    if settings.escalation_after_minutes <= 0:
        raise ConfigError(
            f"setting 'escalation_after_minutes' must be positive, got {settings.escalation_after_minutes}"
        )
    if settings.escalation_critical_immediately not in ("yes", "no"):
        value = settings.escalation_critical_immediately
        raise ConfigError(f"setting 'escalation_critical_immediately' must be yes or no, got {value!r}")


def _check_fatigue(settings: Settings) -> None:
    if settings.inhibit_lower_severities not in ("yes", "no"):
        value = settings.inhibit_lower_severities
        raise ConfigError(f"setting 'inhibit_lower_severities' must be yes or no, got {value!r}")
    if settings.flap_threshold < 0:
        raise ConfigError(f"setting 'flap_threshold' must be 0 (off) or more, got {settings.flap_threshold}")
    if settings.flap_window_minutes <= 0:
        raise ConfigError(f"setting 'flap_window_minutes' must be positive, got {settings.flap_window_minutes}")
    for name in ("group_wait_seconds", "group_interval_seconds", "repeat_interval_seconds"):
        if getattr(settings, name) < 0:
            raise ConfigError(f"setting '{name}' must be 0 (off) or more, got {getattr(settings, name)}")
    unknown = sorted(set(settings.group_by) - set(GROUP_LABELS))
    if unknown:
        raise ConfigError(f"setting 'group_by' names unknown labels {unknown} (known: {', '.join(GROUP_LABELS)})")


GROUP_LABELS = ("alertname", "severity", "endpoint", "metric_type")  # the labels of notify.message.alert_labels
REMEDIATION_MODES = ("off", "dry_run", "on")


def _check_remediation(settings: Settings) -> None:
    if settings.remediation_mode not in REMEDIATION_MODES:
        value = settings.remediation_mode
        raise ConfigError(f"setting 'remediation_mode' must be off, dry_run or on, got {value!r}")
    if settings.remediation_max_per_hour <= 0:
        # 0 would be a second, silent way of turning remediation off: remediation_mode says it explicitly.
        count = settings.remediation_max_per_hour
        raise ConfigError(
            f"setting 'remediation_max_per_hour' must be positive (use remediation_mode off), got {count}"
        )
    url = settings.remediation_webhook_url
    if url and not url.startswith(("https://", "http://")):
        raise ConfigError(f"setting 'remediation_webhook_url' must be an http(s):// URL, got {url!r}")


def _check_canisters(settings: Settings) -> None:
    for name in ("canister_poll_timeout_seconds", "canister_poll_concurrency", "canister_spike_factor",
                 "topup_amount_cycles", "topup_max_cycles_per_day", "topup_max_per_canister_per_day"):  # fmt: skip
        if getattr(settings, name) <= 0:
            raise ConfigError(f"setting '{name}' must be positive, got {getattr(settings, name)}")
    if "{canister_id}" not in settings.icp_metrics_url:
        raise ConfigError("setting 'icp_metrics_url' must contain {canister_id}")
