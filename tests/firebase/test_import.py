"""import_firebase over a real DuckDB store filled with generated export rows: every session and crash is
imported once, a re-run (or the batch/realtime overlap) adds nothing, the watermark moves, a missing optional
column does not break the import, and GA4 steps and A/B exposures land in their tables."""

from __future__ import annotations

import datetime as dt
from typing import Any

from perfguard.api.firebase_import import import_firebase
from perfguard.firebase.catalog import insert_export_rows
from perfguard.firebase.exports import CRASHLYTICS, SESSIONS, ExportTable
from perfguard.firebase.generator import Generator, Profile
from perfguard.runtime import Runtime
from tests.firebase.conftest import T0, Clock
from tests.firebase.fixtures import CRASH_FIXTURE
from tests.firebase.loading import load

PROFILE = Profile(users=80, sessions_per_hour=200, fatal_rate=0.05, anr_rate=0.02, nonfatal_rate=0.05)


def count(runtime: Runtime, sql: str) -> int:
    return int(runtime.warehouse.query(sql, {})[0]["n"])


def metric_count(runtime: Runtime, event: str) -> int:
    return count(
        runtime,
        "SELECT COUNT(*) AS n FROM performance_metrics WHERE metric_type = 'crash_rate'"
        f" AND JSON_VALUE(tags, '$.event') = '{event}'",
    )


def test_sessions_and_crashes_are_imported_once(runtime: Runtime, clock: Clock) -> None:
    exports = Generator(seed=5, profile=PROFILE).generate(T0 - dt.timedelta(hours=2), T0)
    load(runtime, exports)
    load(runtime, exports, realtime=True)  # the same events streamed too: must not count twice
    summary = import_firebase(runtime)
    crashes = [r for key, rows in exports.rows.items() if key[0] == CRASHLYTICS for r in rows]
    sessions = [r for key, rows in exports.rows.items() if key[0] == SESSIONS for r in rows]
    crashed = {r["firebase_session_id"] for r in crashes if r["error_type"] == "FATAL"}
    assert summary["crash_events"] == len(crashes) > 0
    assert count(runtime, "SELECT COUNT(*) AS n FROM crash_events") == len(crashes)
    assert metric_count(runtime, "session_start") == len(sessions) > 0
    assert metric_count(runtime, "fatal_crash") == len(crashed) > 0
    clock.now = T0 + dt.timedelta(minutes=5)
    again = import_firebase(runtime)
    assert again["crash_events"] == again["metrics"] == 0
    assert count(runtime, "SELECT COUNT(*) AS n FROM crash_events") == len(crashes)
    assert metric_count(runtime, "session_start") == len(sessions)


def test_new_rows_after_the_watermark_are_imported_next_run(runtime: Runtime, clock: Clock) -> None:
    generator = Generator(seed=6, profile=PROFILE)
    load(runtime, generator.generate(T0 - dt.timedelta(hours=1), T0), realtime=True)
    import_firebase(runtime)
    before = metric_count(runtime, "session_start")
    late = generator.generate(T0, T0 + dt.timedelta(minutes=10))
    load(runtime, late, realtime=True)
    clock.now = T0 + dt.timedelta(minutes=10)
    import_firebase(runtime)
    added = sum(len(rows) for key, rows in late.rows.items() if key[0] == SESSIONS)
    assert metric_count(runtime, "session_start") == before + added
    state = runtime.warehouse.query(
        "SELECT source, MAX(watermark) AS w FROM firebase_import_state GROUP BY source ORDER BY source", {}
    )
    assert {r["source"] for r in state} >= {"firebase_sessions.com_example_market_ANDROID_REALTIME"}
    assert all(r["w"] == clock.now for r in state if r["source"].endswith("_REALTIME"))
    exports = [r for r in state if not r["source"].startswith("perfguard.")]  # not the daily crash-free job
    assert all(r["w"] == T0 for r in exports if not r["source"].endswith(("_REALTIME", "events_intraday")))


