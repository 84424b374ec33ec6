"""The local scheduler fires each schedule of the topology at its cron times (on a fake clock)."""

from __future__ import annotations

import datetime as dt

from perfguard.bus.memory import MemoryBus
from perfguard.local.scheduler import LocalScheduler
from perfguard.topology import load_topology

START = dt.datetime(2026, 11, 26, 2, 59, 30, tzinfo=dt.UTC)


class FakeTime:
    """A clock that moves only when the scheduler sleeps, and stops it at `until`."""

    def __init__(self, until: dt.datetime) -> None:
        self.now, self.until = START, until

    def clock(self) -> dt.datetime:
        return self.now

    def sleep(self, seconds: float) -> bool:
        self.now += dt.timedelta(seconds=seconds)
        return self.now > self.until


def run_until(until: dt.datetime) -> MemoryBus:
    bus, time = MemoryBus(), FakeTime(until)
    LocalScheduler(list(load_topology().schedules), bus, time.clock).run(time.sleep)
    return bus


def test_the_evaluation_tick_fires_every_minute_on_the_minute() -> None:
    bus = run_until(START + dt.timedelta(minutes=3))
    ticks = [(topic, attrs["schedule"]) for topic, _, attrs in bus.messages if topic == "evaluation-ticks"]
    assert ticks == [("evaluation-ticks", "evaluate-every-minute")] * 3


def test_the_retention_job_fires_daily_at_its_time() -> None:
    bus = run_until(START + dt.timedelta(days=2))
    assert bus.on("maintenance-ticks") == [{"job": "enforce_retention"}] * 2
    assert len(bus.on("evaluation-ticks")) == 2 * 24 * 60
