"""import_firebase end to end on the BigQuery code path (the local BigQuery emulator): the catalog from
INFORMATION_SCHEMA.COLUMNS, project-qualified export tables, the Performance export's _PARTITIONTIME filter;
the same generated exports imported on DuckDB must give the same rows."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.cloud import bigquery

from perfguard.api.auth import KeyRing
from perfguard.api.firebase_import import import_firebase
from perfguard.bus.memory import MemoryBus
from perfguard.firebase import performance
from perfguard.firebase.catalog import create_export_tables, insert_export_rows
from perfguard.firebase.exports import GA4, ExportTable, app_table_name, export_fields
from perfguard.firebase.generator import Generator, Profile, Spike
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from perfguard.warehouse.bigquery_warehouse import BigQueryWarehouse, make_client
from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse
from perfguard.warehouse.schema import default_schemas_dir, load_tables, load_views, partition_expiration_days
from tests.support.bigquery_emulator import bigquery_emulator

__all__ = ["bigquery_emulator"]
pytestmark = pytest.mark.emulator
SCHEMAS = default_schemas_dir()
NOW = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).replace(microsecond=0)
SUFFIX = uuid.uuid4().hex[:6]
DATASETS = {kind: f"{kind}_{SUFFIX}" for kind in ("crashlytics", "sessions", "performance", "ga4_events")}
PROFILE = Profile(
    users=60,
    sessions_per_hour=120,
    fatal_rate=0.1,
    anr_rate=0.05,
    nonfatal_rate=0.05,
    spike=Spike(NOW - dt.timedelta(minutes=50), rate=0.3),
)


def _settings(**extra: Any) -> Settings:
    return Settings(
        firebase_crashlytics_dataset=DATASETS["crashlytics"],
        firebase_sessions_dataset=DATASETS["sessions"],
        firebase_performance_dataset=DATASETS["performance"],
        firebase_analytics_dataset=DATASETS["ga4_events"],
        crash_velocity_min_users=2,
        **extra,
    )


def _table(kind: str, where: str) -> ExportTable:
    name = f"events_intraday_{where}" if kind == GA4 else app_table_name("com.example.market", where)
    return ExportTable(kind, DATASETS[kind], name, "com.example.market", "" if kind == GA4 else where)


@pytest.fixture(scope="module")
def runtimes(bigquery_emulator: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Runtime]]:
    endpoint, project = bigquery_emulator
    client = make_client(project, endpoint)
    tables = load_tables(SCHEMAS)
    dataset = f"perfguard_{SUFFIX}"
    views = load_views(SCHEMAS, f"`{project}.{dataset}`")
    emulated = BigQueryWarehouse(client, project, dataset, tables, views, partition_expiration_days(SCHEMAS))
    oracle = DuckDBWarehouse(Path(tmp_path_factory.mktemp("fbe")) / "o.duckdb", tables, load_views(SCHEMAS, "main"))
    for store in (emulated, oracle):
        store.ensure_tables()
    bq = Runtime(
        _settings(warehouse="bigquery", gcp_project=project), emulated, MemoryBus(), KeyRing([]), clock=lambda: NOW
    )
    duck = Runtime(_settings(), oracle, MemoryBus(), KeyRing([]), clock=lambda: NOW)
    exports = Generator(seed=21, profile=PROFILE).generate(NOW - dt.timedelta(hours=2), NOW)
    for name in DATASETS.values():
        client.create_dataset(f"{project}.{name}")
    for (kind, where), rows in exports.rows.items():
        table = _table(kind, where)
        _create_emulated(client, project, table)
        loaded = json.loads(json.dumps(rows, default=lambda o: o.isoformat()))
        for start in range(0, len(loaded), 500):
            assert not client.insert_rows_json(f"{project}.{table.dataset}.{table.name}", loaded[start : start + 500])
        create_export_tables(duck, [table])
        insert_export_rows(duck, table, rows)
    yield [bq, duck]
    emulated.close()
    oracle.close()


def _create_emulated(client: bigquery.Client, project: str, table: ExportTable) -> None:
    resource = bigquery.Table(
        f"{project}.{table.dataset}.{table.name}",
        schema=[bigquery.SchemaField.from_api_repr(field) for field in export_fields(table.kind)],
    )
    if table.kind == "performance":  # ingestion-time partitioned, as Firebase's Performance export
        resource.time_partitioning = bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.DAY)
    client.create_table(resource, exists_ok=True)


def _counts(runtime: Runtime) -> dict[str, Any]:
    sql = {
        "crash_events": "SELECT COUNT(*) AS n FROM crash_events",
        "clusters": "SELECT COUNT(DISTINCT cluster_id) AS n FROM crash_clusters",
        "metrics": "SELECT COUNT(*) AS n FROM performance_metrics",
        "sessions": "SELECT COUNT(*) AS n FROM performance_metrics WHERE metric_type = 'crash_rate'",
        "requests": "SELECT COUNT(*) AS n FROM performance_metrics WHERE source = 'firebase_performance'",
        "journeys": "SELECT COUNT(*) AS n FROM journey_events",
        "exposures": "SELECT COUNT(*) AS n FROM ab_exposures",
        "alerts": "SELECT COUNT(*) AS n FROM performance_alerts",
    }
    return {name: runtime.warehouse.query(query, {})[0]["n"] for name, query in sql.items()}


def test_the_bigquery_path_imports_what_duckdb_imports(
    runtimes: list[Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The emulator has no ingestion-time pseudo-columns; the filter's text is checked in test_performance.py.
    monkeypatch.setattr(performance, "PARTITION_FILTER", "")
    summaries = [import_firebase(runtime) for runtime in runtimes]
    emulated, duck = (_counts(runtime) for runtime in runtimes)
    assert emulated == duck
    assert min(duck.values()) > 0, duck
    assert sorted(summaries[0]["alerts"]) == sorted(summaries[1]["alerts"])
    assert summaries[0]["gauges"] == summaries[1]["gauges"]
    again = import_firebase(runtimes[0])
    assert (again["crash_events"], again["metrics"]) == (0, 0)
