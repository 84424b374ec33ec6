"""What the seed story names: the fields of its records and the KPIs of DESIGN.md, as tests expect them."""

from __future__ import annotations

SEED_METRIC_FIELDS = frozenset(
    {"id", "metric_type", "endpoint_or_operation", "value", "unit", "percentile", "timestamp", "tags", "source",
     "release", "environment"}
)  # fmt: skip
SEED_ALERT_FIELDS = frozenset(
    {"id", "alert_type", "metric_type", "current_value", "threshold_value", "severity", "context", "status",
     "triggered_at", "resolved_at"}
)  # fmt: skip
KPI_KEYS = (
    "api_latency_p95", "crash_free_sessions", "swap_success_rate", "swap_completion_median", "d1_retention",
    "retention_4w", "canister_cycles_runway", "canister_memory_headroom",
)  # fmt: skip
