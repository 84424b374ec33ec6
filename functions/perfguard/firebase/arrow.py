"""Arrow types of the export schemas, so generated rows load into DuckDB with their nested shape intact."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

_SCALARS: dict[str, pa.DataType] = {
    "STRING": pa.string(),
    "INT64": pa.int64(),
    "INTEGER": pa.int64(),
    "FLOAT64": pa.float64(),
    "FLOAT": pa.float64(),
    "BOOL": pa.bool_(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
}


def arrow_type(field: dict[str, Any]) -> pa.DataType:
    """The Arrow type of one BigQuery schema field (struct for RECORD, list for REPEATED)."""
    type_ = str(field.get("type", "STRING")).upper()
    if type_ in ("RECORD", "STRUCT"):
        base: pa.DataType = pa.struct([pa.field(sub["name"], arrow_type(sub)) for sub in field["fields"]])
    else:
        base = _SCALARS[type_]
    return pa.list_(base) if str(field.get("mode", "")).upper() == "REPEATED" else base


def arrow_schema(fields: list[dict[str, Any]]) -> pa.Schema:
    """The Arrow schema of a table's fields."""
    return pa.schema([pa.field(field["name"], arrow_type(field)) for field in fields])
