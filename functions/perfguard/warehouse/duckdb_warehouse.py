"""The embedded warehouse: one DuckDB file with the same tables and queries as BigQuery.

One writer at a time (a lock around a dedicated cursor, as datasette's single write thread), reads on
their own cursors. A write is acknowledged only after DuckDB commits it to its write-ahead log, so a
killed process loses nothing it acknowledged.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from perfguard.domain.metric import PerformanceMetric
from perfguard.errors import WarehouseError
from perfguard.warehouse.schema import Table, duckdb_ddl
from perfguard.warehouse.sql import load_query, to_duckdb
from perfguard.warehouse.staging import STAGING_TABLE, staging_columns, timestamp_range

log = logging.getLogger(__name__)

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_ARROW_TYPES = {
    "timestamp": pa.timestamp("us", tz="UTC"),
    "ingested_at": pa.timestamp("us", tz="UTC"),
    "value": pa.float64(),
    "percentile": pa.float64(),
    "bucket": pa.int64(),
}


ARROW_ROWS = "arrow_rows"  # the name an Arrow table being inserted is registered under


class DuckDBWarehouse:
    """The warehouse port on a DuckDB file (or `:memory:`)."""

    def __init__(self, path: Path | str, tables: Mapping[str, Table], views: Mapping[str, str]) -> None:
        try:
            self._db = duckdb.connect(str(path))
            # Set after connecting: a TimeZone in the connect config makes DuckDB try to download icu.
            self._db.execute("SET GLOBAL TimeZone = 'UTC'")
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open the DuckDB file {path}: {exc}") from exc
        self._tables = dict(tables)
        self._views = dict(views)
        self._write_lock = threading.Lock()
        self._writer = self._db.cursor()

    def ensure_tables(self) -> None:
        """Create missing tables and (re)create the views."""
        with self._write_lock:
            for table in self._tables.values():
                self._writer.execute(duckdb_ddl(table))
            for name, sql in self._views.items():
                body = "; ".join(to_duckdb(sql))
                self._writer.execute(f'CREATE OR REPLACE VIEW "{name}" AS {body}')

    def query(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Run BigQuery SQL translated to DuckDB on a read cursor."""
        cursor = self._db.cursor()
        try:
            return _run(cursor, to_duckdb(sql), params)
        except duckdb.Error as exc:
            raise WarehouseError(f"query failed on DuckDB: {exc}") from exc
        finally:
            cursor.close()

    def ingest_metrics(self, metrics: Sequence[PerformanceMetric], ingested_at: dt.datetime) -> int:
        """Stage the batch as an Arrow table and run `ingest_metrics.sql` in one transaction."""
        if not metrics:
            return 0
        staged = _arrow(staging_columns(metrics, ingested_at))
        low, high = timestamp_range(metrics)
        params = {"min_timestamp": low, "max_timestamp": high}
        with self._write_lock:
            self._writer.register(STAGING_TABLE, staged)
            try:
                self._writer.execute("BEGIN TRANSACTION")
                rows = _run(self._writer, to_duckdb(load_query("ingest_metrics")), params)
                self._writer.execute("COMMIT")
            except duckdb.Error as exc:
                self._writer.execute("ROLLBACK")
                raise WarehouseError(f"storing {len(metrics)} metrics failed: {exc}") from exc
            finally:
                self._writer.unregister(STAGING_TABLE)
        return int(rows[0]["stored"])

    def append_rows(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append rows through an Arrow table (columns missing from a row are NULL)."""
        if not rows:
            return
        spec = self._table(table)
        names = [name for name in spec.column_names() if any(name in row for row in rows)]
        data = pa.Table.from_pylist([{name: _cell(row.get(name)) for name in names} for row in rows])
        columns = ", ".join(f'"{name}"' for name in names)
        sql = f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM {ARROW_ROWS}'
        self._insert(data, sql, f"appending {len(rows)} rows to {table}")

    def insert_arrow(self, table_ref: str, data: pa.Table) -> None:
        """Insert an Arrow table (nested columns included) into any table, matching columns by name; for the
        Firebase export tables the embedded stack fills itself (`schema.table`, not perfguard's own)."""
        sql = f"INSERT INTO {table_ref} BY NAME SELECT * FROM {ARROW_ROWS}"
        self._insert(data, sql, f"inserting {data.num_rows} rows into {table_ref}")

    def _insert(self, data: pa.Table, sql: str, what: str) -> None:
        """Run `sql` (an INSERT reading ARROW_ROWS) with `data` registered under that name."""
        with self._write_lock:
            self._writer.register(ARROW_ROWS, data)
            try:
                self._writer.execute(sql)
            except duckdb.Error as exc:
                raise WarehouseError(f"{what} failed: {exc}") from exc
            finally:
                self._writer.unregister(ARROW_ROWS)

    def delete_before(self, table: str, cutoff: dt.datetime) -> int:
        """Delete rows whose partition field is before `cutoff` (DuckDB has no partition expiration)."""
        field = self._table(table).partition_field
        with self._write_lock:
            try:
                deleted = self._writer.execute(f'DELETE FROM "{table}" WHERE "{field}" < $cutoff', {"cutoff": cutoff})
                count = deleted.fetchone()
            except duckdb.Error as exc:
                raise WarehouseError(f"deleting old rows of {table} failed: {exc}") from exc
        return int(count[0]) if count else 0

    def close(self) -> None:
        """Checkpoint and close the file."""
        with self._write_lock:
            self._writer.close()
            self._db.close()

    def _table(self, name: str) -> Table:
        if name not in self._tables:
            raise WarehouseError(f"no table named {name!r}")
        return self._tables[name]


def _run(
    cursor: duckdb.DuckDBPyConnection, statements: Sequence[str], params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for statement in statements:
        used = {name: params[name] for name in _PARAM.findall(statement) if name in params}
        result = cursor.execute(statement, used)
        if result.description:
            names = [column[0] for column in result.description]
            rows = [dict(zip(names, values, strict=True)) for values in result.fetchall()]
    return rows


def _cell(value: Any) -> Any:
    # Arrow would merge dicts of different keys into one struct (adding null keys): store JSON text instead.
    return json.dumps(value, separators=(",", ":")) if isinstance(value, (dict, list)) else value


def _arrow(columns: Mapping[str, list[Any]]) -> pa.Table:
    arrays = {name: pa.array(values, type=_ARROW_TYPES.get(name)) for name, values in columns.items()}
    return pa.table(arrays)
