"""The demo's ICP canisters: three simulated canisters behind the fake replica, one of which spikes.

`marketplace`'s `swap` method is called 10x as often from a few minutes before the demo starts, so the
first canister poll of the live demo (the next minute) sees a burn several times its 6-hour baseline and
opens a `canister_cycles_spike` alert naming `swap`. The 6 hours before are replayed first (polls every 10
minutes, then every minute for the last 10, all before the spike), so the baseline exists; `assets` has a
heap near its limit (memory headroom and large-heap advice), `ledger` is healthy.

The demo runs inside the local stack's process: it backfills through the installed runtime's warehouse,
then points the runtime's settings at the fake replica (only when no canisters_file is configured), so the
scheduled `poll_canisters` reads the simulated canisters from then on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from contextlib import ExitStack
from pathlib import Path

from perfguard.bus.memory import MemoryBus
from perfguard.local.canister_sim import GIB, MethodLoad, SimCanister, Spike
from perfguard.local.fake_replica import FakeReplica, serving
from perfguard.runtime import Runtime
from perfguard.settings import Settings

log = logging.getLogger(__name__)
SPIKE_LEAD = dt.timedelta(minutes=4)  # the spike starts this long before the demo
BASELINE = dt.timedelta(hours=6)


def demo_canisters(start: dt.datetime) -> list[SimCanister]:
    """The demo's canisters, their spike placed relative to `start`."""
    created = start - dt.timedelta(days=30)
    spike = start - SPIKE_LEAD
    market_methods = (
        MethodLoad("swap", 1.5, 40_000_000),
        MethodLoad("create_offer", 0.4, 15_000_000),
        MethodLoad("get_listing", 25.0, 2_000_000, "query"),
    )
    return [
        SimCanister("rrkah-fqaaa-aaaaa-aaaaq-cai", "marketplace", created, 600 * 10**12, GIB // 2, 3 * GIB,
                    methods=market_methods, spikes=(Spike("swap", spike, spike + dt.timedelta(hours=1), 10.0),)),
        SimCanister("ryjl3-tyaaa-aaaaa-aaaba-cai", "ledger", created, 900 * 10**12, GIB // 4, 8 * GIB,
                    methods=(MethodLoad("transfer", 0.5, 3_000_000), MethodLoad("balance", 30.0, 500_000, "query"))),
        SimCanister("rkp4c-7iaaa-aaaaa-aaaca-cai", "assets", created, 250 * 10**12, int(2.2 * GIB), GIB // 8,
                    heap_growth_per_day=GIB // 100, methods=(MethodLoad("upload_chunk", 0.2, 80_000_000),)),
    ]  # fmt: skip


class ReplicaClock:
    """The wall clock, or a fixed moment while the demo replays its history."""

    def __init__(self) -> None:
        self.fixed: dt.datetime | None = None

    def __call__(self) -> dt.datetime:
        return self.fixed or dt.datetime.now(dt.UTC)


class DemoCanisters:
    """Serve the simulated canisters, replay their history, and point the runtime's polls at them."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._clock = ReplicaClock()
        self._exit = ExitStack()

    def start(self) -> None:
        """Start the fake replica and backfill; a no-op when canisters are configured already."""
        settings = self._runtime.settings
        if settings.canisters_file:
            log.info("demo: polling the canisters of %s, not the simulated ones", settings.canisters_file)
            return
        now = self._clock()
        canisters = demo_canisters(now)
        url = self._exit.enter_context(serving(FakeReplica(canisters, self._clock)))
        listing = Path(settings.data_dir) / "demo_canisters.yaml"
        listing.write_text("canisters:\n" + "".join(f"  - {{name: {c.name}, canister_id: {c.canister_id}}}\n"
                                                    for c in canisters))  # fmt: skip
        settings = dataclasses.replace(
            settings,
            canisters_file=str(listing),
            icp_replica_url=url,
            icp_metrics_url=url + "/metrics?canisterId={canister_id}",
        )
        self._backfill(settings, now)
        # From here on the scheduled poll reads the simulated canisters (the demo's process only).
        self._runtime.settings = settings
        log.info("demo: %d simulated canisters on %s; marketplace.swap spikes: its alert opens at the next poll",
                 len(canisters), url)  # fmt: skip

    def _backfill(self, settings: Settings, now: dt.datetime) -> None:
        """Replay the polls of the 6 hours before the spike, against a throwaway bus (nothing spikes yet)."""
        from perfguard.api.canisters import poll_canisters

        spike = now - SPIKE_LEAD
        step = dt.timedelta(minutes=10)
        moments = [spike - BASELINE + n * step for n in range(int(BASELINE / step))]
        moments += [spike - dt.timedelta(minutes=m) for m in range(10, -1, -1)]
        # The replay's clock and the replica's are the same object, fixed at each replayed moment in turn.
        replay = dataclasses.replace(self._runtime, settings=settings, bus=MemoryBus(), clock=self._clock)
        try:
            for moment in moments:
                self._clock.fixed = moment
                poll_canisters(replay)
        finally:
            self._clock.fixed = None

    def stop(self) -> None:
        """Stop the fake replica and close the connections the polls kept to it."""
        from perfguard.api.canisters import close_sources

        close_sources()
        self._exit.close()


def start_demo_canisters() -> DemoCanisters | None:
    """Start the demo canisters in the local stack's process; None (logged) when they cannot start."""
    from perfguard import runtime as rt

    try:
        canisters = DemoCanisters(rt.current())
        canisters.start()
    except Exception:  # the canisters are an extra: the marketplace demo runs without them
        log.exception("demo: the simulated canisters did not start")
        return None
    return canisters