def test_daily_tables_are_not_reread_within_the_hour(runtime: Runtime, clock: Clock) -> None:
    load(runtime, Generator(seed=8, profile=PROFILE).generate(T0 - dt.timedelta(hours=1), T0))
    import_firebase(runtime)
    clock.now = T0 + dt.timedelta(minutes=5)
    load(runtime, Generator(seed=9, profile=PROFILE).generate(T0 - dt.timedelta(hours=1), T0))
    assert import_firebase(runtime)["metrics"] == 0  # only the streaming tables were read
    clock.now = T0 + dt.timedelta(minutes=65)
    assert import_firebase(runtime)["metrics"] > 0


def test_a_table_without_the_optional_columns_imports(runtime: Runtime) -> None:
    table = ExportTable(CRASHLYTICS, "firebase_crashlytics", "com_example_market_IOS", "com.example.market", "IOS")
    runtime.warehouse.query("DROP TABLE `firebase_crashlytics.com_example_market_IOS`", {})
    docs_spelling: list[dict[str, Any]] = [
        {"name": "event_id", "type": "STRING"},
        {"name": "issue_id", "type": "STRING"},
        {"name": "error_type", "type": "STRING"},
        {"name": "event_timestamp", "type": "TIMESTAMP"},
        {"name": "firebase_session_id", "type": "STRING"},
        {"name": "installation_uuid", "type": "STRING"},
        {"name": "application", "type": "RECORD", "fields": [{"name": "display_version", "type": "STRING"}]},
        {
            "name": "device",
            "type": "RECORD",
            "fields": [{"name": "model", "type": "STRING"}, {"name": "manufacturer", "type": "STRING"}],
        },
        {"name": "operating_system", "type": "RECORD", "fields": [{"name": "display_version", "type": "STRING"}]},
        {
            "name": "memory",
            "type": "RECORD",
            "fields": [{"name": "used", "type": "INT64"}, {"name": "free", "type": "INT64"}],
        },
        {"name": "process_state", "type": "STRING"},
        {
            "name": "blame_frame",
            "type": "RECORD",
            "fields": [
                {"name": "file", "type": "STRING"},
                {"name": "symbol", "type": "STRING"},
                {"name": "owner", "type": "STRING"},
            ],
        },
        {
            "name": "exceptions",
            "type": "RECORD",
            "mode": "REPEATED",
            "fields": [
                {"name": "type", "type": "STRING"},
                {
                    "name": "frames",
                    "type": "RECORD",
                    "mode": "REPEATED",
                    "fields": [
                        {"name": "file", "type": "STRING"},
                        {"name": "symbol", "type": "STRING"},
                        {"name": "owner", "type": "STRING"},
                    ],
                },
            ],
        },
        {
            "name": "error",
            "type": "RECORD",
            "mode": "REPEATED",
            "fields": [
                {"name": "title", "type": "STRING"},
                {
                    "name": "frames",
                    "type": "RECORD",
                    "mode": "REPEATED",
                    "fields": [
                        {"name": "file", "type": "STRING"},
                        {"name": "symbol", "type": "STRING"},
                        {"name": "owner", "type": "STRING"},
                    ],
                },
            ],
        },
    ]
    from perfguard.firebase.exports import create_table_sql

    runtime.warehouse.query(create_table_sql(table, docs_spelling), {})
    ios = next(r for r in CRASH_FIXTURE if r["platform"] == "IOS")
    row = {
        "event_id": ios["event_id"],
        "issue_id": ios["issue_id"],
        "error_type": ios["error_type"],
        "event_timestamp": T0 - dt.timedelta(minutes=1),
        "firebase_session_id": ios["firebase_session_id"],
        "installation_uuid": ios["installation_uuid"],
        "application": ios["application"],
        "device": {"model": "iPhone15,2", "manufacturer": None},
        "operating_system": {"display_version": "17.4.1"},
        "memory": None,
        "process_state": "FOREGROUND",
        "blame_frame": {k: ios["blame_frame"][k] for k in ("file", "symbol", "owner")},
        "exceptions": [],
        "error": [
            {
                "title": "SwapRepository.confirm",
                "frames": [{"file": "swap_repository.dart", "symbol": "SwapRepository.confirm", "owner": "DEVELOPER"}],
            }
        ],
    }
    runtime.warehouse.insert_arrow(  # type: ignore[attr-defined]
        "firebase_crashlytics.com_example_market_IOS",
        __import__("pyarrow").Table.from_pylist(
            [row], schema=__import__("perfguard.firebase.arrow", fromlist=["x"]).arrow_schema(docs_spelling)
        ),
    )
    assert import_firebase(runtime)["crash_events"] == 1
    stored = runtime.warehouse.query("SELECT exception_type, top_frames, issue_title FROM crash_events", {})
    assert stored == [
        {
            "exception_type": "SwapRepository.confirm",
            "top_frames": '["swap_repository.dart SwapRepository.confirm"]',
            "issue_title": None,
        }
    ]


