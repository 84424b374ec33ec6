"""Load generated export rows into the embedded store's export tables (creating GA4 shards as needed)."""

from __future__ import annotations

from perfguard.firebase.catalog import create_export_tables, insert_export_rows
from perfguard.firebase.exports import GA4, ExportTable, app_tables
from perfguard.firebase.generator import Exports
from perfguard.runtime import Runtime


def load(runtime: Runtime, exports: Exports, realtime: bool = False) -> None:
    """Insert every generated row into its table (the _REALTIME twin of app tables when `realtime`)."""
    settings = runtime.settings
    for (kind, where), rows in exports.rows.items():
        if kind == GA4:
            table = ExportTable(GA4, settings.firebase_analytics_dataset, f"events_{where}")
        else:
            table = next(t for t in app_tables(settings, kind, realtime) if t.platform == where)
        create_export_tables(runtime, [table])
        insert_export_rows(runtime, table, rows)
