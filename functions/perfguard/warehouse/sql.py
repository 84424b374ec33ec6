"""Named queries in BigQuery Standard SQL (`perfguard/queries/*.sql`) and their DuckDB translation.

Only constructs that sqlglot translates correctly are used (see the reference's list: no
`UNNEST ... WITH OFFSET`, no `EXTRACT(DAYOFWEEK)`, no `LAX_*`, no `ARRAY_AGG(... LIMIT)`); every query has a
golden test in `tests/warehouse/test_queries.py` that checks its numbers on DuckDB.
"""

from __future__ import annotations

import functools
from importlib import resources

import sqlglot

from perfguard.errors import ConfigError


@functools.cache
def load_query(name: str) -> str:
    """The BigQuery text of a named query."""
    try:
        return resources.files("perfguard.queries").joinpath(f"{name}.sql").read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"no query named {name!r} in perfguard/queries/") from exc


def statements(sql: str) -> list[str]:
    """Split a script into statements (sqlglot knows where strings and comments end)."""
    return [expression.sql(dialect="bigquery") for expression in sqlglot.parse(sql, read="bigquery") if expression]


@functools.cache
def to_duckdb(sql: str) -> tuple[str, ...]:
    """The DuckDB statements equivalent to a BigQuery script; `@param` becomes `$param`."""
    return tuple(sqlglot.transpile(sql, read="bigquery", write="duckdb", unsupported_level=sqlglot.ErrorLevel.RAISE))
