"""The demo marketplace: realistic traffic for a handful of endpoints, one of which degrades past 2 s.

It backfills the last 20 minutes (and the same window a day and a week earlier, so summaries have
baselines), then sends live traffic through `perfguard.client`, the same SDK a backend would use.
`POST /swaps` is already slow in the backfill, so the first evaluation tick opens its alert.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import urllib3

from perfguard.client import PerfguardClient
from perfguard.firebase.demo import DemoFirebase, start_demo_firebase
from perfguard.local.demo_canisters import DemoCanisters, start_demo_canisters

log = logging.getLogger(__name__)
BACKFILL = dt.timedelta(minutes=20)
DEGRADED_FOR = dt.timedelta(minutes=8)
REPORT_EVERY = 30.0  # seconds between the demo's status lines


@dataclass(frozen=True)
class Endpoint:
    """A demo endpoint: median latency (ms), spread (lognormal sigma), calls per second, error share."""

    name: str
    median_ms: float
    sigma: float
    per_second: int
    error_rate: float
    degrades: bool = False


ENDPOINTS = (
    Endpoint("GET /listings", 120, 0.45, 12, 0.002),
    Endpoint("GET /listings/{id}", 90, 0.4, 10, 0.001),
    Endpoint("GET /search", 260, 0.55, 6, 0.004),
    Endpoint("POST /offers", 340, 0.5, 3, 0.01),
    Endpoint("POST /swaps", 600, 0.5, 3, 0.02, degrades=True),
    Endpoint("canister:marketplace.get_listing", 45, 0.35, 8, 0.0),
)


def latency_ms(endpoint: Endpoint, degraded: bool, rng: random.Random) -> float:
    """One request's latency; a degraded endpoint runs about 4x slower (P95 well past 2 s)."""
    median = endpoint.median_ms * (4.2 if degraded else 1.0)
    return rng.lognormvariate(0.0, endpoint.sigma) * median


class DemoMarketplace:
    """Backfill, then live traffic in a background thread until stopped or `duration` passes."""

    def __init__(self, base_url: str, api_key: str, seed: int = 7) -> None:
        self._base_url = base_url
        self._api_key = api_key
        self._rng = random.Random(seed)
        self._ids = itertools.count()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._canisters: DemoCanisters | None = None
        self._firebase: DemoFirebase | None = None

    def start(self, duration: float | None = None, on_finish: Callable[[], None] | None = None) -> None:
        """Backfill history, then start sending live traffic."""
        self._thread = threading.Thread(target=self._run, args=(duration, on_finish), name="demo", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the live traffic."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._canisters is not None:
            self._canisters.stop()
        if self._firebase is not None:
            self._firebase.stop()

    def _run(self, duration: float | None, on_finish: Callable[[], None] | None) -> None:
        self._canisters = start_demo_canisters()  # simulated ICP canisters; marketplace.swap spikes
        self._firebase = start_demo_firebase()  # simulated Firebase exports; a crash cluster spikes
        now = dt.datetime.now(dt.UTC)
        for shift in (dt.timedelta(days=7), dt.timedelta(days=1), dt.timedelta(0)):
            self._backfill(now - shift, baseline=shift > dt.timedelta(0))
        log.info(
            "demo: backfilled %s of traffic; POST /swaps is degraded, the alert opens at the next minute", BACKFILL
        )
        self._live(duration)
        if on_finish is not None and not self._stop.is_set():
            on_finish()

    def _backfill(self, end: dt.datetime, baseline: bool) -> None:
        http = urllib3.PoolManager()
        moment = end - BACKFILL
        batch: list[dict[str, Any]] = []
        while moment < end:
            degraded = not baseline and end - moment <= DEGRADED_FOR
            batch.extend(self._second_of_traffic(moment, degraded))
            moment += dt.timedelta(seconds=1)
            if len(batch) >= 5000:
                self._post(http, batch)
                batch = []
        if batch:
            self._post(http, batch)

    def _second_of_traffic(self, moment: dt.datetime, degraded: bool) -> list[dict[str, Any]]:
        stamp = int(moment.timestamp() * 1e9)
        records = []
        for endpoint in ENDPOINTS:
            for _ in range(endpoint.per_second):
                slow = degraded and endpoint.degrades
                error = self._rng.random() < endpoint.error_rate * (3 if slow else 1)
                records.append(
                    {
                        "id": f"demo-{stamp}-{next(self._ids)}",
                        "metric_type": "api_latency",
                        "endpoint_or_operation": endpoint.name,
                        "value": round(latency_ms(endpoint, slow, self._rng), 3),
                        "unit": "ms",
                        "timestamp": stamp + self._rng.randrange(1_000_000_000),
                        "source": "demo",
                        "tags": {
                            "status": "error" if error else "ok",
                            "platform": self._rng.choice(("android", "ios")),
                        },
                    }
                )
        return records

    def _post(self, http: urllib3.PoolManager, batch: list[dict[str, Any]]) -> None:
        headers = {"Authorization": f"Bearer {self._api_key}", "Content-Type": "application/json"}
        body = json.dumps({"metrics": batch}).encode()
        response = http.request("POST", f"{self._base_url}/record_performance_metric", body=body, headers=headers)
        if response.status != 200:
            log.warning("demo backfill batch answered %d: %s", response.status, response.data[:300])

    def _live(self, duration: float | None) -> None:
        client = PerfguardClient(self._base_url, self._api_key, source="demo", flush_interval=0.5)
        deadline = None if duration is None else time.monotonic() + duration
        http = urllib3.PoolManager()
        next_report = time.monotonic()
        try:
            while not self._stop.wait(1.0) and (deadline is None or time.monotonic() < deadline):
                if time.monotonic() >= next_report:
                    self._report(http)
                    next_report += REPORT_EVERY
                for record in self._second_of_traffic(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1), True):
                    client.record(
                        record["metric_type"],
                        record["endpoint_or_operation"],
                        record["value"],
                        "ms",
                        tags=record["tags"],
                        timestamp_ns=record["timestamp"],
                    )
        finally:
            client.close(5.0)

    def _report(self, http: urllib3.PoolManager) -> None:
        """One line of what a person would look at: the latency KPI and the alerts that hold now."""
        headers = {"Authorization": f"Bearer {self._api_key}"}
        try:
            kpis = json.loads(http.request("GET", f"{self._base_url}/get_kpi_status", headers=headers).data)
            alerts = json.loads(
                http.request("GET", f"{self._base_url}/check_thresholds?metric_type=api_latency", headers=headers).data
            )["alerts"]
        except (urllib3.exceptions.HTTPError, ValueError, KeyError) as exc:
            log.warning("demo: could not read the KPI status: %s", exc)
            return
        latency = next(k for k in kpis["kpis"] if k["key"] == "api_latency_p95")
        firing = (
            ", ".join(
                f"{json.loads(a['context'])['endpoint_or_operation']} (p95 {a['current_value']:.0f} ms)" for a in alerts
            )
            or "none"
        )
        value = "n/a" if latency["value"] is None else f"{latency['value']:.0f} ms"
        log.info(
            "demo: KPI P95 API latency %s (%s, %d samples, last hour); alerts now: %s",
            value,
            latency["status"],
            latency["sample_size"],
            firing,
        )
