"""bigquery_schemas/ is the single source of the tables: checked, and mirrored exactly in DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from perfguard.errors import ConfigError
from perfguard.warehouse.schema import default_schemas_dir, duckdb_ddl, load_tables, partition_expiration_days
from tests.seed import SEED_ALERT_FIELDS, SEED_METRIC_FIELDS


def test_every_table_is_day_partitioned_on_a_timestamp_with_90_day_expiration() -> None:
    folder = default_schemas_dir()
    tables = load_tables(folder)
    assert {"performance_metrics", "performance_alerts", "metric_rollups_1m"} <= set(tables)
    assert partition_expiration_days(folder) == 90
    for table in tables.values():
        partition = next(c for c in table.columns if c.name == table.partition_field)
        assert partition.type == "TIMESTAMP" and partition.required, table.name
        assert table.clustering, f"{table.name} has no clustering"


def test_the_seed_records_have_all_their_fields() -> None:
    tables = load_tables(default_schemas_dir())
    assert set(tables["performance_metrics"].column_names()) >= SEED_METRIC_FIELDS
    assert set(tables["performance_alerts"].column_names()) >= SEED_ALERT_FIELDS


def test_duckdb_tables_have_the_same_columns_and_required_flags() -> None:
    connection = duckdb.connect()
    for table in load_tables(default_schemas_dir()).values():
        connection.execute(duckdb_ddl(table))
        described = connection.execute(f'DESCRIBE "{table.name}"').fetchall()
        assert [(row[0], row[2] == "NO") for row in described] == [(c.name, c.required) for c in table.columns]
    connection.close()


def test_a_schema_without_a_layout_entry_is_refused(tmp_path: Path) -> None:
    (tmp_path / "layout.yaml").write_text("partition_expiration_days: 90\ntables: {}\n")
    (tmp_path / "orphan.json").write_text('[{"name": "t", "type": "TIMESTAMP", "mode": "REQUIRED"}]')
    with pytest.raises(ConfigError, match="orphan.json has no entry under 'tables' in layout.yaml"):
        load_tables(tmp_path)


def test_a_partition_field_that_is_not_a_timestamp_is_refused(tmp_path: Path) -> None:
    (tmp_path / "layout.yaml").write_text("partition_expiration_days: 90\ntables: {t: {partition_field: n}}\n")
    (tmp_path / "t.json").write_text('[{"name": "n", "type": "INT64"}]')
    with pytest.raises(ConfigError, match="partition field 'n' must be a TIMESTAMP column"):
        load_tables(tmp_path)
