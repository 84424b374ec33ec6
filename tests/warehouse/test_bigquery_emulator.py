"""BigQueryWarehouse with the real google-cloud-bigquery client against the local BigQuery emulator.

The same batches and alert rows go into the emulator and into a DuckDBWarehouse (the oracle); every query of
`perfguard/queries/` must then give the same numbers in both.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import pytest
from google.api_core import exceptions as api_exceptions
from google.cloud import bigquery

from perfguard.domain.metric import PerformanceMetric
from perfguard.domain.silences import Matcher, Silence, expired_row, silence_row
from perfguard.domain.thresholds import ThresholdRule
from perfguard.domain.validation import IngestLimits, parse_batch
from perfguard.errors import WarehouseError
from perfguard.warehouse.bigquery_warehouse import BigQueryWarehouse, make_client
from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse
from perfguard.warehouse.schema import default_schemas_dir, load_tables, load_views, partition_expiration_days
from perfguard.warehouse.sql import load_query
from perfguard.warehouse.window_stats import window_stats_query

pytestmark = pytest.mark.emulator

SCHEMAS = default_schemas_dir()
TABLES = load_tables(SCHEMAS)
REL_TOL = 1e-9
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# A whole hour of data, recent enough for the 90-day retention, ending before "now" (no future-skew rejections).
START = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
END = START + dt.timedelta(hours=1)
NOW = START + dt.timedelta(hours=2)
LATENCY_ENDPOINTS = ("/api/swap", "/api/listings", "canister:ledger.transfer")
JSON_COLUMNS = ("tags", "context", "matchers")
TAG_FILTER = "AND JSON_VALUE(tags, '$.status') = @tag_0"
# Every query of perfguard/queries/ this module runs on both stores (ingest_metrics through ingest_metrics()).
CHECKED_QUERIES = {
    "active_silences",
    "alert_by_id",
    "alert_history",
    "alert_notifications",
    "canister_calls",
    "canister_history",
    "canister_insights_recent",
    "canister_kpi",
    "current_alerts",
    "escalation_candidates",
    "incident_deploys",
    "incident_slices",
    # The firebase_* queries run on both stores in tests/firebase/test_emulator.py (export tables of their own).
    "firebase_cluster_breakdown",
    "firebase_cluster_history",
    "firebase_cluster_summary",
    "firebase_cluster_velocity",
    "firebase_crash_events",
    "firebase_crash_free",
    "firebase_crash_free_users",
    "firebase_ga4_activity",
    "firebase_ga4_exposures",
    "firebase_ga4_journeys",
    "firebase_ga4_sessions",
    "firebase_journey_steps",
    "firebase_latest_gauges",
    "firebase_metric_journeys",
    "firebase_mobile_vitals",
    "firebase_perf_events",
    "firebase_raised_alerts",
    "firebase_session_starts",
    "firebase_watermarks",
    "ingest_metrics",
    "minute_p95",
    "overall_p95",
    "performance_data",
    "recent_notifications",
    "recent_alerts",
    "remediation_history",
    "silence_by_id",
    "summary_exact",
    "summary_histogram",
    "unsent_changes",
    "topup_history",
    "window_counts",
    "window_stats",
}
# Types the BigQuery API reports under their legacy names.
LEGACY_TYPES = {"FLOAT": "FLOAT64", "INTEGER": "INT64", "BOOLEAN": "BOOL"}


@dataclass
class Stores:
    """The emulator-backed warehouse and the oracle, both holding the fixture data."""

    emulated: BigQueryWarehouse
    oracle: DuckDBWarehouse
    client: bigquery.Client
    dataset: str
    stored: dict[str, list[int]]


def _ns(at: dt.datetime) -> int:
    return (at - EPOCH) // dt.timedelta(microseconds=1) * 1000


def _latency_record(rng: random.Random, number: int) -> dict[str, Any]:
    status = rng.choices(["ok", "error", "timeout"], weights=[85, 10, 5])[0]
    return {
        "id": f"m-{number:05d}",
        "metric_type": "api_latency",
        "endpoint_or_operation": rng.choice(LATENCY_ENDPOINTS),
        "value": 0.0 if number == 7 else round(rng.lognormvariate(5.5, 0.7), 3),  # one zero: the zero bucket
        "unit": "ms",
        "percentile": 95 if number % 17 == 0 else None,
        "timestamp": _ns(START + dt.timedelta(microseconds=rng.randrange(3_600_000_000))),
        "tags": {"status": status, "platform": rng.choice(["android", "ios"])},
        "release": rng.choice(["1.4.0", "1.5.0", None]),
    }


def _memory_record(rng: random.Random, number: int) -> dict[str, Any]:
    return {
        "id": f"mem-{number:03d}",
        "metric_type": "memory_usage",
        "endpoint_or_operation": "canister:ledger",
        "value": float(rng.randrange(1 << 20, 1 << 30)),
        "unit": "bytes",
        "timestamp": _ns(START + dt.timedelta(seconds=90 * number)),
        "source": "canister_poller",
    }


def _parsed(records: Sequence[dict[str, Any]]) -> list[PerformanceMetric]:
    result = parse_batch(records, _ns(NOW), IngestLimits())
    assert not result.rejected, result.rejected
    return result.accepted


def _batches() -> list[list[PerformanceMetric]]:
    """Two latency batches (the second retries 10 records of the first), a memory batch, then the first again."""
    rng = random.Random(20261126)
    first = [_latency_record(rng, n) for n in range(300)]
    second = [_latency_record(rng, n) for n in range(300, 600)] + first[:10]
    memory = [_memory_record(rng, n) for n in range(40)]
    first_with_repeats = first + first[5:8]  # a record repeated within its own batch is stored once
    return [_parsed(first_with_repeats), _parsed(second), _parsed(memory), _parsed(first_with_repeats)]


def _alert(alert_id: str, status: str, minute: int, **overrides: Any) -> dict[str, Any]:
    changed_at = START + dt.timedelta(minutes=minute)
    row: dict[str, Any] = {
        "id": alert_id,
        "alert_type": "threshold_exceeded",
        "rule": "p95_latency",
        "metric_type": "api_latency",
        "endpoint_or_operation": "/api/swap",
        "current_value": 2412.5 + minute,
        "threshold_value": 2000.0,
        "severity": "high",
        "status": status,
        # Same keys in every row: the oracle's Arrow-based append adds null keys to differently shaped dicts.
        "context": {"p95_ms": 2412.5, "samples": 120 + minute, "window": "5m"},
        "triggered_at": START,
        "resolved_at": changed_at if status in ("resolved", "false_positive") else None,
        "changed_at": changed_at,
        "changed_by": "evaluator",
    }
    return row | overrides


ALERTS = [
    _alert("a-1", "open", 1),
    _alert("a-1", "investigating", 5, changed_by="slack:U123"),
    _alert("a-2", "open", 2),
    _alert("a-2", "resolved", 9),
    _alert("a-3", "open", 3, endpoint_or_operation=None, severity="critical"),
    _alert("a-4", "open", 4, metric_type="memory_usage", rule="memory_headroom"),
    _alert("a-5", "false_positive", 6, changed_by="api:oncall"),
]


@pytest.fixture(scope="module")
def stores(bigquery_emulator: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    """Both warehouses, created, with every batch ingested and the alert rows appended."""
    endpoint, project = bigquery_emulator
    dataset = f"perfguard_{uuid.uuid4().hex[:8]}"
    client = make_client(project, endpoint)
    views = load_views(SCHEMAS, f"`{project}.{dataset}`")
    emulated = BigQueryWarehouse(client, project, dataset, TABLES, views, partition_expiration_days(SCHEMAS))
    oracle = DuckDBWarehouse(tmp_path_factory.mktemp("oracle") / "oracle.duckdb", TABLES, load_views(SCHEMAS, "main"))
    stored: dict[str, list[int]] = {}
    for name, store in (("bigquery", emulated), ("duckdb", oracle)):
        store.ensure_tables()
        store.ensure_tables()  # a second run finds everything in place
        stored[name] = [store.ingest_metrics(batch, NOW) for batch in _batches()]
        store.append_rows("performance_alerts", ALERTS)
    yield Stores(emulated, oracle, client, f"{project}.{dataset}", stored)
    emulated.close()
    oracle.close()


def test_ensure_tables_creates_day_partitioned_clustered_tables(stores: Stores) -> None:
    for table in TABLES.values():
        meta = stores.client.get_table(f"{stores.dataset}.{table.name}")
        assert meta.time_partitioning.type_ == "DAY"
        assert meta.time_partitioning.field == table.partition_field
        assert meta.time_partitioning.expiration_ms == 90 * 86_400_000
        assert meta.clustering_fields == list(table.clustering)
        assert meta.description == table.description
        assert [_field(field) for field in meta.schema] == [
            (c.name, c.type, "REQUIRED" if c.required else "NULLABLE", c.description or None) for c in table.columns
        ]
    assert stores.client.get_table(f"{stores.dataset}.performance_alerts_current").table_type == "VIEW"


def _field(field: bigquery.SchemaField) -> tuple[str, str, str, str | None]:
    return field.name, LEGACY_TYPES.get(field.field_type, field.field_type), field.mode, field.description


def test_ingest_stores_each_id_once_and_a_resent_batch_stores_nothing(stores: Stores) -> None:
    assert stores.stored["bigquery"] == [300, 300, 40, 0]
    assert stores.stored["bigquery"] == stores.stored["duckdb"]
    counts = "SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS ids FROM performance_metrics"
    assert stores.emulated.query(counts, {}) == [{"n": 640, "ids": 640}]
    rollup = "SELECT SUM(count) AS n FROM metric_rollups_1m"
    assert stores.emulated.query(rollup, {}) == [{"n": 640}]
    leftovers = [t.table_id for t in stores.client.list_tables(stores.dataset) if t.table_id.startswith("staging")]
    assert leftovers == []


QUERY_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "summary_exact": ("summary_exact", {"endpoint_or_operation": None, "interval_us": 0}),
    "summary_exact_10min_one_endpoint": (
        "summary_exact",
        {"endpoint_or_operation": "/api/swap", "interval_us": 600_000_000},
    ),
    "minute_p95": ("minute_p95", {}),
    "incident_slices": ("incident_slices", {"endpoint": None}),
    "incident_slices_one_endpoint": ("incident_slices", {"endpoint": "/api/swap"}),
    "incident_deploys": ("incident_deploys", {"since": START - dt.timedelta(days=1)}),
    "overall_p95": ("overall_p95", {}),
    "overall_p95_memory": ("overall_p95", {"metric_type": "memory_usage"}),
}


@pytest.mark.parametrize("case", QUERY_CASES)
def test_query_gives_the_numbers_of_duckdb(stores: Stores, case: str) -> None:
    name, extra = QUERY_CASES[case]
    params = {"metric_type": "api_latency", "start": START, "end": END} | extra
    _assert_same(stores, load_query(name), params)


WINDOW_RULES = {
    "one_minute_p95": ThresholdRule(),
    "grouped_by_status_and_release": ThresholdRule(statistic="mean", group_by=("status", "release")),
    "five_minutes_matched_p99": ThresholdRule(
        statistic="p99", window=dt.timedelta(minutes=5), match=(Matcher("endpoint", "=~", "/api/.*"),)
    ),
    "five_minutes_matched_ratio": ThresholdRule(
        statistic="ratio",
        window=dt.timedelta(minutes=5),
        match=(Matcher("endpoint", "=~", "/api/.*"),),
        numerator=(Matcher("status", "!=", "ok"),),
        denominator=(Matcher("outcome", "!~", "timeout"),),
    ),
}


@pytest.mark.parametrize("case", WINDOW_RULES)
def test_window_stats_of_a_rule_give_the_numbers_of_duckdb(stores: Stores, case: str) -> None:
    sql, params = window_stats_query(WINDOW_RULES[case], START, END)
    _assert_same(stores, sql, params)


@pytest.mark.parametrize("name", ["unsent_changes", "recent_notifications"])
def test_notification_dispatch_queries_give_the_numbers_of_duckdb(stores: Stores, name: str) -> None:
    sent = {"alert_id": f"d-{name}", "channel": "slack", "alert_status": "open", "event_changed_at": START,
            "ok": True, "reference": "C1:9.9", "error": None, "attempted_at": START}  # fmt: skip
    for store in (stores.emulated, stores.oracle):
        store.append_rows("alert_notifications", [sent])
    _assert_same(stores, load_query(name), {"since": START - dt.timedelta(days=1)})


def test_summary_histogram_totals_match_duckdb(stores: Stores) -> None:
    for interval_us in (0, 900_000_000):
        params = {
            "metric_type": "api_latency",
            "start": START,
            "end": END,
            "endpoint_or_operation": None,
            "interval_us": interval_us,
        }
        sql = load_query("summary_histogram")
        emulated, oracle = _totals(stores.emulated.query(sql, params)), _totals(stores.oracle.query(sql, params))
        assert emulated.keys() == oracle.keys() and oracle
        for group, want in oracle.items():
            got = emulated[group]
            assert got["count"] == want["count"], group
            assert got["error_count"] == want["error_count"] and got["timeout_count"] == want["timeout_count"]
            assert math.isclose(got["sum"], want["sum"], rel_tol=REL_TOL), group
            assert (got["min"], got["max"]) == (want["min"], want["max"]), group


def _totals(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Per (endpoint_or_operation, bucket_start): counts and sum over the histogram buckets, min and max."""
    totals: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(
        lambda: {"count": 0, "sum": 0.0, "error_count": 0, "timeout_count": 0, "min": math.inf, "max": -math.inf}
    )
    for row in rows:
        group = totals[(row["endpoint_or_operation"], row["bucket_start"])]
        for column in ("count", "sum", "error_count", "timeout_count"):
            group[column] += row[column]
        group["min"], group["max"] = min(group["min"], row["min"]), max(group["max"], row["max"])
    return dict(totals)


