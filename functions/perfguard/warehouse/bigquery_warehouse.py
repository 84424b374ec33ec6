"""The warehouse port on BigQuery, through the official google-cloud-bigquery client.

Queries are sent as written in `perfguard/queries/` (no translation), with the dataset as the job's default
dataset so their unqualified table names resolve. An ingest batch is loaded into its own short-lived staging
table by a load job, then `ingest_metrics.sql` runs against it as one multi-statement transaction.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import functools
import json
import logging
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from google.cloud.bigquery.enums import AutoRowIDs
from sqlglot import Dialect, TokenType

from perfguard.domain.metric import PerformanceMetric
from perfguard.errors import WarehouseError
from perfguard.warehouse.schema import Column, Table
from perfguard.warehouse.sql import load_query
from perfguard.warehouse.staging import STAGING_TABLE, staging_columns, timestamp_range

log = logging.getLogger(__name__)

QueryParameter = bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter

_MS_PER_DAY = 86_400_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# `@name` but not `@@system_variable` nor the middle of `user@example.com`.
_PARAM = re.compile(r"(?<![@\w])@([A-Za-z_][A-Za-z0-9_]*)")
_STAGING_NAME = re.compile(rf"\b{STAGING_TABLE}\b")
# Ordered: bool before int (bool is an int), datetime before date (a datetime is a date).
_PARAM_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "BOOL"),
    (int, "INT64"),
    (float, "FLOAT64"),
    (str, "STRING"),
    (dt.datetime, "TIMESTAMP"),
    (dt.date, "DATE"),
    (decimal.Decimal, "NUMERIC"),
    (bytes, "BYTES"),
)
# The staging table holds tags as JSON text (parsed by the ingest script) and each record's histogram bucket.
_STAGING_TYPES = {"tags": "STRING", "bucket": "INT64"}
_STAGING_LIFETIME = dt.timedelta(hours=1)  # a crash between create and drop leaves nothing for long
_INSERT_CHUNK = 500  # rows per insertAll request, well under its 10 MB / 50k-row limits


class BigQueryWarehouse:
    """The warehouse port on one BigQuery dataset.

    `views` maps a view name to its SQL, whose table names must be qualified with the dataset (BigQuery views
    ignore the default dataset), e.g. `load_views(schemas_dir, "`my-project.perfguard`")`.
    """

    def __init__(
        self,
        client: bigquery.Client,
        project: str,
        dataset: str,
        tables: Mapping[str, Table],
        views: Mapping[str, str],
        partition_expiration_days: int,
    ) -> None:
        self._client = client
        self._dataset = f"{project}.{dataset}"
        self._tables = dict(tables)
        self._views = dict(views)
        self._expiration_ms = partition_expiration_days * _MS_PER_DAY

    def ensure_tables(self) -> None:
        """Create the dataset and tables that are missing, then create or replace the views."""
        with _translated("creating the dataset, tables and views"):
            self._ensure_dataset()
            existing = {item.table_id for item in self._client.list_tables(self._dataset)}
            for table in self._tables.values():
                if table.name not in existing:
                    self._client.create_table(self._table_resource(table), exists_ok=True)
            for name, sql in self._views.items():
                self._run(f"CREATE OR REPLACE VIEW `{self._dataset}.{name}` AS\n{sql}", {})

    def query(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Run a BigQuery script with the `@name` parameters it uses; rows of its last statement."""
        with _translated("query"):
            return self._run(sql, params)

    def ingest_metrics(self, metrics: Sequence[PerformanceMetric], ingested_at: dt.datetime) -> int:
        """Load the batch into a staging table, then run `ingest_metrics.sql` on it in one transaction."""
        if not metrics:
            return 0
        staging = f"{self._dataset}.{STAGING_TABLE}_{uuid.uuid4().hex}"
        low, high = timestamp_range(metrics)
        script = _STAGING_NAME.sub(f"`{staging}`", _in_transaction(load_query("ingest_metrics")))
        try:
            with _translated(f"storing {len(metrics)} metrics"):
                self._stage(staging, staging_columns(metrics, ingested_at))
                rows = self._run(script, {"min_timestamp": low, "max_timestamp": high})
        finally:
            self._drop(staging)
        return int(rows[0]["stored"])

    def append_rows(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Stream rows in with insertAll (queryable at once); unknown keys are ignored, missing ones are NULL."""
        spec = self._table(table)
        payload = [_json_row(spec, row) for row in rows]
        row_ids = _row_ids(spec, payload)
        with _translated(f"appending {len(rows)} rows to {table}"):
            for start in range(0, len(payload), _INSERT_CHUNK):
                chunk = slice(start, start + _INSERT_CHUNK)
                ids = row_ids[chunk] if row_ids is not None else AutoRowIDs.GENERATE_UUID
                errors = self._client.insert_rows_json(f"{self._dataset}.{table}", payload[chunk], row_ids=ids)
                if errors:
                    raise WarehouseError(f"BigQuery rejected rows appended to {table}: {errors[:3]}")

    def delete_before(self, table: str, cutoff: dt.datetime) -> int:
        """Nothing to do: BigQuery drops expired partitions itself (the tables' partition expiration)."""
        self._table(table)
        log.debug("delete_before(%s, %s) skipped: BigQuery expires partitions itself", table, cutoff)
        return 0

    def close(self) -> None:
        """Close the client's HTTP session."""
        self._client.close()  # type: ignore[no-untyped-call]  # the client's close() has no annotations

    def _ensure_dataset(self) -> None:
        # A get first: creating needs more permissions than the function may have where Terraform made it.
        try:
            self._client.get_dataset(self._dataset)
        except api_exceptions.NotFound:
            self._client.create_dataset(self._dataset, exists_ok=True)

    def _table_resource(self, table: Table) -> bigquery.Table:
        resource = bigquery.Table(f"{self._dataset}.{table.name}", schema=_schema(table))
        resource.description = table.description or None
        resource.time_partitioning = bigquery.TimePartitioning(
            type_=bigquery.TimePartitioningType.DAY, field=table.partition_field, expiration_ms=self._expiration_ms
        )
        resource.clustering_fields = list(table.clustering) or None
        return resource

    def _stage(self, staging: str, columns: Mapping[str, list[Any]]) -> None:
        types = {column.name: column.type for column in self._table("performance_metrics").columns} | _STAGING_TYPES
        schema = [bigquery.SchemaField(name, types[name]) for name in columns]
        resource = bigquery.Table(staging, schema=schema)
        resource.expires = dt.datetime.now(dt.UTC) + _STAGING_LIFETIME
        self._client.create_table(resource)
        config = bigquery.LoadJobConfig(
            schema=schema,
            source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
            create_disposition=bigquery.CreateDisposition.CREATE_NEVER,
            write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
        )
        self._client.load_table_from_json(_staging_rows(columns, types), staging, job_config=config).result()

    def _drop(self, staging: str) -> None:
        # Best effort: the metrics are committed (or not) already, and the table expires within the hour anyway.
        try:
            self._client.delete_table(staging, not_found_ok=True)
        except api_exceptions.GoogleAPIError as exc:
            log.warning("could not drop the staging table %s (it expires by itself): %s", staging, exc)

    def _run(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        config = bigquery.QueryJobConfig(default_dataset=self._dataset, query_parameters=query_parameters(sql, params))
        return [dict(row.items()) for row in self._client.query_and_wait(sql, job_config=config)]

    def _table(self, name: str) -> Table:
        if name not in self._tables:
            raise WarehouseError(f"no table named {name!r}")
        return self._tables[name]


def make_client(project: str, endpoint: str = "") -> bigquery.Client:
    """A client for Google's BigQuery (default credentials), or for an emulator at `endpoint` (no credentials)."""
    if not endpoint:
        return bigquery.Client(project=project)
    options = ClientOptions(api_endpoint=endpoint)
    credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]  # google-auth leaves __init__ untyped
    return bigquery.Client(project=project, credentials=credentials, client_options=options)


def query_parameters(sql: str, params: Mapping[str, Any]) -> list[QueryParameter]:
    """Typed query parameters for the `@names` that `sql` uses; other entries of `params` are left out."""
    used = dict.fromkeys(_PARAM.findall(sql))
    return [_parameter(name, params[name]) for name in used if name in params]


def _parameter(name: str, value: Any) -> QueryParameter:
    if isinstance(value, list | tuple):
        element = next((_param_type(item) for item in value if item is not None), "STRING")
        return bigquery.ArrayQueryParameter(name, element, list(value))
    return bigquery.ScalarQueryParameter(name, _param_type(value), value)


def _param_type(value: Any) -> str:
    if value is None:
        return "STRING"  # an untyped NULL; BigQuery coerces a STRING parameter where another type is expected
    for python_type, bigquery_type in _PARAM_TYPES:
        if isinstance(value, python_type):
            return bigquery_type
    raise TypeError(f"no BigQuery parameter type for {type(value).__name__} value {value!r}")


@contextlib.contextmanager
def _translated(what: str) -> Iterator[None]:
    """Turn the client's errors into WarehouseError, keeping the cause."""
    try:
        yield
    except api_exceptions.GoogleAPIError as exc:
        raise WarehouseError(f"{what} failed on BigQuery: {exc}") from exc


def _schema(table: Table) -> list[bigquery.SchemaField]:
    return [_field(column) for column in table.columns]


def _field(column: Column) -> bigquery.SchemaField:
    mode = "REQUIRED" if column.required else "NULLABLE"
    if not column.description:
        return bigquery.SchemaField(column.name, column.type, mode=mode)
    return bigquery.SchemaField(column.name, column.type, mode=mode, description=column.description)


@functools.cache
def _in_transaction(script: str) -> str:
    """Wrap all but the last statement in a transaction; the last (the result) runs after COMMIT.

    A script's result is its last statement's, so COMMIT cannot come last; the temp table survives the commit.
    The text is split with sqlglot's tokenizer so the SQL is sent exactly as written.
    """
    ends = [
        token.end + 1
        for token in Dialect.get_or_raise("bigquery").tokenize(script)
        if token.token_type == TokenType.SEMICOLON
    ]
    body_end = next((end for end in reversed(ends) if script[end:].strip()), 0)
    return f"BEGIN TRANSACTION;\n{script[:body_end]}\nCOMMIT TRANSACTION;\n{script[body_end:]}"


def _staging_rows(columns: Mapping[str, list[Any]], types: Mapping[str, str]) -> list[dict[str, Any]]:
    """Columns to JSON rows; staging timestamps are integer microseconds, sent as RFC 3339 text (exact)."""
    stamps = {name for name in columns if types[name] == "TIMESTAMP"}
    rows = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    for row in rows:
        for name in stamps:
            row[name] = _rfc3339(_EPOCH + dt.timedelta(microseconds=row[name]))
    return rows


def _json_row(table: Table, row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as insertAll wants it: RFC 3339 timestamps, JSON columns as JSON text (as the client's insert_rows)."""
    return {column.name: _json_value(column.type, row[column.name]) for column in table.columns if column.name in row}


def _json_value(column_type: str, value: Any) -> Any:
    if value is None:
        return None
    if column_type == "JSON":
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if isinstance(value, dt.datetime):
        return _rfc3339(value)
    if isinstance(value, dt.date | decimal.Decimal):
        return str(value)
    return value


def _rfc3339(value: dt.datetime) -> str:
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)  # naive means UTC, as in DuckDB
    return aware.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _row_ids(table: Table, rows: Sequence[Mapping[str, Any]]) -> list[str] | None:
    """insertAll de-duplication ids: the `id` plus the partition time, so a resent row is stored once.

    The `id` alone is not enough: an alert's id is the same on every row of its state-change log.
    """
    if "id" not in table.column_names() or any(row.get("id") is None for row in rows):
        return None
    return [f"{row['id']}@{row.get(table.partition_field)}" for row in rows]
