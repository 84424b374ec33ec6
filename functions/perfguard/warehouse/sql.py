"""Named queries in BigQuery Standard SQL (`perfguard/queries/*.sql`) and their DuckDB translation.

Only constructs that sqlglot translates correctly are used (see the reference's list: no
`UNNEST ... WITH OFFSET`, no `EXTRACT(DAYOFWEEK)`, no `LAX_*`, no `ARRAY_AGG(... LIMIT)`); every query has a
golden test in `tests/warehouse/test_queries.py` that checks its numbers on DuckDB.
"""

from __future__ import annotations

import functools
from importlib import resources

import sqlglot
from sqlglot import exp

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
    trees = sqlglot.parse(sql, read="bigquery")
    return tuple(
        _aggregate_window_percentiles(tree).sql(dialect="duckdb", unsupported_level=sqlglot.ErrorLevel.RAISE)
        for tree in trees
        if tree is not None
    )


def _aggregate_window_percentiles(tree: exp.Expr) -> exp.Expr:
    """Rewrite `ANY_VALUE(p)`, where p is a CTE column `PERCENTILE_CONT(x, q) OVER (PARTITION BY k)` and k is
    exactly the GROUP BY of the reading query, into the aggregate `PERCENTILE_CONT(x, q)`.

    BigQuery has exact percentiles only as window functions, so the queries are written that way; the
    aggregate gives the same numbers and DuckDB computes it 2-6x faster (bench/README.md). The window
    columns are dropped from the CTE when nothing else reads them.
    """
    ctes = {cte.alias: cte.this for cte in tree.find_all(exp.CTE) if isinstance(cte.this, exp.Select)}
    for select in list(tree.find_all(exp.Select)):
        source = select.args.get("from_")
        table = source.this if source is not None else None
        if not isinstance(table, exp.Table) or table.name not in ctes:
            continue
        group = select.args.get("group")
        keys = {key.sql() for key in group.expressions} if group is not None else set()
        windows = _percentile_windows(ctes[table.name], keys)
        for any_value in list(select.find_all(exp.AnyValue)):
            column = any_value.this
            if isinstance(column, exp.Column) and column.name in windows:
                any_value.replace(windows[column.name].this.copy())
        _drop_unread(tree, ctes[table.name], windows)
    return tree


def _drop_unread(tree: exp.Expr, cte: exp.Select, windows: dict[str, exp.Window]) -> None:
    # DuckDB computes a window column even when nothing reads it, so the rewrite pays only once it is gone.
    read = {column.name for column in tree.find_all(exp.Column)}
    for projection in list(cte.expressions):
        if isinstance(projection, exp.Alias) and projection.alias in windows and projection.alias not in read:
            projection.pop()


def _percentile_windows(cte: exp.Select, keys: set[str]) -> dict[str, exp.Window]:
    found: dict[str, exp.Window] = {}
    for projection in cte.expressions:
        window = projection.this if isinstance(projection, exp.Alias) else None
        if not isinstance(window, exp.Window) or not isinstance(window.this, exp.PercentileCont):
            continue
        partition = {key.sql() for key in window.args.get("partition_by") or []}
        if partition == keys and not window.args.get("order"):
            found[projection.alias] = window
    return found