def test_reference_fixture_rows_import(runtime: Runtime) -> None:
    android = ExportTable(
        CRASHLYTICS, "firebase_crashlytics", "com_example_market_ANDROID", "com.example.market", "ANDROID"
    )
    rows = [{**r, "event_timestamp": T0 - dt.timedelta(hours=1)} for r in CRASH_FIXTURE if r["platform"] == "ANDROID"]
    insert_export_rows(runtime, android, rows)
    assert import_firebase(runtime)["crash_events"] == 2
    stored = runtime.warehouse.query("SELECT error_type, top_frames FROM crash_events ORDER BY error_type", {})
    assert [(r["error_type"], r["top_frames"]) for r in stored] == [
        ("ANR", '["messagequeue.java android.os.MessageQueue.nativePollOnce"]'),
        ("FATAL", '["buy_listing.dart BuyListingCubit.submit"]'),
    ]


def test_ga4_journey_steps_and_exposures_are_stored_once(runtime: Runtime, clock: Clock) -> None:
    exports = Generator(seed=4, profile=PROFILE).generate(T0 - dt.timedelta(hours=3), T0)
    load(runtime, exports)
    import_firebase(runtime)
    events = [e for key, rows in exports.rows.items() if key[0] == "ga4_events" for e in rows]
    steps = [e for e in events if any(p["key"] == "journey_id" for p in e["event_params"])]
    past = [e for e in steps if e["event_timestamp"] < T0.timestamp() * 1_000_000]
    starts = [e for e in events if e["event_name"] == "session_start"]  # exposures come from session starts
    users = {e["user_pseudo_id"] for e in starts if e["event_timestamp"] < T0.timestamp() * 1_000_000}
    assert count(runtime, "SELECT COUNT(*) AS n FROM journey_events") == len(past) > 0
    assert count(runtime, "SELECT COUNT(*) AS n FROM ab_exposures") == len(users)
    clock.now = T0 + dt.timedelta(hours=6)  # the daily shards are re-read: the steps ahead of the clock arrive
    import_firebase(runtime)
    users = {e["user_pseudo_id"] for e in starts}
    assert count(runtime, "SELECT COUNT(*) AS n FROM journey_events") == len(steps)
    assert count(runtime, "SELECT COUNT(*) AS n FROM ab_exposures") == len(users)


def test_without_a_sessions_export_ga4_gives_the_sessions_and_fatal_crashes(runtime: Runtime) -> None:
    for platform in ("ANDROID", "IOS"):
        runtime.warehouse.query(f"DROP TABLE `firebase_sessions.com_example_market_{platform}`", {})
    exports = Generator(seed=12, profile=PROFILE).generate(T0 - dt.timedelta(hours=2), T0 - dt.timedelta(hours=1))
    exports.rows = {key: rows for key, rows in exports.rows.items() if key[0] != SESSIONS}
    load(runtime, exports)
    import_firebase(runtime)
    events = [e for key, rows in exports.rows.items() if key[0] == "ga4_events" for e in rows]
    starts = [e for e in events if e["event_name"] == "session_start"]
    fatal = [e for e in events if e["event_name"] == "app_exception"]
    assert metric_count(runtime, "session_start") == len(starts) > 0
    assert metric_count(runtime, "fatal_crash") == len(fatal) > 0  # from GA4, not from Crashlytics
    ids = runtime.warehouse.query("SELECT id FROM performance_metrics WHERE id LIKE 'fb_crash_%' LIMIT 1", {})
    assert ids[0]["id"].startswith("fb_crash_ga_")
