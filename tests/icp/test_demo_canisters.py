"""The demo's simulated canisters: after the replay of their history, the first live poll opens the cycles
spike alert of `marketplace` and names `swap`, the method responsible; the healthy `ledger` gets no advice."""

from __future__ import annotations

import json
from pathlib import Path

from perfguard.api.auth import KeyRing
from perfguard.api.canisters import close_sources, load_canisters, poll_canisters
from perfguard.bus.memory import MemoryBus
from perfguard.local.demo_canisters import DemoCanisters
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from tests.support.doubles import embedded_store


def test_the_first_live_poll_raises_the_spike_naming_the_method(tmp_path: Path) -> None:
    store = embedded_store(tmp_path / "d.duckdb")
    runtime = Runtime(Settings(data_dir=str(tmp_path)), store, MemoryBus(), KeyRing([]))
    load_canisters.cache_clear()
    canisters = DemoCanisters(runtime)
    try:
        canisters.start()
        assert runtime.settings.canisters_file.endswith("demo_canisters.yaml")
        backfilled = store.query("SELECT COUNT(*) AS n FROM canister_snapshots", {})[0]["n"]
        assert backfilled == 3 * (36 + 11)
        summary = poll_canisters(runtime)
    finally:
        canisters.stop()
        close_sources()
        store.close()
    [alert] = summary.alerts
    assert (alert["rule"], alert["endpoint_or_operation"]) == ("canister_cycles_spike", "marketplace")
    methods = [m["method"] for m in json.loads(alert["context"])["methods"]]
    assert methods == ["swap"]
    assert [r.outcome for r in summary.readings] == ["ok", "ok", "ok"]
    assert summary.reports["ryjl3-tyaaa-aaaaa-aaaba-cai"].advice == ()  # ledger: healthy, silent
    assert {a.rule for a in summary.reports["rkp4c-7iaaa-aaaaa-aaaca-cai"].advice} >= {"large_heap"}
