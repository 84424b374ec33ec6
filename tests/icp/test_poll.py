"""poll_canisters over a real DuckDB store, the real ICP agent and the fake replica on loopback: one dead, slow,
malformed or old canister never breaks the others, the contract's rows land in performance_metrics, and a
cycles spike opens an alert naming the method responsible, resolved once the burn is back."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from perfguard.api import kpi_canisters
from perfguard.api.auth import KeyRing
from perfguard.api.canisters import close_sources, load_canisters, poll_canisters
from perfguard.bus.memory import MemoryBus
from perfguard.domain.kpi import dashboard
from perfguard.local.canister_sim import GIB, MethodLoad, SimCanister, Spike
from perfguard.local.fake_replica import FakeReplica, serving
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from tests.support.doubles import embedded_store

T0 = dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC)
SPIKE_AT = T0 + dt.timedelta(hours=6)
METHODS = (
    MethodLoad("swap", 2.0, 50_000_000),
    MethodLoad("create_offer", 0.5, 20_000_000),
    MethodLoad("get_listing", 20.0, 3_000_000, "query"),
)


def sims() -> list[SimCanister]:
    base: dict[str, Any] = {"created": T0 - dt.timedelta(days=30), "cycles": 400 * 10**12, "heap_bytes": GIB // 2,
                            "stable_bytes": 2 * GIB, "methods": METHODS}  # fmt: skip
    return [
        SimCanister(
            "rrkah-fqaaa-aaaaa-aaaaq-cai",
            "marketplace",
            **base,
            spikes=(Spike("swap", SPIKE_AT, SPIKE_AT + dt.timedelta(minutes=30), 10.0),),
        ),  # fmt: skip
        SimCanister("ryjl3-tyaaa-aaaaa-aaaba-cai", "ledger", **base, fault="old"),
        SimCanister("mqygn-kiaaa-aaaar-qaadq-cai", "dead", **base, fault="dead"),
        SimCanister("mxzaz-hqaaa-aaaar-qaada-cai", "slow", **base, delay_seconds=1.5),
        SimCanister("xevnm-gaaaa-aaaar-qafnq-cai", "malformed", **base, fault="malformed"),
    ]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@contextmanager
def stack(tmp_path: Path, canisters: list[SimCanister]) -> Iterator[tuple[Runtime, Clock, FakeReplica]]:
    """A runtime polling `canisters` on a fake replica, with a clock the test moves."""
    clock = Clock()
    replica = FakeReplica(canisters, clock)
    listing = "canisters:\n" + "".join(f"  - {{name: {c.name}, canister_id: {c.canister_id}}}\n" for c in canisters)
    (tmp_path / "canisters.yaml").write_text(listing)
    load_canisters.cache_clear()
    with serving(replica) as url:
        settings = Settings(
            data_dir=str(tmp_path),
            canisters_file=str(tmp_path / "canisters.yaml"),
            icp_replica_url=url,
            icp_metrics_url=url + "/metrics?canisterId={canister_id}",
            canister_poll_timeout_seconds=0.5,
        )
        store = embedded_store(tmp_path / "p.duckdb")
        try:
            yield Runtime(settings, store, MemoryBus(), KeyRing([]), clock=clock), clock, replica
        finally:
            close_sources()
            store.close()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Runtime, Clock, FakeReplica]]:
    with stack(tmp_path, sims()) as parts:
        yield parts


def rows(runtime: Runtime, sql: str) -> list[dict[str, Any]]:
    return runtime.warehouse.query(sql, {})


def test_one_poll_reads_the_good_canisters_and_records_every_attempt(
    setup: tuple[Runtime, Clock, FakeReplica],
) -> None:
    runtime, clock, _ = setup
    summary = poll_canisters(runtime)
    outcomes = {r.config.name: r.outcome for r in summary.readings}
    assert outcomes == {"marketplace": "ok", "ledger": "ok", "dead": "error", "slow": "timeout", "malformed": "error"}
    polls = rows(runtime, "SELECT endpoint_or_operation AS name, JSON_VALUE(tags, '$.status') AS status, outcome "
                          "FROM performance_metrics WHERE JSON_VALUE(tags, '$.measure') = 'poll'")  # fmt: skip
    assert {r["name"]: (r["status"], r["outcome"]) for r in polls} == {
        "marketplace": ("ok", "ok"),
        "ledger": ("ok", "ok"),
        "dead": ("error", "error"),
        "slow": ("timeout", "timeout"),
        "malformed": ("error", "error"),
    }
    measures = rows(runtime, "SELECT JSON_VALUE(tags, '$.measure') AS m, unit, value FROM performance_metrics "
                             "WHERE endpoint_or_operation = 'marketplace'")  # fmt: skip
    by_measure = {r["m"]: (r["unit"], r["value"]) for r in measures}
    state = sims()[0].state_at(T0)
    assert by_measure["balance"] == ("cycles", float(state.cycles))
    assert by_measure["memory_bytes"] == ("bytes", float(2.5 * GIB))
    # heap 0.5 of 3 GiB (wasm_memory_limit): 83.3 %; stable 2 of 500 GiB: 99.6 %; the lowest is the heap's
    assert by_measure["headroom_pct"] == ("percentage", pytest.approx(2.5 / 3 * 100))
    # no history yet: burn is the idle burn, 2.5 GiB x 127,000 x 86,400
    assert by_measure["burn_per_day"] == ("cycles", 27_432_000_000.0)
    assert by_measure["runway_days"][0] == "days"
    snapshots = rows(runtime, "SELECT name, poll_status, cycles, error FROM canister_snapshots ORDER BY name")
    assert [(s["name"], s["poll_status"]) for s in snapshots] == [
        ("dead", "error"), ("ledger", "ok"), ("malformed", "error"), ("marketplace", "ok"), ("slow", "timeout"),
    ]  # fmt: skip
    assert all("http://" not in (s["error"] or "") for s in snapshots)
    # the old canister: no idle burn, no memory metrics, yet a balance and a runway-free poll
    ledger = rows(runtime, "SELECT JSON_VALUE(tags, '$.measure') AS m FROM performance_metrics "
                           "WHERE endpoint_or_operation = 'ledger'")  # fmt: skip
    assert {r["m"] for r in ledger} == {"poll", "balance", "memory_bytes"}


def test_a_rerun_in_the_same_minute_counts_nothing_twice(setup: tuple[Runtime, Clock, FakeReplica]) -> None:
    runtime, clock, _ = setup
    poll_canisters(runtime)
    clock.now = T0 + dt.timedelta(seconds=20)
    poll_canisters(runtime)
    [count] = rows(runtime, "SELECT COUNT(*) AS n FROM performance_metrics WHERE endpoint_or_operation = 'dead'")
    assert count["n"] == 1


def test_a_spike_opens_an_alert_naming_the_method_and_resolves_after(tmp_path: Path) -> None:
    with stack(tmp_path, sims()[:1]) as (runtime, clock, _):
        alerts = polled_every_10_minutes(runtime, clock, T0, SPIKE_AT + dt.timedelta(minutes=10))
        [opened] = alerts
        assert (opened["rule"], opened["alert_type"]) == ("canister_cycles_spike", "anomaly_detected")
        assert (opened["status"], opened["endpoint_or_operation"]) == ("open", "marketplace")
        context = json.loads(opened["context"])
        assert context["methods"][0]["method"] == "swap" and context["methods"][0]["share"] > 0.99
        assert any(r["rule"] == "burn_spike" for r in context["recommendations"])
        # polls every 10 minutes: the last two intervals, the spiking one last
        assert [round(w["burn_per_day"] / 1e12, 3) for w in context["windows"]] == [10.611, 96.147]
        # per day: swap 2/s x (5,000,000 + 50,000,000) = 9.504T, create_offer 0.5/s x 25,000,000 = 1.08T,
        # storage 2.5 GiB x 127,000 x 86,400 = 0.027432T; during the spike swap costs 10x as much
        assert context["baseline_per_day"] == pytest.approx(9_504e9 + 1_080e9 + 27.432e9, rel=1e-6)
        assert opened["current_value"] == pytest.approx(95_040e9 + 1_080e9 + 27.432e9, rel=1e-6)
        assert [m["rule"] for m in runtime.bus.on("performance-alerts")] == ["canister_cycles_spike"]  # type: ignore[attr-defined]
        alerts += polled_every_10_minutes(
            runtime, clock, SPIKE_AT + dt.timedelta(minutes=20), SPIKE_AT + dt.timedelta(minutes=50)
        )
        assert [a["status"] for a in alerts] == ["open", "resolved"]
        insights = rows(runtime, "SELECT rule FROM canister_insights WHERE name = 'marketplace'")
        assert "burn_spike" in {r["rule"] for r in insights}


def polled_every_10_minutes(
    runtime: Runtime, clock: Clock, start: dt.datetime, end: dt.datetime
) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = []
    clock.now = start
    while clock.now <= end:
        alerts += poll_canisters(runtime).alerts
        clock.now += dt.timedelta(minutes=10)
    return alerts


def test_the_kpis_show_runway_and_headroom_per_canister(setup: tuple[Runtime, Clock, FakeReplica]) -> None:
    runtime, clock, _ = setup
    poll_canisters(runtime)
    found = kpi_canisters.readings(runtime, T0 - dt.timedelta(hours=1), T0 + dt.timedelta(minutes=1))
    headroom = found["canister_memory_headroom"]
    assert set(headroom.parts) == {"marketplace"}  # the old canister reports no memory breakdown
    assert headroom.value == pytest.approx(2.5 / 3 * 100)
    runway = found["canister_cycles_runway"]
    assert set(runway.parts) == {"marketplace"}
    # no history yet: the idle burn; liquid = balance - idle x 30 days
    state = sims()[0].state_at(T0)
    idle = state.idle_burn_per_day
    assert runway.value == pytest.approx((state.cycles - idle * 30) / idle)
    entries = {k["key"]: k for k in dashboard(runtime.kpis(), found)["kpis"]}
    assert entries["canister_cycles_runway"]["status"] == "ok"
    assert [p["name"] for p in entries["canister_memory_headroom"]["parts"]] == ["marketplace"]
