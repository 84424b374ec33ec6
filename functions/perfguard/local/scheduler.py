"""A local clock running the schedules of `topology.yaml` (Cloud Scheduler's job on the embedded stack)."""

from __future__ import annotations

import datetime as dt
import logging
import threading

from croniter import croniter

from perfguard.bus.port import Bus
from perfguard.topology import Schedule

log = logging.getLogger(__name__)


class LocalScheduler:
    """Publishes each schedule's payload to its topic at its cron times (UTC)."""

    def __init__(self, schedules: list[Schedule], bus: Bus) -> None:
        self._schedules = schedules
        self._bus = bus
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)

    def start(self) -> None:
        """Start the clock thread."""
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the clock thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        now = dt.datetime.now(dt.UTC)
        upcoming = {s.name: croniter(s.cron, now).get_next(dt.datetime) for s in self._schedules}
        by_name = {s.name: s for s in self._schedules}
        while upcoming:
            name = min(upcoming, key=upcoming.__getitem__)
            wait = (upcoming[name] - dt.datetime.now(dt.UTC)).total_seconds()
            if self._stop.wait(max(0.0, wait)):
                return
            self._fire(by_name[name])
            upcoming[name] = croniter(by_name[name].cron, upcoming[name]).get_next(dt.datetime)

    def _fire(self, schedule: Schedule) -> None:
        try:
            self._bus.publish(schedule.topic, schedule.payload, {"source": "scheduler", "schedule": schedule.name})
        except Exception:
            log.exception("schedule %s could not publish to %s", schedule.name, schedule.topic)
