"""The DuckDB translation: window percentiles read once per group become aggregates, with the same numbers."""

from __future__ import annotations

import datetime as dt
import random

import duckdb
import pytest
import sqlglot

from perfguard.warehouse.sql import load_query, to_duckdb

START = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def connection() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE TABLE performance_metrics (endpoint_or_operation VARCHAR, metric_type VARCHAR, value DOUBLE, "
        "timestamp TIMESTAMPTZ, outcome VARCHAR)"
    )
    rng = random.Random(5)
    rows = [
        (f"ep{i % 7}", "api_latency", rng.lognormvariate(5, 1), START + dt.timedelta(seconds=i * 3), "ok")
        for i in range(5000)
    ]
    con.executemany("INSERT INTO performance_metrics VALUES (?, ?, ?, ?, ?)", rows)
    return con


def plain_translation(sql: str) -> str:
    [statement] = sqlglot.transpile(sql, read="bigquery", write="duckdb")
    return statement


@pytest.mark.parametrize("name", ["summary_exact", "overall_p95", "minute_p95"])
@pytest.mark.parametrize("interval_us", [0, 3_600_000_000])
def test_the_rewritten_queries_give_the_numbers_of_the_window_form(
    connection: duckdb.DuckDBPyConnection, name: str, interval_us: int
) -> None:
    sql = load_query(name)
    params = {
        "metric_type": "api_latency",
        "start": START,
        "end": START + dt.timedelta(hours=6),
        "endpoint_or_operation": None,
        "interval_us": interval_us,
    }
    [rewritten] = to_duckdb(sql)

    def run(statement: str) -> list[tuple[object, ...]]:
        used = {k: v for k, v in params.items() if f"${k}" in statement}
        return sorted(connection.execute(statement, used).fetchall(), key=repr)

    assert run(rewritten) == run(plain_translation(sql))


def test_the_summary_computes_its_percentiles_as_aggregates() -> None:
    [rewritten] = to_duckdb(load_query("summary_exact"))
    assert " OVER " not in rewritten and rewritten.count("QUANTILE_CONT(value") == 3


def test_a_window_partitioned_differently_from_the_group_is_left_alone() -> None:
    sql = (
        "WITH w AS (SELECT g, h, x, PERCENTILE_CONT(x, 0.5) OVER (PARTITION BY g) AS p FROM t) "
        "SELECT g, h, ANY_VALUE(p) AS p FROM w GROUP BY g, h"
    )
    [rewritten] = to_duckdb(sql)
    assert "OVER (PARTITION BY g)" in rewritten and "ANY_VALUE(p)" in rewritten
