"""Which export tables exist and which columns they have, asked at run time (real exports drift from the docs).

BigQuery answers from `<dataset>.INFORMATION_SCHEMA.COLUMNS`; DuckDB from `information_schema.columns`
of the schema named like the dataset. Creating and filling export tables is embedded-only (tests, demo).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from perfguard.errors import WarehouseError
from perfguard.firebase.arrow import arrow_schema
from perfguard.firebase.exports import ExportTable, create_table_sql, export_fields
from perfguard.runtime import Runtime

log = logging.getLogger(__name__)
Columns = dict[str, frozenset[str]]


def dataset_columns(runtime: Runtime, dataset: str) -> Columns:
    """Every table of a dataset with its top-level columns (empty when the dataset does not exist)."""
    if not dataset:
        return {}
    try:
        rows = runtime.warehouse.query(_columns_sql(runtime, dataset), {"dataset": dataset})
    except WarehouseError as exc:  # no such dataset (BigQuery: NotFound), or no access to it
        log.warning("cannot list the tables of the export dataset %s, skipped: %s", dataset, exc)
        return {}
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(str(row["table_name"]), set()).add(str(row["column_name"]))
    return {table: frozenset(columns) for table, columns in found.items()}


def _columns_sql(runtime: Runtime, dataset: str) -> str:
    if runtime.settings.warehouse == "bigquery":
        project = runtime.settings.firebase_project or runtime.settings.gcp_project
        return f"SELECT table_name, column_name FROM `{project}.{dataset}`.INFORMATION_SCHEMA.COLUMNS"
    # DuckDB's catalog function: sqlglot reads `information_schema.columns` as one BigQuery identifier.
    return "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = @dataset"


def create_export_tables(runtime: Runtime, tables: Iterable[ExportTable]) -> None:
    """Create export tables in the embedded warehouse (Firebase creates the real ones)."""
    for table in tables:
        runtime.warehouse.query(f"CREATE SCHEMA IF NOT EXISTS `{table.dataset}`", {})
        runtime.warehouse.query(create_table_sql(table), {})


def insert_export_rows(runtime: Runtime, table: ExportTable, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append rows (export-shaped dicts) to an embedded export table."""
    if not rows:
        return
    insert = getattr(runtime.warehouse, "insert_arrow", None)
    if insert is None:
        raise WarehouseError("only the embedded DuckDB warehouse fills Firebase export tables")
    data = pa.Table.from_pylist([dict(row) for row in rows], schema=arrow_schema(export_fields(table.kind)))
    insert(table.ref().replace("`", ""), data)
