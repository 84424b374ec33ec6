"""The Firebase import queries on the local BigQuery emulator against DuckDB (the oracle): the same export rows
(nested RECORD / REPEATED fields, in a dataset of their own) and perfguard rows go into both stores, and every
firebase_*.sql query must give the same rows on both (the golden numbers are in test_queries.py)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from google.cloud import bigquery

from perfguard.domain.metric import MetricType, Outcome, PerformanceMetric, Unit
from perfguard.firebase.arrow import arrow_schema
from perfguard.firebase.exports import (
    CRASHLYTICS,
    GA4,
    PERFORMANCE,
    SESSIONS,
    ExportTable,
    create_table_sql,
    export_fields,
)
from perfguard.firebase.templates import optional_column, render
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from perfguard.warehouse.bigquery_warehouse import BigQueryWarehouse, make_client
from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse
from perfguard.warehouse.schema import default_schemas_dir, load_tables, load_views, partition_expiration_days
from perfguard.warehouse.sql import load_query
from tests.firebase.conftest import T0
from tests.firebase.fixtures import CRASH_FIXTURE, GA4_FIXTURE, PERFORMANCE_FIXTURE
from tests.firebase.test_queries import CRASHES, DAY1, MIN
from tests.support.bigquery_emulator import bigquery_emulator

__all__ = ["bigquery_emulator"]
pytestmark = pytest.mark.emulator
SCHEMAS = default_schemas_dir()
EXPORTS = "firebase_x"  # the export dataset, in both stores
CRASH_TABLE = ExportTable(CRASHLYTICS, EXPORTS, "com_example_market_ANDROID", "com.example.market", "ANDROID")
SESSION_TABLE = ExportTable(SESSIONS, EXPORTS, "sessions_ANDROID", "com.example.market", "ANDROID")
GA4_TABLE = ExportTable(GA4, EXPORTS, "events_20261121")
PERF_TABLE = ExportTable(PERFORMANCE, EXPORTS, "perf_ANDROID", "com.example.market", "ANDROID")
WIDE = {"start": T0 - dt.timedelta(days=2), "end": T0 + dt.timedelta(days=2)}
GA4_PARAMS = {
    "start_us": 1795165800000000,
    "end_us": 1795300000000000,
    "apps": ["com.example.market"],
    "start": dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
    "end": dt.datetime(2026, 11, 22, tzinfo=dt.UTC),
    "now": T0,
}


@dataclass
class Pair:
    emulated: BigQueryWarehouse
    oracle: DuckDBWarehouse
    project: str

    def source(self, table: ExportTable, emulated: bool) -> str:
        return f"`{self.project}.{table.dataset}.{table.name}`" if emulated else table.ref()


def _json_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads(json.dumps(rows, default=lambda o: o.isoformat()))
    return loaded


def _session_rows() -> list[dict[str, Any]]:
    def row(session: str, instance: str, at: dt.datetime) -> dict[str, Any]:
        return {
            "session_id": session,
            "instance_id": instance,
            "event_type": "SESSION_START",
            "event_timestamp": at,
            "application": {"build_version": "1", "display_version": "v1"},
        }

    return [row("s1", "i1", T0 - 30 * MIN), row("s2", "i2", T0 - 25 * MIN), row("s3", "i1", T0 - 20 * MIN)]


def _ga4_rows() -> list[dict[str, Any]]:
    step = {
        "event_name": "swap_completed",
        "event_timestamp": 1795253600000000,
        "event_params": [
            {"key": "journey", "value": {"string_value": "swap"}},
            {"key": "journey_id", "value": {"string_value": "g1"}},
        ],
    }
    rows = [r for r in GA4_FIXTURE if r["event_date"] == "20261121"]
    session = {**rows[0], "event_name": "session_start", "event_timestamp": 1795253390000000}
    return rows + [{**rows[0], **step}, session]


def _gauge(name: str, value: float, minutes_ago: int) -> PerformanceMetric:
    at = T0 - minutes_ago * MIN
    return PerformanceMetric(
        f"kpi_{name}_{minutes_ago}",
        MetricType.USER_JOURNEY,
        f"kpi:{name}",
        value,
        Unit.PERCENTAGE,
        None,
        int(at.timestamp()) * 1_000_000,
        {"sample_size": "9"},
        Outcome.OK,
        "firebase_import",
        None,
        "production",
    )


def _fill(pair: Pair, client: bigquery.Client) -> None:
    from perfguard.firebase.sessions import session_metric

    exports = {
        CRASH_TABLE: [{**CRASH_FIXTURE[0], "event_timestamp": T0 - 7 * MIN}, CRASH_FIXTURE[1]],
        SESSION_TABLE: _session_rows(),
        GA4_TABLE: _ga4_rows(),
        PERF_TABLE: [{**r, "event_timestamp": T0 - (n + 1) * MIN} for n, r in enumerate(PERFORMANCE_FIXTURE)],
    }
    client.create_dataset(f"{pair.project}.{EXPORTS}")
    for table, rows in exports.items():
        named = ExportTable(table.kind, f"{pair.project}.{EXPORTS}", table.name)
        pair.emulated.query(create_table_sql(named), {})
        assert not client.insert_rows_json(f"{pair.project}.{EXPORTS}.{table.name}", _json_rows(rows))
        pair.oracle.query(f"CREATE SCHEMA IF NOT EXISTS `{EXPORTS}`", {})
        pair.oracle.query(create_table_sql(table), {})
        data = pa.Table.from_pylist(rows, schema=arrow_schema(export_fields(table.kind)))
        pair.oracle.insert_arrow(f"{EXPORTS}.{table.name}", data)
    runtime = Runtime(Settings(), pair.oracle, None, None)  # type: ignore[arg-type]  # only settings are read
    metrics = [
        session_metric(
            runtime, f"fb_session_{n}", "session_start", T0 - (20 + n) * MIN, "com.example.market", "ANDROID", "v1"
        )
        for n in range(4)
    ]
    metrics.append(session_metric(runtime, "fb_crash_d1", "fatal_crash", DAY1, "com.example.market", "ANDROID", "v2"))
    alert = {
        "id": "a1",
        "alert_type": "anomaly_detected",
        "rule": "crash_cluster_new",
        "metric_type": "crash_rate",
        "threshold_value": 0.0,
        "severity": "high",
        "status": "open",
        "triggered_at": T0,
        "changed_at": T0,
        "changed_by": "test",
    }
    state = {"source": "s", "watermark": T0 - 5 * MIN, "imported_at": T0 - 4 * MIN, "rows": 2}
    from tests.firebase.test_journeys import JOURNEYS, record

    metrics += [record("j5", "started", 80), record("j5", "completed", 60)]
    metrics += [_gauge("swap_success_rate", 91.0, 10), _gauge("swap_success_rate", 88.0, 5)]
    for store in (pair.emulated, pair.oracle):
        store.append_rows("journey_events", JOURNEYS)
        store.append_rows("crash_events", CRASHES)
        store.ingest_metrics(metrics, T0)
        store.append_rows("performance_alerts", [alert])
        store.append_rows("firebase_import_state", [state])


@pytest.fixture(scope="module")
def pair(bigquery_emulator: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    endpoint, project = bigquery_emulator
    dataset = f"perfguard_{uuid.uuid4().hex[:8]}"
    client = make_client(project, endpoint)
    tables = load_tables(SCHEMAS)
    views = load_views(SCHEMAS, f"`{project}.{dataset}`")
    emulated = BigQueryWarehouse(client, project, dataset, tables, views, partition_expiration_days(SCHEMAS))
    oracle = DuckDBWarehouse(Path(tmp_path_factory.mktemp("fb")) / "o.duckdb", tables, load_views(SCHEMAS, "main"))
    emulated.ensure_tables()
    oracle.ensure_tables()
    result = Pair(emulated, oracle, project)
    _fill(result, client)
    yield result
    emulated.close()
    oracle.close()


def _normal(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, str) and (value[:1] in "[{" or value == "null"):
        return json.loads(value)  # TO_JSON_STRING: BigQuery writes 'null' where DuckDB gives NULL
    return value


def _both(
    pair: Pair, name: str, params: dict[str, Any], table: ExportTable | None = None, **expressions: str
) -> list[dict[str, Any]]:
    results = []
    for emulated, store in ((True, pair.emulated), (False, pair.oracle)):
        sql = render(name, pair.source(table, emulated), expressions) if table else load_query(name)
        rows = [{k: _normal(v) for k, v in row.items()} for row in store.query(sql, params)]
        results.append(sorted(rows, key=lambda row: json.dumps(row, default=str, sort_keys=True)))
    assert results[0] == results[1]
    return results[0]


_RUNTIME = Runtime(Settings(), None, None, None)  # type: ignore[arg-type]  # records_of reads the settings only
CLUSTERS = {"since": T0 - dt.timedelta(days=1), "clusters": ["c1", "c2"]}


@pytest.mark.parametrize(
    ("name", "params", "rows"),
    [
        ("firebase_crash_free", {"start": DAY1 - MIN, "end": T0}, 2),
        ("firebase_cluster_velocity", {"start": T0 - 30 * MIN, "end": T0}, 1),
        ("firebase_cluster_summary", CLUSTERS, 2),
        ("firebase_cluster_history", {**CLUSTERS, "before": T0}, 2),
        ("firebase_raised_alerts", {"ids": ["a1", "a9"], "since": T0 - MIN}, 1),
        ("firebase_watermarks", {"since": T0 - dt.timedelta(days=1)}, 1),
        (
            "firebase_journey_steps",
            {"journey": "swap", "first_step": "started", "start": T0 - dt.timedelta(hours=2), "end": T0, "until": T0},
            7,
        ),
        ("firebase_latest_gauges", {"start": T0 - 30 * MIN, "end": T0}, 1),
    ],
)
def test_perfguard_side_queries_match_duckdb(pair: Pair, name: str, params: dict[str, Any], rows: int) -> None:
    assert len(_both(pair, name, params)) == rows


def test_cluster_breakdown_matches_duckdb(pair: Pair) -> None:
    assert len(_both(pair, "firebase_cluster_breakdown", CLUSTERS)) == 12  # 8 rows of c1, 4 of c2


def test_crash_events_of_the_nested_export_match_duckdb(pair: Pair) -> None:
    columns = frozenset(field["name"] for field in export_fields(CRASHLYTICS))
    rows = _both(
        pair,
        "firebase_crash_events",
        WIDE,
        CRASH_TABLE,
        issue_title=optional_column(columns, "e.{}", "issue_title"),
        error_title=optional_column(columns, "e.{}[SAFE_OFFSET(0)].title", "errors", "error"),
        error_frames=optional_column(columns, "TO_JSON_STRING(e.{}[SAFE_OFFSET(0)].frames)", "errors", "error"),
    )
    assert {r["event_id"] for r in rows} == {CRASH_FIXTURE[0]["event_id"], CRASH_FIXTURE[1]["event_id"]}


def test_sessions_of_the_export_match_duckdb(pair: Pair) -> None:
    assert len(_both(pair, "firebase_session_starts", WIDE, SESSION_TABLE)) == 3
    assert len(_both(pair, "firebase_crash_free_users", WIDE, SESSION_TABLE)) == 1


def test_metric_journeys_insert_the_same_rows(pair: Pair) -> None:
    params = {"start": T0 - dt.timedelta(hours=2), "end": T0, "now": T0}
    sql = "SELECT * EXCEPT (imported_at) FROM journey_events WHERE source = 'performance_metrics' ORDER BY id"
    for store in (pair.emulated, pair.oracle):
        store.query(load_query("firebase_metric_journeys"), params)
        store.query(load_query("firebase_metric_journeys"), params)
    emulated, oracle = pair.emulated.query(sql, {}), pair.oracle.query(sql, {})
    assert [{k: _normal(v) for k, v in r.items()} for r in emulated] == [
        {k: _normal(v) for k, v in r.items()} for r in oracle
    ]
    assert len(oracle) == 2


def test_ga4_queries_match_duckdb(pair: Pair) -> None:
    assert len(_both(pair, "firebase_ga4_sessions", GA4_PARAMS, GA4_TABLE)) == 2
    assert len(_both(pair, "firebase_ga4_activity", GA4_PARAMS, GA4_TABLE)) == 1
    for name in ("firebase_ga4_journeys", "firebase_ga4_exposures"):
        for store, emulated in ((pair.emulated, True), (pair.oracle, False)):
            store.query(render(name, pair.source(GA4_TABLE, emulated)), GA4_PARAMS)
            store.query(render(name, pair.source(GA4_TABLE, emulated)), GA4_PARAMS)  # a re-run adds nothing
    for table in ("journey_events", "ab_exposures"):
        where = "WHERE journey_id = 'g1'" if table == "journey_events" else ""
        sql = f"SELECT * EXCEPT (imported_at) FROM {table} {where} ORDER BY 1, 2, 3"
        got, expected = pair.emulated.query(sql, {}), pair.oracle.query(sql, {})
        assert [{k: _normal(v) for k, v in r.items()} for r in got] == [
            {k: _normal(v) for k, v in r.items()} for r in expected
        ]
        assert len(expected) == 1


def test_performance_rows_and_vitals_match_duckdb(pair: Pair) -> None:
    # The emulator's table is not ingestion-time partitioned, so no _PARTITIONTIME filter here.
    params = {**WIDE, "table": "t"}
    rows = _both(pair, "firebase_perf_events", params, PERF_TABLE, partition_filter="")
    assert len(rows) == 4  # the TRACE_METRIC row is left out
    from perfguard.firebase.performance import records_of

    records = [
        r
        for row in pair.oracle.query(render("firebase_perf_events", PERF_TABLE.ref(), {"partition_filter": ""}), params)
        for r in records_of(_RUNTIME, row, "ANDROID")
    ]
    for store in (pair.emulated, pair.oracle):
        store.ingest_metrics(records, T0)
    assert len(_both(pair, "firebase_mobile_vitals", {"start": T0 - dt.timedelta(hours=1), "end": T0})) == 5
