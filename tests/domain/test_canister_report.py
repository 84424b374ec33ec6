"""One canister's report over a hand-built history: burn, runway, spike, culprit, deploy, headroom, advice."""

from __future__ import annotations

import datetime as dt

import pytest

from perfguard.domain.canister_config import CanisterConfig
from perfguard.domain.canister_methods import CallRecord
from perfguard.domain.canister_report import Snapshot, Windows, report
from perfguard.domain.canister_status import CanisterStatus

T0 = dt.datetime(2026, 11, 26, 0, 0, tzinfo=dt.UTC)
GIB = 2**30
START_CYCLES = 100 * 10**12
IDLE = 10**9  # cycles a day


def history() -> list[Snapshot]:
    """7 hours of one-minute readings: swap 100 calls/min of 10M instructions (1.5e9 cycles/min), 1,000/min in
    the last 10 minutes; the module changes 8 minutes before the end."""
    snapshots, cycles, calls = [], START_CYCLES, 0
    for minute in range(421):
        per_minute = 1_000 if minute > 410 else 100
        if minute:
            calls += per_minute
            cycles -= per_minute * 15_000_000
        counters = {"calls": {"swap": calls, "get": 7 * minute}, "instructions": {"swap": calls * 10_000_000}}
        module = "bb" if minute >= 412 else "aa"
        snapshots.append(Snapshot(T0 + dt.timedelta(minutes=minute), cycles, IDLE, module, counters,
                                  GIB + minute * 2**20, 2 * GIB))  # fmt: skip
    return snapshots


def test_the_report_of_a_spiking_canister() -> None:
    snapshots = history()
    now = snapshots[-1]
    memory = {"wasm_memory_size": now.heap_bytes, "stable_memory_size": 2 * GIB, "wasm_memory_limit": 3 * GIB}
    status = CanisterStatus(cycles=now.cycles, idle_cycles_burned_per_day=IDLE, freezing_threshold=2_592_000, **memory)
    calls = [CallRecord("swap", "update", 1800.0, instructions=10_000_000) for _ in range(40)]
    found = report(
        CanisterConfig("rrkah-fqaaa-aaaaa-aaaaq-cai", "market"), status, now, snapshots[:-1], calls, Windows()
    )
    # burn over the last hour: 50 minutes at 1.5e9 and 10 at 15e9 = 225e9 in 60 minutes -> 5.4T a day
    assert found.burn is not None and found.burn.per_day == 5_400_000_000_000
    assert found.runway is not None and found.runway.freezing_limit == IDLE * 30
    assert found.runway.days == (now.cycles - IDLE * 30) / 5.4e12
    # spike: 15e9 a minute (21.6T a day) against the 10-minute runs of the 6 hours before (2.16T a day)
    assert found.spike is not None
    assert (found.spike.recent_per_day, found.spike.baseline_per_day) == (21_600_000_000_000, 2_160_000_000_000)
    [culprit] = found.culprits  # get's 7 calls a minute did not change
    assert (culprit.method, culprit.baseline_calls_per_day, culprit.recent_calls_per_day) == (
        "swap",
        144_000,
        1_440_000,
    )
    assert [module for _, module in found.deploys] == ["bb"]
    heap = next(h for h in found.headrooms if h.memory == "heap")
    # 1 MiB a minute: 1,440 MiB a day; (3 GiB - used) / that = days to the limit
    assert heap.used == GIB + 420 * 2**20 and heap.limit == 3 * GIB
    assert heap.growth_per_day == pytest.approx(1440 * 2**20)
    assert heap.days_to_limit == pytest.approx((3 * GIB - heap.used) / (1440 * 2**20))
    # 99.2T liquid at 5.4T a day: 18 days, under the 30-day target
    assert {a.rule for a in found.advice} == {"low_runway", "burn_spike", "memory_growth"}
    assert found.bottlenecks[0].method == "swap" and found.bottlenecks[0].time_share == 1.0


def test_no_spike_on_a_steady_canister() -> None:
    snapshots = [s for s in history() if s.at <= T0 + dt.timedelta(minutes=410)]
    now = snapshots[-1]
    status = CanisterStatus(cycles=now.cycles, idle_cycles_burned_per_day=IDLE)
    found = report(CanisterConfig("rrkah-fqaaa-aaaaa-aaaaq-cai", "market"), status, now, snapshots[:-1], [], Windows())
    assert found.spike is None and found.culprits == () and found.advice == ()
    assert found.burn is not None and found.burn.per_day == 2_160_000_000_000