@pytest.mark.parametrize("endpoint", [None, "/api/listings"])
def test_performance_data_with_a_tag_filter_pages_like_duckdb(stores: Stores, endpoint: str | None) -> None:
    sql = load_query("performance_data").replace("/*tag_filters*/", TAG_FILTER)
    params: dict[str, Any] = {
        "metric_type": "api_latency",
        "start": START,
        "end": END,
        "endpoint_or_operation": endpoint,
        "after_timestamp": START - dt.timedelta(microseconds=1),
        "after_id": "",
        "limit": 12,
        "tag_0": "error",
    }
    first = _assert_same(stores, sql, params)
    assert len(first) == 12 and all(json.loads(row["tags"])["status"] == "error" for row in first)
    last = first[-1]
    _assert_same(stores, sql, params | {"after_timestamp": last["timestamp"], "after_id": last["id"]})


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        (END, [("a-1", "investigating"), ("a-3", "open")]),
        (START, [("a-1", "investigating"), ("a-2", "resolved"), ("a-3", "open"), ("a-5", "false_positive")]),
    ],
    ids=["open_only", "all_triggered_since"],
)
def test_recent_alerts_after_append_rows_match_duckdb(
    stores: Stores, since: dt.datetime, expected: list[tuple[str, str]]
) -> None:
    rows = _assert_same(stores, load_query("recent_alerts"), {"metric_type": "api_latency", "since": since})
    assert [(row["id"], row["status"]) for row in rows] == expected
    assert json.loads(rows[0]["context"]) == ALERTS[1]["context"]


