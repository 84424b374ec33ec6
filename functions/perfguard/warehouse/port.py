"""The warehouse port: what the functions need from a store of tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from perfguard.domain.metric import PerformanceMetric


class Warehouse(Protocol):
    """A store of the tables of `bigquery_schemas/`, queried in BigQuery Standard SQL."""

    def ensure_tables(self) -> None:
        """Create the tables and views that do not exist yet (idempotent)."""

    def query(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Run a BigQuery Standard SQL script with `@name` parameters; rows of its last statement."""

    def ingest_metrics(self, metrics: Sequence[PerformanceMetric], ingested_at: dt.datetime) -> int:
        """Store metrics and their rollups, skipping ids already stored; how many were new."""

    def append_rows(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append rows (column name to value) to a table."""

    def delete_before(self, table: str, cutoff: dt.datetime) -> int:
        """Delete rows whose partition time is before `cutoff`; how many went."""

    def close(self) -> None:
        """Release connections; the data stays."""
