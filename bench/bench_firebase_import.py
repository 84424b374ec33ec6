"""import_firebase over one busy day of Firebase exports on DuckDB, and what each BigQuery query would scan.

Run: .venv/bin/python -m bench.bench_firebase_import [--sessions 950000] [--crashes 50000] [--events 10000000]

The day is generated inside DuckDB (SQL over range(), nested STRUCT / LIST values in the export schemas):
one app's batch sessions table, its batch Crashlytics table (fatal Flutter errors of two stacks lumped under
one issue, ANRs, non-fatals) and one GA4 daily shard whose events carry ga_session_id, swap journey steps and
the firebase_exp_12 user property. Then one import_firebase run imports the whole day (timed per phase), and a
second run shows a re-run adds nothing.

Bytes scanned: BigQuery bills the logical bytes of the referenced columns of the partitions (or shards) read:
STRING 2 + UTF-8 bytes, INT64 / FLOAT64 / TIMESTAMP 8, BOOL 1, NULL 0, a STRUCT its referenced fields, an
ARRAY the sum over its elements. The sizes are measured on the generated rows (SQL over the same columns
each query references); the partitions read follow from the query's filters: a day-partitioned table is read
whole for each day the range touches; a GA4 shard is read whole. No assertions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from bench.common import machine, temp_dir
from perfguard.api.auth import KeyRing
from perfguard.api.firebase_import import import_firebase
from perfguard.bus.memory import MemoryBus
from perfguard.firebase.catalog import create_export_tables
from perfguard.firebase.exports import CRASHLYTICS, GA4, SESSIONS, ExportTable
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from perfguard.warehouse.duckdb_warehouse import DuckDBWarehouse
from perfguard.warehouse.schema import default_schemas_dir, load_tables, load_views

DAY = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
DAY_US = 86_400_000_000
ANALYTICS = "analytics_123456789"
SESSIONS_TABLE = ExportTable(
    SESSIONS, "firebase_sessions", "com_example_market_ANDROID", "com.example.market", "ANDROID"
)
CRASH_TABLE = ExportTable(
    CRASHLYTICS, "firebase_crashlytics", "com_example_market_ANDROID", "com.example.market", "ANDROID"
)
GA4_TABLE = ExportTable(GA4, ANALYTICS, "events_20261120")
CHUNK = 1_000_000  # rows generated per INSERT, to bound DuckDB's memory

_TS = f"TIMESTAMPTZ '{DAY.isoformat()}'"
_FRAME = (
    "{{'line': {line}, 'file': '{file}', 'symbol': '{symbol}', 'offset': NULL, 'address': NULL, "
    "'library': '{lib}', 'owner': '{owner}', 'blamed': {blamed}}}"
)


def _param(string: str = "NULL", number: str = "NULL") -> str:
    return f"{{'string_value': {string}, 'int_value': {number}, 'float_value': NULL, 'double_value': NULL}}"


def _frame(file: str, symbol: str, owner: str = "DEVELOPER", line: int = 88) -> str:
    lib = "market" if owner == "DEVELOPER" else "bloc"
    return _FRAME.format(line=line, file=file, symbol=symbol, lib=lib, owner=owner, blamed=str(owner == "DEVELOPER"))


def sessions_sql(start: int, stop: int, total: int) -> str:
    """One chunk of the sessions export: a session every 86.4 s / total of the day, 200k installations."""
    return f"""
    INSERT INTO firebase_sessions.com_example_market_ANDROID BY NAME
    SELECT 'fid' || lpad(CAST(i % 200000 AS VARCHAR), 19, '0') AS instance_id, md5('s' || i) AS session_id,
      md5('s' || i) AS first_session_id, 0::BIGINT AS session_index, 'SESSION_START' AS event_type,
      {_TS} + to_microseconds((i * {DAY_US} // {total})::BIGINT) AS event_timestamp,
      {_TS} + to_microseconds((i * {DAY_US} // {total})::BIGINT + 7000000) AS received_timestamp,
      true AS performance_data_collection_enabled, true AS crashlytics_data_collection_enabled,
      {{'build_version': '142', 'display_version': CASE WHEN i % 3 = 0 THEN '2.4.0' ELSE '2.3.1' END}} AS application,
      {{'model': CASE i % 3 WHEN 0 THEN 'SM-A546B' WHEN 1 THEN 'Redmi Note 12' ELSE 'Pixel 7' END,
        'manufacturer': 'samsung'}} AS device,
      {{'display_version': '14', 'name': 'Android', 'type': NULL, 'device_type': 'MOBILE'}} AS operating_system
    FROM range({start}, {stop}) t(i)"""


def crashes_sql(count: int, sessions: int) -> str:
    """Crash events on evenly spread sessions: 2 lumped Flutter fatal stacks, ANRs and non-fatals."""
    step = max(1, sessions // count)
    buy, swap, vendor = (
        _frame("buy_listing.dart", "BuyListingCubit.submit"),
        _frame("swap_page.dart", "SwapPage._onConfirm"),
        _frame("bloc.dart", "Bloc.add", "VENDOR", 412),
    )
    exception = (
        "{{'type': 'io.flutter.plugins.firebase.crashlytics.FlutterError', 'exception_message': 'Bad state', "
        "'nested': false, 'title': 'FlutterError', 'subtitle': 'Bad state', 'blamed': true, 'frames': [{f}, {v}]}}"
    )
    return f"""
    INSERT INTO firebase_crashlytics.com_example_market_ANDROID BY NAME
    SELECT 'ANDROID' AS platform, 'com.example.market' AS bundle_identifier, md5('c' || i) AS event_id,
      CASE i % 4 WHEN 2 THEN 'anr-issue' WHEN 3 THEN 'nonfatal-issue' ELSE 'lumped-issue' END AS issue_id,
      'buy_listing.dart - BuyListingCubit.submit' AS issue_title, 'Bad state' AS issue_subtitle,
      CASE i % 4 WHEN 2 THEN 'ANR' WHEN 3 THEN 'NON_FATAL' ELSE 'FATAL' END AS error_type,
      {_TS} + to_microseconds(((i * {step}) * {DAY_US} // {sessions})::BIGINT + 60000000) AS event_timestamp,
      {_TS} + to_microseconds(((i * {step}) * {DAY_US} // {sessions})::BIGINT + 90000000) AS received_timestamp,
      md5('inst' || (i * {step}) % 200000) AS installation_uuid, md5('s' || (i * {step})) AS firebase_session_id,
      '19.4.0' AS crashlytics_sdk_version, 'FOREGROUND' AS process_state,
      {{'build_version': '142', 'display_version': CASE WHEN (i * {step}) % 3 = 0 THEN '2.4.0' ELSE '2.3.1' END}}
        AS application,
      {{'manufacturer': 'samsung', 'model': 'SM-A546B', 'architecture': 'ARM64'}} AS device,
      {{'used': 2147483648, 'free': (i % 2000) * 1048576}} AS memory,
      {{'display_version': '14', 'name': 'Android', 'modification_state': 'UNMODIFIED', 'type': NULL,
        'device_type': 'MOBILE'}} AS operating_system,
      [{{'key': 'flutter_error_exception', 'value': 'Bad state'}}] AS custom_keys,
      {buy} AS blame_frame,
      CASE i % 4 WHEN 0 THEN [{exception.format(f=buy, v=vendor)}] WHEN 1 THEN [{exception.format(f=swap, v=vendor)}]
        ELSE [] END AS exceptions
    FROM range({count}) t(i)"""


def ga4_sql(start: int, stop: int, total: int) -> str:
    """One chunk of a GA4 daily shard: 3 % swap journey steps, 10 % session_start, the rest engagement."""
    session = "{'key': 'ga_session_id', 'value': " + _param(number="1795165800 + i // 20") + "}"
    step = "CASE i % 100 WHEN 0 THEN 'started' WHEN 1 THEN 'submitted' ELSE 'completed' END"
    journey = (
        "[{'key': 'journey', 'value': " + _param("'swap'") + "}, "
        "{'key': 'journey_id', 'value': " + _param("'swap-' || (i // 100)") + "}, "
        "{'key': 'step', 'value': " + _param(step) + "}, " + session + "]"
    )
    other = (
        "[" + session + ", {'key': 'engagement_time_msec', 'value': " + _param(number="30000") + "}, "
        "{'key': 'firebase_event_origin', 'value': " + _param("'auto'") + "}]"
    )
    prop = (
        "[{'key': 'firebase_exp_12', 'value': {'string_value': CAST(i % 2 AS VARCHAR), 'int_value': NULL, "
        "'float_value': NULL, 'double_value': NULL, 'set_timestamp_micros': 1795165800000000}}]"
    )
    return f"""
    INSERT INTO {ANALYTICS}.events_20261120 BY NAME
    SELECT '20261120' AS event_date, {int(DAY.timestamp()) * 1_000_000} + i * {DAY_US} // {total} AS event_timestamp,
      CASE WHEN i % 100 < 3 THEN CASE i % 100 WHEN 0 THEN 'swap_started' WHEN 1 THEN 'swap_submitted'
        ELSE 'swap_completed' END WHEN i % 100 < 13 THEN 'session_start' WHEN i % 100 = 13 THEN 'first_open'
        ELSE 'user_engagement' END AS event_name,
      CASE WHEN i % 100 < 3 THEN {journey} ELSE {other} END AS event_params,
      'u' || (i % 500000) AS user_pseudo_id, {prop} AS user_properties,
      {{'id': 'com.example.market', 'version': '2.4.0', 'install_store': NULL, 'firebase_app_id': '1:1:android:a',
        'install_source': 'com.android.vending'}} AS app_info, 'ANDROID' AS platform
    FROM range({start}, {stop}) t(i)"""


def build(path: Path, sessions: int, crashes: int, events: int) -> float:
    """Create the store and the export tables, generate the day; seconds spent generating."""
    runtime = _runtime(path, DAY)
    create_export_tables(runtime, [SESSIONS_TABLE, CRASH_TABLE, GA4_TABLE])
    runtime.warehouse.close()
    started = time.perf_counter()
    with duckdb.connect(str(path)) as db:
        db.execute("SET TimeZone = 'UTC'")
        for first in range(0, sessions, CHUNK):
            db.execute(sessions_sql(first, min(sessions, first + CHUNK), sessions))
        db.execute(crashes_sql(crashes, sessions))
        for first in range(0, events, CHUNK):
            db.execute(ga4_sql(first, min(events, first + CHUNK), events))
    return time.perf_counter() - started


def _runtime(path: Path, now: dt.datetime) -> Runtime:
    folder = default_schemas_dir()
    store = DuckDBWarehouse(path, load_tables(folder), load_views(folder, "main"))
    store.ensure_tables()
    settings = Settings(firebase_analytics_dataset=ANALYTICS)
    return Runtime(settings, store, MemoryBus(), KeyRing([]), clock=lambda: now)


@dataclass(frozen=True)
class Scan:
    """One BigQuery import query: the table it reads, the leaf columns it references, how much it reads."""

    query: str
    table: str
    leaves: tuple[str, ...]  # "col", "rec.field", "arr[].field", "arr[].sub[].field"; type from the suffix
    share_of_day: float  # of the day's rows in the partitions (or shard) read
    runs_per_day: int
    note: str


_INTS = (
    "timestamp",
    "event_timestamp",
    "received_timestamp",
    "used",
    "free",
    "line",
    "offset",
    "address",
    "int_value",
    "session_index",
    "code",
    "set_timestamp_micros",
)
_BOOLS = ("blamed", "nested")
FRAME = ("line", "file", "symbol", "offset", "address", "library", "owner", "blamed")
CRASH_LEAVES = (
    "event_id",
    "issue_id",
    "issue_title",
    "error_type",
    "event_timestamp",
    "firebase_session_id",
    "installation_uuid",
    "application.display_version",
    "exceptions[].type",
    *(f"exceptions[].frames[].{f}" for f in FRAME),
    *(f"blame_frame.{f}" for f in FRAME),
    "device.manufacturer",
    "device.model",
    "operating_system.display_version",
    "memory.used",
    "memory.free",
    "process_state",
)
SESSION_LEAVES = ("session_id", "instance_id", "event_timestamp", "application.display_version", "event_type")
JOURNEY_LEAVES = (
    "event_timestamp",
    "event_name",
    "user_pseudo_id",
    "event_params[].key",
    "event_params[].value.string_value",
    "event_params[].value.int_value",
    "app_info.id",
    "app_info.version",
    "platform",
)
EXPOSURE_LEAVES = (
    "event_timestamp",
    "event_name",
    "user_pseudo_id",
    "user_properties[].key",
    "user_properties[].value.string_value",
    "app_info.id",
)
SCANS = (
    Scan(
        "firebase_crash_events (_REALTIME)",
        CRASH_TABLE.ref(),
        CRASH_LEAVES,
        0.5,
        288,
        "every 5 min, 2 h back: the current day partition, half full on average",
    ),
    Scan("firebase_crash_events (batch)", CRASH_TABLE.ref(), CRASH_LEAVES, 3.0, 24, "hourly, 3 days back"),
    Scan(
        "firebase_session_starts (_REALTIME)",
        SESSIONS_TABLE.ref(),
        SESSION_LEAVES,
        0.5,
        288,
        "every 5 min: the current day partition, half full on average",
    ),
    Scan("firebase_session_starts (batch)", SESSIONS_TABLE.ref(), SESSION_LEAVES, 3.0, 24, "hourly, 3 days back"),
    Scan(
        "firebase_ga4_journeys (daily shards)",
        GA4_TABLE.ref(),
        JOURNEY_LEAVES,
        5.0,
        4,
        "every 6 h over 5 daily shards: 3 days late, plus one day each side of the range",
    ),
    Scan(
        "firebase_ga4_journeys (intraday)",
        GA4_TABLE.ref(),
        JOURNEY_LEAVES,
        0.75,
        24,
        "hourly: today's intraday shard (half a day on average), yesterday's until GA4 drops it",
    ),
    Scan(
        "firebase_ga4_exposures (daily shards)",
        GA4_TABLE.ref(),
        EXPOSURE_LEAVES,
        5.0,
        4,
        "as the journeys: BigQuery bills the referenced columns of every row, session_start or not",
    ),
    Scan("firebase_ga4_exposures (intraday)", GA4_TABLE.ref(), EXPOSURE_LEAVES, 0.75, 24, "as the journeys"),
    Scan(
        "firebase_ga4_activity (retention)",
        GA4_TABLE.ref(),
        ("user_pseudo_id", "event_timestamp", "event_name", "app_info.id"),
        39.0,
        1,
        "once a day over 39 daily shards: 7 cohort days + 32",
    ),
    Scan(
        "performance_metrics anti-join (sessions)",
        "performance_metrics",
        ("id", "timestamp", "metric_type", "endpoint_or_operation"),
        0.5,
        288,
        "perfguard's side: the day partition, clustering prunes it to the crash_rate rows (all this store has)",
    ),
)


def leaf_bytes(leaf: str) -> str:
    """A DuckDB expression for the BigQuery logical bytes of one leaf column of one row."""
    parts = leaf.split(".")
    name = parts[-1]
    size = "8" if name in _INTS else "1" if name in _BOOLS else None

    def value(expr: str) -> str:
        return f"(CASE WHEN {expr} IS NULL THEN 0 ELSE {size or f'2 + strlen({expr})'} END)"

    if "[]" not in leaf:
        return value(".".join(parts))
    lists = leaf.split("[]")  # "a[].b[].c" -> ["a", ".b", ".c"]
    expr = lists[0]
    for inner in lists[1:-1]:
        expr = f"flatten(list_transform({expr}, lambda x: x{inner}))"
    return f"coalesce(list_sum(list_transform({expr}, lambda x: {value('x' + lists[-1])})), 0)"


def scanned(runtime: Runtime, scan: Scan) -> tuple[float, int]:
    """Bytes of a day of the referenced columns, and the day's rows."""
    total = " + ".join(leaf_bytes(leaf) for leaf in scan.leaves)
    rows = runtime.warehouse.query(f"SELECT COUNT(*) AS n FROM {scan.table}", {})[0]["n"]
    sql = f"SELECT SUM({total}) AS b FROM {scan.table.replace('`', '')}"
    return _duck(runtime, sql), int(rows)


def _duck(runtime: Runtime, sql: str) -> float:
    # DuckDB's own dialect (list lambdas): straight to the connection, not through the BigQuery translation.
    store = runtime.warehouse
    assert isinstance(store, DuckDBWarehouse)
    cursor = store._db.cursor()  # a benchmark measuring the store's data
    try:
        row = cursor.execute(sql).fetchone()
    finally:
        cursor.close()
    return float(row[0] or 0) if row else 0.0


def report_scans(runtime: Runtime) -> None:
    """Print the bytes per run and per day of each BigQuery import query."""
    print("bytes each BigQuery import query would scan (logical bytes of the referenced columns):")
    for scan in SCANS:
        day_bytes, rows = scanned(runtime, scan)
        per_run = day_bytes * scan.share_of_day
        print(
            f"RESULT scan {scan.query}: {per_run / 1e6:,.1f} MB a run, {per_run * scan.runs_per_day / 1e9:,.2f} GB a"
            f" day ({rows:,} rows a day, {day_bytes / max(rows, 1):,.0f} B a row; {scan.note})"
        )


def run(sessions: int, crashes: int, events: int) -> None:
    """Generate, import (timed), re-import, and print the scan arithmetic."""
    print(f"machine: {machine()}")
    with temp_dir("bench-firebase-") as folder:
        path = folder / "firebase.duckdb"
        generated = build(path, sessions, crashes, events)
        print(f"generated {sessions:,} sessions, {crashes:,} crash events, {events:,} GA4 events in {generated:.1f} s")
        runtime = _runtime(path, DAY + dt.timedelta(days=1, minutes=5))
        started = time.perf_counter()
        summary = import_firebase(runtime)
        took = time.perf_counter() - started
        runtime.warehouse.close()
        print(
            f"RESULT firebase import one day: {took:.1f} s for {sessions + crashes:,} Crashlytics+sessions rows and"
            f" {events:,} GA4 events ({summary['metrics']:,} metrics, {summary['crash_events']:,} crash events);"
            f" phases {summary['seconds']}"
        )
        again = _runtime(path, DAY + dt.timedelta(days=1, minutes=70))
        started = time.perf_counter()
        second = import_firebase(again)
        print(
            f"RESULT firebase re-import: {time.perf_counter() - started:.1f} s, {second['metrics']} new metrics,"
            f" {second['crash_events']} new crash events"
        )
        report_scans(again)
        again.warehouse.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: sizes of the day."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=950_000)
    parser.add_argument("--crashes", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    args = parser.parse_args(argv)
    run(args.sessions, args.crashes, args.events)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