def test_append_rows_keeps_each_state_change_and_stores_a_resent_row_once(stores: Stores) -> None:
    # Its own alert (another metric type, so the golden checks above do not see it); both appends well within
    # the insertAll de-duplication window.
    rows = [
        _alert("dup-1", "open", 1, metric_type="crash_rate"),
        _alert("dup-1", "resolved", 2, metric_type="crash_rate"),
    ]
    stores.emulated.append_rows("performance_alerts", rows)
    stores.emulated.append_rows("performance_alerts", rows)
    count = "SELECT COUNT(*) AS n FROM performance_alerts WHERE id = @id"
    assert stores.emulated.query(count, {"id": "dup-1"}) == [{"n": 2}]


def test_every_query_has_a_golden_check_here() -> None:
    names = {path.name.removesuffix(".sql") for path in resources.files("perfguard.queries").iterdir()}
    assert names - {"__init__.py", "__pycache__"} == CHECKED_QUERIES


def test_delete_before_leaves_expiry_to_bigquery(stores: Stores) -> None:
    assert stores.emulated.delete_before("performance_metrics", NOW) == 0
    assert stores.emulated.query("SELECT COUNT(*) AS n FROM performance_metrics", {}) == [{"n": 640}]


def test_parameters_are_typed_from_python_values_and_only_used_ones_are_sent(stores: Stores) -> None:
    sql = "SELECT @flag AS flag, @n AS n, @x AS x, @at AS at, @nothing IS NULL AS is_null, ARRAY_LENGTH(@ids) AS ids"
    at = dt.datetime(2026, 11, 26, 12, 30, 15, 123456, tzinfo=dt.UTC)
    params = {"flag": True, "n": 7, "x": 0.25, "at": at, "nothing": None, "ids": ["a", "b"], "unused": object()}
    assert stores.emulated.query(sql, params) == [
        {"flag": True, "n": 7, "x": 0.25, "at": at, "is_null": True, "ids": 2}
    ]


