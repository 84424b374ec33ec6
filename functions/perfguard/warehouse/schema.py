"""Table schemas from `bigquery_schemas/` (BigQuery JSON schema format plus `layout.yaml`), and their DuckDB DDL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from perfguard.errors import ConfigError

# BigQuery column types and the DuckDB types that hold the same values.
_DUCKDB_TYPES = {
    "STRING": "VARCHAR",
    "INT64": "BIGINT",
    "INTEGER": "BIGINT",
    "FLOAT64": "DOUBLE",
    "FLOAT": "DOUBLE",
    "NUMERIC": "DECIMAL(38, 9)",
    "BOOL": "BOOLEAN",
    "BOOLEAN": "BOOLEAN",
    "TIMESTAMP": "TIMESTAMPTZ",
    "DATE": "DATE",
    "JSON": "JSON",
    "BYTES": "BLOB",
}


@dataclass(frozen=True)
class Column:
    """One column of a table."""

    name: str
    type: str
    required: bool
    description: str


@dataclass(frozen=True)
class Table:
    """One table: its columns and its BigQuery layout."""

    name: str
    columns: tuple[Column, ...]
    partition_field: str
    clustering: tuple[str, ...]
    description: str

    def column_names(self) -> list[str]:
        """The column names, in schema order."""
        return [column.name for column in self.columns]


def default_schemas_dir() -> Path:
    """`bigquery_schemas/` beside `functions/` in a checkout, or copied into the deployed source."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package.parent.parent / "bigquery_schemas", package.parent / "bigquery_schemas"):
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"no bigquery_schemas/ folder near {package}; set the schemas_dir setting")


def load_tables(schemas_dir: Path) -> dict[str, Table]:
    """Every table of the folder, checked against its layout."""
    layout = _load_layout(schemas_dir)
    tables: dict[str, Table] = {}
    for path in sorted(schemas_dir.glob("*.json")):
        name = path.stem
        if name not in layout:
            raise ConfigError(f"{path.name} has no entry under 'tables' in layout.yaml")
        tables[name] = _table(name, _load_fields(path), layout[name])
    missing = set(layout) - set(tables)
    if missing:
        raise ConfigError(f"layout.yaml names tables without a schema file: {', '.join(sorted(missing))}")
    return tables


def partition_expiration_days(schemas_dir: Path) -> int:
    """The partition expiration of every table, in days."""
    data = yaml.safe_load((schemas_dir / "layout.yaml").read_text(encoding="utf-8"))
    return int(data["partition_expiration_days"])


def _load_layout(schemas_dir: Path) -> dict[str, dict[str, Any]]:
    try:
        data = yaml.safe_load((schemas_dir / "layout.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {schemas_dir / 'layout.yaml'}: {exc}") from exc
    return dict(data["tables"])


def _load_fields(path: Path) -> list[dict[str, Any]]:
    try:
        fields = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read schema {path}: {exc}") from exc
    if not isinstance(fields, list):
        raise ConfigError(f"{path} must be a BigQuery JSON schema: a list of fields")
    return fields


def _table(name: str, fields: list[dict[str, Any]], layout: dict[str, Any]) -> Table:
    columns = tuple(_column(name, spec) for spec in fields)
    names = {column.name for column in columns}
    partition = layout["partition_field"]
    by_name = {column.name: column for column in columns}
    if partition not in names or by_name[partition].type != "TIMESTAMP":
        raise ConfigError(f"table {name}: partition field {partition!r} must be a TIMESTAMP column")
    clustering = tuple(layout.get("clustering", ()))
    unknown = set(clustering) - names
    if unknown:
        raise ConfigError(f"table {name}: clustering names unknown columns {sorted(unknown)}")
    return Table(name, columns, partition, clustering, str(layout.get("description", "")))


def _column(table: str, spec: dict[str, Any]) -> Column:
    type_ = str(spec.get("type", "")).upper()
    if type_ not in _DUCKDB_TYPES:
        raise ConfigError(f"table {table}: column {spec.get('name')!r} has unsupported type {type_!r}")
    mode = str(spec.get("mode", "NULLABLE")).upper()
    return Column(str(spec["name"]), type_, mode == "REQUIRED", str(spec.get("description", "")))


def duckdb_ddl(table: Table) -> str:
    """`CREATE TABLE IF NOT EXISTS` for DuckDB, with the same columns and NOT NULL constraints."""
    columns = ",\n  ".join(
        f'"{c.name}" {_DUCKDB_TYPES[c.type]}{" NOT NULL" if c.required else ""}' for c in table.columns
    )
    return f'CREATE TABLE IF NOT EXISTS "{table.name}" (\n  {columns}\n)'


def load_views(schemas_dir: Path, dataset: str) -> dict[str, str]:
    """The view definitions of `views/*.sql`, with `${dataset}` replaced."""
    return {
        path.stem: path.read_text(encoding="utf-8").replace("${dataset}", dataset)
        for path in sorted((schemas_dir / "views").glob("*.sql"))
    }
