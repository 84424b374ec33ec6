"""Import queries are templates: the export table and the optional columns are filled in at run time.

`${source}` is the export table (`project.dataset.table` on BigQuery, `dataset.table` on DuckDB); other
`${name}` placeholders are expressions chosen from the columns the table really has, so a missing optional
column reads as NULL instead of failing the query.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Template

from perfguard.errors import ConfigError
from perfguard.firebase.exports import ExportTable
from perfguard.runtime import Runtime
from perfguard.warehouse.sql import load_query


def render(name: str, source: str, expressions: Mapping[str, str] | None = None) -> str:
    """The named query with its source table and expressions filled in."""
    text = Template(load_query(name)).safe_substitute({"source": source, **(expressions or {})})
    if "${" in text:
        raise ConfigError(f"query {name} has a placeholder nobody filled: {text[text.index('${') :][:40]}")
    return text


def source_ref(runtime: Runtime, table: ExportTable) -> str:
    """How the warehouse names an export table: with the exports' project on BigQuery."""
    if runtime.settings.warehouse == "bigquery":
        project = runtime.settings.firebase_project or runtime.settings.gcp_project
        return f"`{project}.{table.dataset}.{table.name}`"
    return table.ref()


def optional_column(columns: frozenset[str], expression: str, *names: str, null_type: str = "STRING") -> str:
    """`expression` over the first of `names` the table has (`{}` marks the column), else a typed NULL."""
    for name in names:
        if name in columns:
            return expression.format(name)
    return f"CAST(NULL AS {null_type})"
