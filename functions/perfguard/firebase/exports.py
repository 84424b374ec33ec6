"""The Firebase export tables: their BigQuery schemas (`bigquery_schemas/firebase_exports/`), names and DDL.

Firebase creates these tables in its own datasets, not perfguard (Terraform never creates them). The
embedded stack and the tests create them in DuckDB schemas named like the datasets, from the same BigQuery
JSON schemas (nested RECORD / REPEATED fields included), so the import queries read the same columns.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfguard.errors import ConfigError
from perfguard.settings import Settings
from perfguard.warehouse.schema import default_schemas_dir

CRASHLYTICS, SESSIONS, PERFORMANCE, GA4 = "crashlytics", "sessions", "performance", "ga4_events"
PLATFORMS = ("ANDROID", "IOS")
_SCALARS = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}


@dataclass(frozen=True)
class ExportTable:
    """One export table: its kind (schema), dataset, table name and the app and platform it holds."""

    kind: str
    dataset: str
    name: str
    app: str = ""
    platform: str = ""

    def ref(self) -> str:
        """The table as BigQuery SQL names it (`dataset.table`; sqlglot makes it a DuckDB schema.table)."""
        return f"`{self.dataset}.{self.name}`"


@functools.cache
def export_fields(kind: str, schemas_dir: Path | None = None) -> list[dict[str, Any]]:
    """The BigQuery JSON schema of one kind of export table."""
    folder = (schemas_dir or default_schemas_dir()) / "firebase_exports"
    try:
        fields = json.loads((folder / f"{kind}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the {kind} export schema in {folder}: {exc}") from exc
    return list(fields)


def column_names(kind: str) -> frozenset[str]:
    """The top-level columns of one kind of export table."""
    return frozenset(field["name"] for field in export_fields(kind))


def bigquery_type(field: dict[str, Any]) -> str:
    """The BigQuery DDL type of a schema field: STRUCT<...> for RECORD, ARRAY<...> for REPEATED."""
    type_ = str(field.get("type", "STRING")).upper()
    if type_ in ("RECORD", "STRUCT"):
        inner = ", ".join(f"{sub['name']} {bigquery_type(sub)}" for sub in field["fields"])
        base = f"STRUCT<{inner}>"
    else:
        base = _SCALARS.get(type_, type_)
    return f"ARRAY<{base}>" if str(field.get("mode", "")).upper() == "REPEATED" else base


def create_table_sql(table: ExportTable, fields: list[dict[str, Any]] | None = None) -> str:
    """`CREATE TABLE IF NOT EXISTS` in BigQuery SQL (translated for DuckDB like every query)."""
    columns = ",\n  ".join(f"{f['name']} {bigquery_type(f)}" for f in fields or export_fields(table.kind))
    return f"CREATE TABLE IF NOT EXISTS {table.ref()} (\n  {columns}\n)"


def app_table_name(app: str, platform: str) -> str:
    """Firebase's table name for one app: the app id with `.` -> `_`, plus `_ANDROID` or `_IOS`."""
    return f"{app.replace('.', '_').replace('-', '_')}_{platform}"


def ga4_shard(kind: str, day: dt.date) -> str:
    """A GA4 date shard: `events_YYYYMMDD` (kind "daily") or `events_intraday_YYYYMMDD`."""
    prefix = "events_intraday_" if kind == "intraday" else "events_"
    return f"{prefix}{day:%Y%m%d}"


def app_tables(settings: Settings, kind: str, realtime: bool = False) -> list[ExportTable]:
    """The per-app tables of one kind (Crashlytics, sessions, performance), batch or `_REALTIME`."""
    dataset = {
        CRASHLYTICS: settings.firebase_crashlytics_dataset,
        SESSIONS: settings.firebase_sessions_dataset,
        PERFORMANCE: settings.firebase_performance_dataset,
    }[kind]
    suffix = "_REALTIME" if realtime else ""
    return [
        ExportTable(kind, dataset, app_table_name(app, platform) + suffix, app, platform)
        for app in settings.firebase_app_ids
        for platform in PLATFORMS
    ]


def ga4_tables(settings: Settings, days: list[dt.date]) -> list[ExportTable]:
    """The GA4 daily and intraday shards of some days (picking shards is GA4's partition filter)."""
    dataset = settings.firebase_analytics_dataset
    return [ExportTable(GA4, dataset, ga4_shard(kind, day)) for day in days for kind in ("daily", "intraday")]
