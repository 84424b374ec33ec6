"""The export tables are created in DuckDB from their BigQuery JSON schemas with nested fields intact, the
reference's fixture rows load into them, and the generator is deterministic and realistic."""

from __future__ import annotations

import datetime as dt
import json

from perfguard.firebase.catalog import create_export_tables, dataset_columns, insert_export_rows
from perfguard.firebase.exports import (
    CRASHLYTICS,
    GA4,
    ExportTable,
    app_table_name,
    bigquery_type,
    column_names,
    ga4_shard,
    ga4_tables,
)
from perfguard.firebase.generator import FLUTTER_ERROR, LUMPED_ISSUE, Generator, Profile
from perfguard.runtime import Runtime
from tests.firebase.conftest import T0
from tests.firebase.fixtures import CRASH_FIXTURE

ANDROID = ExportTable(
    CRASHLYTICS, "firebase_crashlytics", "com_example_market_ANDROID", "com.example.market", "ANDROID"
)


def test_table_names_follow_firebase() -> None:
    assert app_table_name("com.example.market", "IOS") == "com_example_market_IOS"
    assert ga4_shard("daily", dt.date(2026, 11, 20)) == "events_20261120"
    assert ga4_shard("intraday", dt.date(2026, 11, 20)) == "events_intraday_20261120"


def test_nested_fields_become_struct_and_array_types() -> None:
    field = {"name": "custom_keys", "type": "RECORD", "mode": "REPEATED", "fields": [{"name": "key", "type": "STRING"}]}
    assert bigquery_type(field) == "ARRAY<STRUCT<key STRING>>"
    assert bigquery_type({"name": "x", "type": "INTEGER"}) == "INT64"


def test_created_tables_have_every_schema_column(runtime: Runtime) -> None:
    tables = dataset_columns(runtime, "firebase_crashlytics")
    assert tables["com_example_market_ANDROID"] == column_names(CRASHLYTICS)
    assert {"issue_title", "received_timestamp", "errors", "exceptions", "blame_frame"} <= column_names(CRASHLYTICS)


def test_reference_fixture_rows_load_and_nested_fields_read_back(runtime: Runtime) -> None:
    insert_export_rows(runtime, ANDROID, [r for r in CRASH_FIXTURE if r["platform"] == "ANDROID"])
    rows = runtime.warehouse.query(
        "SELECT event_id, exceptions[SAFE_OFFSET(0)].frames[SAFE_OFFSET(0)].symbol AS symbol, device.model AS model,"
        " (SELECT COUNT(*) FROM UNNEST(custom_keys) AS k WHERE k.key = 'journey') AS journey_keys"
        " FROM `firebase_crashlytics.com_example_market_ANDROID` ORDER BY event_timestamp",
        {},
    )
    assert [(r["symbol"], r["model"], r["journey_keys"]) for r in rows] == [
        ("BuyListingCubit.submit", "SM-A546B", 1),
        (None, "Redmi Note 12", 0),
    ]


def test_ga4_shards_are_created_per_day(runtime: Runtime) -> None:
    create_export_tables(runtime, ga4_tables(runtime.settings, [dt.date(2026, 11, 20)]))
    assert set(dataset_columns(runtime, "analytics_123456789")) == {"events_20261120", "events_intraday_20261120"}
    assert dataset_columns(runtime, "analytics_123456789")["events_20261120"] == column_names(GA4)


def test_generator_is_deterministic() -> None:
    first = Generator(seed=3).generate(T0, T0 + dt.timedelta(hours=2))
    again = Generator(seed=3).generate(T0, T0 + dt.timedelta(hours=2))
    assert first.count() > 100
    assert _text(first.rows) == _text(again.rows)
    assert _text(first.rows) != _text(Generator(seed=4).generate(T0, T0 + dt.timedelta(hours=2)).rows)


def _text(rows: dict[tuple[str, str], list[dict[str, object]]]) -> str:
    return json.dumps({"/".join(key): value for key, value in rows.items()}, default=str, sort_keys=True)


def test_generator_has_lumped_flutter_fatals_anrs_ios_nonfatals_and_journeys() -> None:
    profile = Profile(fatal_rate=0.1, anr_rate=0.05, nonfatal_rate=0.1)
    exports = Generator(seed=1, profile=profile).generate(T0, T0 + dt.timedelta(hours=10))
    android, ios = exports.rows[(CRASHLYTICS, "ANDROID")], exports.rows[(CRASHLYTICS, "IOS")]
    lumped = {
        tuple(f["symbol"] for f in r["exceptions"][0]["frames"]) for r in android if r["issue_id"] == LUMPED_ISSUE
    }
    assert len(lumped) == 2 and all(
        r["exceptions"][0]["type"] == FLUTTER_ERROR for r in android if r["issue_id"] == LUMPED_ISSUE
    )
    assert any(r["error_type"] == "ANR" for r in android)
    assert any(r["error_type"] == "NON_FATAL" and r["errors"] for r in ios)
    events = [e for key, rows in exports.rows.items() if key[0] == GA4 for e in rows]
    names = {e["event_name"] for e in events}
    assert {"session_start", "first_open", "app_exception", "swap_started", "swap_completed"} <= names
    assert all(e["user_properties"][0]["key"] == "firebase_exp_12" for e in events)


def test_generated_rows_load_into_every_export(runtime: Runtime) -> None:
    exports = Generator(seed=2).generate(T0, T0 + dt.timedelta(hours=1))
    days = sorted({dt.datetime.strptime(key[1], "%Y%m%d").date() for key in exports.rows if key[0] == GA4})
    create_export_tables(runtime, ga4_tables(runtime.settings, days))
    for (kind, where), rows in exports.rows.items():
        if kind == GA4:
            insert_export_rows(runtime, ExportTable(GA4, "analytics_123456789", f"events_{where}"), rows)
        else:
            dataset = {"crashlytics": "firebase_crashlytics", "sessions": "firebase_sessions"}.get(
                kind, "firebase_performance"
            )
            insert_export_rows(runtime, ExportTable(kind, dataset, f"com_example_market_{where}"), rows)
    count = runtime.warehouse.query("SELECT COUNT(*) AS n FROM `firebase_sessions.com_example_market_ANDROID`", {})
    assert count[0]["n"] == len(exports.rows[("sessions", "ANDROID")]) > 0