def test_a_bigquery_error_becomes_a_warehouse_error_with_its_cause(stores: Stores) -> None:
    with pytest.raises(WarehouseError, match="query failed on BigQuery") as raised:
        stores.emulated.query("SELECT no_such_column FROM performance_metrics", {})
    assert isinstance(raised.value.__cause__, api_exceptions.BadRequest)


def _assert_same(stores: Stores, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Run on both; the rows must match (floats within REL_TOL, JSON text compared as values). Returns them."""
    emulated, oracle = stores.emulated.query(sql, params), stores.oracle.query(sql, params)
    assert oracle, "the oracle returned no rows: the check would prove nothing"
    assert len(emulated) == len(oracle)
    for got, want in zip(emulated, oracle, strict=True):
        assert got.keys() == want.keys()
        mismatched = {column: (got[column], want[column]) for column in want if not _same(column, got, want)}
        assert not mismatched, f"emulator vs DuckDB differ in {mismatched}; row {want}"
    return emulated


def _same(column: str, got: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    a, b = got[column], want[column]
    if column in JSON_COLUMNS and isinstance(a, str) and isinstance(b, str):
        return bool(json.loads(a) == json.loads(b))
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=REL_TOL)
    return bool(a == b)


@pytest.mark.parametrize(("alert_id", "status"), [("a-1", "investigating"), ("a-2", "resolved"), ("a-4", "open")])
def test_alert_by_id_after_append_rows_matches_duckdb(stores: Stores, alert_id: str, status: str) -> None:
    rows = _assert_same(stores, load_query("alert_by_id"), {"alert_id": alert_id})
    assert [(row["id"], row["status"]) for row in rows] == [(alert_id, status)]


def test_alert_by_id_finds_no_row_for_an_unknown_id(stores: Stores) -> None:
    for store in (stores.emulated, stores.oracle):
        assert store.query(load_query("alert_by_id"), {"alert_id": "no-such-alert"}) == []


# test_append_rows_... adds closed crash_rate alerts to the emulator only: the closed cases name a metric type.
@pytest.mark.parametrize(
    ("statuses", "metric_type", "limit", "expected"),
    [
        (["open", "investigating"], None, 100, [("a-1", "investigating"), ("a-3", "open"), ("a-4", "open")]),
        (["open", "investigating"], "api_latency", 100, [("a-1", "investigating"), ("a-3", "open")]),
        (["resolved", "false_positive"], "api_latency", 100, [("a-2", "resolved"), ("a-5", "false_positive")]),
        (
            ["open", "investigating", "resolved", "false_positive"],
            "api_latency",
            2,
            [("a-1", "investigating"), ("a-2", "resolved")],
        ),
    ],
    ids=["active", "active_of_one_metric_type", "closed", "limited"],
)
def test_current_alerts_after_append_rows_match_duckdb(
    stores: Stores, statuses: list[str], metric_type: str | None, limit: int, expected: list[tuple[str, str]]
) -> None:
    params = {"statuses": statuses, "metric_type": metric_type, "limit": limit}
    rows = _assert_same(stores, load_query("current_alerts"), params)
    assert [(row["id"], row["status"]) for row in rows] == expected


def test_alert_notifications_after_append_rows_match_duckdb(stores: Stores) -> None:
    rows = [
        {
            "alert_id": "n-1",
            "channel": channel,
            "alert_status": "open",
            "event_changed_at": START,
            "ok": ok,
            "reference": "C1:1.2" if ok else None,
            "error": None if ok else "HTTP 503",
            "attempted_at": START + dt.timedelta(seconds=seconds),
        }
        for seconds, (channel, ok) in enumerate([("slack", False), ("slack", True), ("email", True)])
    ]
    for store in (stores.emulated, stores.oracle):
        store.append_rows("alert_notifications", rows)
    found = _assert_same(stores, load_query("alert_notifications"), {"alert_id": "n-1", "since": START})
    assert [(row["channel"], row["ok"], row["reference"]) for row in found] == [
        ("slack", False, None),
        ("slack", True, "C1:1.2"),
        ("email", True, "C1:1.2"),
    ]


def _silence(silence_id: str, starts: int, ends: int, *matchers: Matcher) -> dict[str, Any]:
    """A silence created at START + `starts` minutes (when it starts), ending at START + `ends` minutes."""
    starts_at, ends_at = START + dt.timedelta(minutes=starts), START + dt.timedelta(minutes=ends)
    silence = Silence(silence_id, matchers, starts_at, ends_at, "api:ops", "deploy of the ledger")
    return silence_row(silence, starts_at, "api:ops")


@pytest.fixture(scope="module")
def silences(stores: Stores) -> Stores:
    """Four silences in both stores: s-1 expired early by a second row, s-2 active, s-3 pending, s-4 ended."""
    first = _silence("s-1", 1, 61, Matcher("endpoint", "=~", "POST /swaps.*"), Matcher("severity", "!=", "low"))
    rows = [
        first,
        expired_row(first, START + dt.timedelta(minutes=30), "api:oncall"),
        _silence("s-2", 2, 120, Matcher("alertname", "=", 'p95 "quoted" \\ rule')),
        _silence("s-3", 3, 180, Matcher("metric_type", "!~", "crash.*|memory_usage")),
        _silence("s-4", 5, 10, Matcher("endpoint", "=", "(all endpoints)")),
    ]
    for store in (stores.emulated, stores.oracle):
        store.append_rows("alert_silences", rows)
    return stores


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (START + dt.timedelta(minutes=20), ["s-1", "s-2", "s-3"]),
        (START + dt.timedelta(minutes=30), ["s-2", "s-3"]),
        (EPOCH, ["s-4", "s-1", "s-2", "s-3"]),  # get_silences?state=all
    ],
    ids=["s1_active", "s1_expired", "all_kept"],
)
def test_active_silences_after_append_rows_match_duckdb(silences: Stores, at: dt.datetime, expected: list[str]) -> None:
    rows = _assert_same(silences, load_query("active_silences"), {"at": at})
    assert [row["id"] for row in rows] == expected


def test_silence_by_id_after_append_rows_matches_duckdb(silences: Stores) -> None:
    rows = _assert_same(silences, load_query("silence_by_id"), {"id": "s-1"})
    assert [(row["ends_at"], row["changed_by"]) for row in rows] == [(START + dt.timedelta(minutes=30), "api:oncall")]
    assert json.loads(rows[0]["matchers"]) == [
        {"label": "endpoint", "op": "=~", "value": "POST /swaps.*"},
        {"label": "severity", "op": "!=", "value": "low"},
    ]
    for store in (silences.emulated, silences.oracle):
        assert store.query(load_query("silence_by_id"), {"id": "no-such-silence"}) == []


def test_escalation_candidates_after_append_rows_match_duckdb(stores: Stores) -> None:
    # The open alerts of the fixture are a-3 (critical) and a-4; a-3 gets an ok level-1 escalation after it
    # opened, a-4 a failed one (email took it) and an older ok one from before it opened, which does not count.
    attempts = [("a-3", 3, "slack,email", True), ("a-4", 3, "slack", True), ("a-4", 19, "email", False)]
    rows = [
        {
            "alert_id": alert_id,
            "level": 1,
            "escalated_at": START + dt.timedelta(minutes=minute),
            "channels": channels,
            "ok": ok,
            "error": None if ok else "slack: HTTP 503",
        }
        for alert_id, minute, channels, ok in attempts
    ]
    for store in (stores.emulated, stores.oracle):
        store.append_rows("alert_escalations", rows)
    found = _assert_same(stores, load_query("escalation_candidates"), {})
    assert [(row["id"], row["status"], row["delivered_channels"]) for row in found] == [("a-4", "open", "email")]


def test_remediation_history_after_append_rows_matches_duckdb(stores: Stores) -> None:
    # Acts at minutes 5 (before @since), 12 (failed, overall alert), 15 (skipped: left out) and 20 (dry run).
    acts = [("r-1", 5, "executed", "ok", "/api/swap"), ("r-2", 12, "executed", "failed", None)]
    acts += [("r-3", 15, "skipped", "skipped", "/api/swap"), ("r-4", 20, "dry_run", "skipped", "/api/swap")]
    rows = [
        {
            "alert_id": alert_id,
            "action": "scale_out_hint",
            "rule": "p95_api_latency",
            "endpoint_or_operation": endpoint,
            "mode": mode,
            "outcome": outcome,
            "detail": "cooldown" if mode == "skipped" else None,
            "acted_at": START + dt.timedelta(minutes=minute),
            "acted_by": "remediation",
        }
        for alert_id, minute, mode, outcome, endpoint in acts
    ]
    for store in (stores.emulated, stores.oracle):
        store.append_rows("remediation_actions", rows)
    found = _assert_same(stores, load_query("remediation_history"), {"since": START + dt.timedelta(minutes=10)})
    assert [(row["alert_id"], row["mode"], row["endpoint_or_operation"]) for row in found] == [
        ("r-2", "executed", None),
        ("r-4", "dry_run", "/api/swap"),
    ]


# Since minute 3: the rows of test_append_rows_... (emulator only, closed at minute 2) are not part of it.
@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        (
            "/api/swap",
            [
                ("a-1", "open"),  # opened before @since and still active then: its latest earlier change
                ("a-2", "open"),
                ("a-4", "open"),
                ("a-1", "investigating"),
                ("a-5", "false_positive"),
                ("a-2", "resolved"),
            ],
        ),
        (None, [("a-3", "open")]),
    ],
    ids=["one_endpoint", "overall"],
)
def test_alert_history_after_append_rows_matches_duckdb(
    stores: Stores, endpoint: str | None, expected: list[tuple[str, str]]
) -> None:
    params = {"endpoint": endpoint, "since": START + dt.timedelta(minutes=3)}
    rows = _assert_same(stores, load_query("alert_history"), params)
    assert [(row["id"], row["status"]) for row in rows] == expected
