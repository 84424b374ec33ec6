"""The demo's Firebase: fills the export tables of the embedded store live, as Firebase's streaming exports do.

Two hours of app traffic are backfilled, then every 20 seconds the newest rows are appended: sessions and
crashes to the `_REALTIME` tables, GA4 events to today's intraday shard, Performance rows to the daily table.
A crash cluster (`checkout_page.dart`) starts spiking in version 2.4.0 two minutes after the start, so a
scheduled `import_firebase` (every 5 minutes) raises `crash_cluster_new` and then `crash_cluster_velocity`
with the stack and the device breakdown. Without a GA4 dataset configured, the demo uses `analytics_demo`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable

from perfguard.firebase.catalog import create_export_tables, insert_export_rows
from perfguard.firebase.exports import GA4, PERFORMANCE, ExportTable, app_tables, ga4_shard
from perfguard.firebase.generator import Exports, Generator, Profile, Spike
from perfguard.runtime import Runtime, utc_now

log = logging.getLogger(__name__)
BACKFILL = dt.timedelta(hours=2)
SPIKE_AFTER = dt.timedelta(minutes=2)
EVERY = 20.0  # seconds between appends
DEMO_ANALYTICS = "analytics_demo"


class DemoFirebase:
    """Backfill, then append generated export rows in a background thread until stopped."""

    def __init__(self, runtime: Runtime, seed: int = 11, clock: Callable[[], dt.datetime] = utc_now) -> None:
        if not runtime.settings.firebase_analytics_dataset:
            runtime.settings = dataclasses.replace(runtime.settings, firebase_analytics_dataset=DEMO_ANALYTICS)
        self._runtime = runtime
        self._clock = clock
        start = clock()
        spike = Spike(start + SPIKE_AFTER, version="2.4.0", rate=0.5)
        self._generator = Generator(seed, Profile(users=1500, sessions_per_hour=4000, spike=spike))
        self._until = start - BACKFILL
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Create the export tables, backfill, and start appending."""
        create_export_tables(self._runtime, self._app_tables())
        self.append()
        self._thread = threading.Thread(target=self._loop, name="demo-firebase", daemon=True)
        self._thread.start()
        log.info("demo: Firebase exports filled for the last %s; a crash spike starts in %s", BACKFILL, SPIKE_AFTER)

    def stop(self) -> None:
        """Stop appending."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def append(self) -> int:
        """Generate and store the rows of the sessions started since the last append; how many rows."""
        now = self._clock()
        exports = self._generator.generate(self._until, now)
        self._until = now
        self._store(exports)
        return exports.count()

    def _loop(self) -> None:
        while not self._stop.wait(EVERY):
            try:
                self.append()
            except Exception:  # the demo must keep going; the next append retries with new rows
                log.exception("demo: appending Firebase export rows failed")

    def _app_tables(self) -> list[ExportTable]:
        settings = self._runtime.settings
        realtime = [t for kind in ("crashlytics", "sessions") for t in app_tables(settings, kind, realtime=True)]
        return realtime + app_tables(settings, PERFORMANCE)

    def _store(self, exports: Exports) -> None:
        tables = {(t.kind, t.platform): t for t in self._app_tables()}
        dataset = self._runtime.settings.firebase_analytics_dataset
        for (kind, where), rows in exports.rows.items():
            if kind == GA4:
                day = dt.datetime.strptime(where, "%Y%m%d").date()
                table = ExportTable(GA4, dataset, ga4_shard("intraday", day))
                create_export_tables(self._runtime, [table])
            else:
                table = tables[(kind, where)]
            insert_export_rows(self._runtime, table, rows)


def start_demo_firebase() -> DemoFirebase | None:
    """Start filling the export tables in the local stack's process; None (logged) when it cannot start."""
    from perfguard import runtime as rt

    try:
        demo = DemoFirebase(rt.current())
        demo.start()
    except Exception:  # the Firebase exports are an extra: the marketplace demo runs without them
        log.exception("demo: the simulated Firebase exports did not start")
        return None
    return demo
