"""import_firebase's deployment: the poller account, its sizing, and the grants its queries need (the tables
it reads and appends, read-only access to Firebase's export datasets), no more."""

from __future__ import annotations

from tests.terraform.hcl import load_config

FIREBASE_TABLES = {"firebase_import_state", "crash_events", "crash_clusters", "journey_events", "ab_exposures"}


def test_import_firebase_runs_as_the_poller_one_at_a_time() -> None:
    config = load_config()
    spec = config.locals["event_function_settings"]["import_firebase"]
    assert (spec["account"], spec["max_instances"], spec["concurrency"]) == ("poller", 1, 1)
    assert spec["secrets"] == []


def test_the_poller_may_write_the_import_tables_and_what_it_ingests() -> None:
    roles = load_config().locals["table_roles"]["poller"]
    editor = set(roles["roles/bigquery.dataEditor"])
    assert editor >= FIREBASE_TABLES
    assert {"performance_metrics", "metric_rollups_1m", "performance_alerts"} <= editor  # ingest, alerts
