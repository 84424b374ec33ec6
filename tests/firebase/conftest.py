"""A real DuckDB store with perfguard's tables and the Firebase export tables, and a runtime on a fake clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from perfguard.api.auth import KeyRing
from perfguard.bus.memory import MemoryBus
from perfguard.firebase.catalog import create_export_tables
from perfguard.firebase.exports import CRASHLYTICS, PERFORMANCE, SESSIONS, app_tables
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse
from tests.support.doubles import RecordingNotifier, embedded_store

T0 = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


@dataclass
class Clock:
    now: dt.datetime = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    warehouse = embedded_store(tmp_path / "fb.duckdb")
    yield warehouse
    warehouse.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier("slack")


@pytest.fixture
def runtime(store: DuckDBWarehouse, clock: Clock, notifier: RecordingNotifier) -> Runtime:
    settings = Settings(firebase_analytics_dataset="analytics_123456789")
    rt = Runtime(settings, store, MemoryBus(), KeyRing([]), clock=clock, notifiers=[notifier])
    for kind in (CRASHLYTICS, SESSIONS, PERFORMANCE):
        create_export_tables(rt, app_tables(settings, kind))
    return rt
