"""A local clock running the schedules of `topology.yaml` (Cloud Scheduler's job on the embedded stack)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from croniter import croniter

from perfguard.bus.port import Bus
from perfguard.topology import Schedule

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LocalScheduler:
    """Publishes each schedule's payload to its topic at its cron times (UTC), like a Cloud Scheduler job."""

    def __init__(self, schedules: list[Schedule], bus: Bus, clock: Clock = _utc_now) -> None:
        self._schedules = {s.name: s for s in schedules}
        self._bus = bus
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="scheduler", daemon=True)

    def start(self) -> None:
        """Start the clock thread."""
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the clock thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run(self, sleep: Callable[[float], bool] | None = None) -> None:
        """Fire schedules until stopped; `sleep(seconds)` returns True to stop (tests pass a fake one)."""
        sleep = sleep or self._stop.wait
        upcoming = {name: self._next(name, self._clock()) for name in self._schedules}
        while upcoming:
            name = min(upcoming, key=upcoming.__getitem__)
            if sleep(max(0.0, (upcoming[name] - self._clock()).total_seconds())):
                return
            self._fire(self._schedules[name])
            upcoming[name] = self._next(name, upcoming[name])

    def _next(self, name: str, after: dt.datetime) -> dt.datetime:
        moment: dt.datetime = croniter(self._schedules[name].cron, after).get_next(dt.datetime)
        return moment

    def _fire(self, schedule: Schedule) -> None:
        try:
            self._bus.publish(schedule.topic, schedule.payload, {"source": "scheduler", "schedule": schedule.name})
        except Exception:
            log.exception("schedule %s could not publish to %s", schedule.name, schedule.topic)
