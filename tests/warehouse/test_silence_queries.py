"""Golden tests of the silence queries (active_silences, silence_by_id) on DuckDB through sqlglot."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse
from perfguard.warehouse.sql import load_query
from tests.support.doubles import embedded_store

T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
COLUMNS = ["id", "matchers", "starts_at", "ends_at", "created_by", "comment", "changed_at", "changed_by"]
MATCHERS = [{"label": "endpoint", "op": "=~", "value": "POST /swaps.*"}, {"label": "severity", "op": "!=", "value": ""}]


def row(silence_id: str, starts: int, ends: int, changed: int, **extra: Any) -> dict[str, Any]:
    """One alert_silences row; times in minutes after T0."""
    return {
        "id": silence_id,
        "matchers": json.dumps(MATCHERS),
        "starts_at": T0 + starts * MINUTE,
        "ends_at": T0 + ends * MINUTE,
        "created_by": "api:ops",
        "comment": "ledger upgrade",
        "changed_at": T0 + changed * MINUTE,
        "changed_by": "api:ops",
        **extra,
    }


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    store = embedded_store(tmp_path / "silences.duckdb")
    store.append_rows(
        "alert_silences",
        [
            # Appended out of order: the latest changed_at is the current state, whatever the insert order.
            row("a", 0, 20, 20, changed_by="api:oncall"),  # expired at minute 20
            row("a", 0, 60, 0),
            row("b", 5, 90, 5),
            row("c", 30, 120, 10),  # pending until minute 30
            row("d", 0, 10, 0),
            row("e", 15, 15, 15, changed_by="api:oncall"),  # expired at minute 15 while pending
            row("e", 40, 100, 12),
        ],
    )
    yield store
    store.close()


def active(warehouse: DuckDBWarehouse, at: dt.datetime) -> list[str]:
    return [r["id"] for r in warehouse.query(load_query("active_silences"), {"at": at})]


@pytest.mark.parametrize(
    ("minute", "ids"),
    [
        (0, ["d", "e", "a", "b", "c"]),  # soonest end first; c and e are pending, still listed
        (9, ["d", "e", "a", "b", "c"]),
        (10, ["e", "a", "b", "c"]),  # d ends at minute 10: ends_at is exclusive
        (15, ["a", "b", "c"]),  # e was expired at minute 15, before it started
        (19, ["a", "b", "c"]),
        (20, ["b", "c"]),  # a was expired at minute 20, not at its original end (60)
        (89, ["b", "c"]),
        (90, ["c"]),
        (120, []),
    ],
)
def test_active_silences_are_the_current_rows_ending_after_at(
    warehouse: DuckDBWarehouse, minute: int, ids: list[str]
) -> None:
    assert active(warehouse, T0 + minute * MINUTE) == ids


def test_active_silences_at_the_epoch_are_every_silence_soonest_end_first(warehouse: DuckDBWarehouse) -> None:
    rows = warehouse.query(load_query("active_silences"), {"at": EPOCH})
    assert [(r["id"], r["ends_at"]) for r in rows] == [
        ("d", T0 + 10 * MINUTE),
        ("e", T0 + 15 * MINUTE),
        ("a", T0 + 20 * MINUTE),
        ("b", T0 + 90 * MINUTE),
        ("c", T0 + 120 * MINUTE),
    ]
    assert list(rows[0]) == COLUMNS


def test_silence_by_id_is_the_latest_row_of_that_silence(warehouse: DuckDBWarehouse) -> None:
    rows = warehouse.query(load_query("silence_by_id"), {"id": "a"})
    assert rows == [
        {
            "id": "a",
            "matchers": rows[0]["matchers"],
            "starts_at": T0,
            "ends_at": T0 + 20 * MINUTE,
            "created_by": "api:ops",
            "comment": "ledger upgrade",
            "changed_at": T0 + 20 * MINUTE,
            "changed_by": "api:oncall",
        }
    ]
    assert isinstance(rows[0]["matchers"], str) and json.loads(rows[0]["matchers"]) == MATCHERS


def test_silence_by_id_finds_no_row_for_an_unknown_id(warehouse: DuckDBWarehouse) -> None:
    assert warehouse.query(load_query("silence_by_id"), {"id": "zz"}) == []
