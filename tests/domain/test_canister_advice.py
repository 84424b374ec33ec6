"""Each recommendation fires on a fixture built to trigger it, with its numbers, and a healthy canister gets none."""

from __future__ import annotations

from dataclasses import replace

import pytest

from perfguard.domain.canister_advice import Facts, advise
from perfguard.domain.canister_cycles import Burn, Runway, Spike
from perfguard.domain.canister_memory import Headroom
from perfguard.domain.canister_methods import MethodFigures, PairFigures
from perfguard.domain.canister_status import CanisterStatus
from perfguard.domain.canister_usage import Culprit

GIB = 2**30
T = 10**12
STATUS = CanisterStatus(
    cycles=50 * T,
    memory_size=GIB,
    wasm_memory_size=GIB // 2,
    stable_memory_size=GIB // 2,
    reserved_cycles=0,
    idle_cycles_burned_per_day=10_972_800_000,
    wasm_memory_limit=3 * GIB,
    query_calls_total=1_000,
    query_instructions_total=1_000 * 2_000_000,
)
BURN = Burn(per_day=T // 10, low=T // 20, high=T // 5, intervals=60, deposits=0)
RUNWAY = Runway(days=490.0, low_days=245.0, high_days=980.0, liquid=49 * T, freezing_limit=T)


def method(name: str, call_type: str = "update", **overrides: object) -> MethodFigures:
    base = MethodFigures(name, call_type, 100, 1.0, 900.0, 1800.0, 2500.0, 90_000.0, 0, {}, 1e6, 2_000_000, 0.0, 0)
    return replace(base, **overrides)  # type: ignore[arg-type]


HEALTHY = Facts(
    "market",
    STATUS,
    BURN,
    RUNWAY,
    (Headroom("heap", GIB // 2, 3 * GIB, 83.3, 0.0, None), Headroom("stable", GIB // 2, 500 * GIB, 99.9)),
    methods=(method("swap"), method("get_listing", "query")),
    pairs=(PairFigures("market", "ledger", 50, 900.0, 2000.0, 0, {}),),
    method_names=frozenset({"swap", "get_listing"}),
    upgrade_instructions=5_000_000_000,
)


def test_a_healthy_canister_gets_no_advice() -> None:
    assert advise(HEALTHY) == []


CASES = [
    ("low_runway", {"runway": replace(RUNWAY, days=12.5, low_days=8.0, high_days=20.0)}, {"runway_days": 12.5}),
    ("frozen", {"runway": replace(RUNWAY, days=0.0, liquid=0)}, {"liquid_cycles": 0}),
    (
        "burn_spike",
        {
            "spike": Spike(5 * T, T // 2, 10.0),
            "culprits": (Culprit("swap", 1e4, 1e5, 4.5e12, 0.9),),
            "deploys": (("t", "ab" * 32),),
        },
        {"methods": ["swap"], "deploys": ["ab" * 32]},
    ),
    ("storage_dominated", {"burn": replace(BURN, per_day=20_000_000_000)}, {"idle_per_day": 10_972_800_000}),
    ("heartbeat", {"method_names": frozenset({"canister_heartbeat"})}, {"estimated_cycles_per_day": 432 * 10**9}),
    ("large_heap", {"status": replace(STATUS, wasm_memory_size=int(2.5 * GIB))}, {"wasm_memory_size": int(2.5 * GIB)}),
    (
        "memory_growth",
        {"headrooms": (Headroom("heap", 2 * GIB, 3 * GIB, 33.3, GIB / 20, 20.0),)},
        {"memory": "heap", "growth_per_day": GIB / 20},
    ),
    ("reserved_cycles", {"status": replace(STATUS, reserved_cycles=10**9)}, {"reserved_cycles": 10**9}),
    (
        "instructions_near_limit",
        {"methods": (method("rebuild", instructions_max=35_000_000_000, limit_share=0.875),)},
        {"instructions_max": 35_000_000_000},
    ),
    (
        "multi_round_update",
        {"methods": (method("import", instructions_max=6_000_000_000),)},
        {"method": "import"},
    ),
    ("upgrade_instructions", {"upgrade_instructions": 150_000_000_000}, {"upgrade_instructions": 150_000_000_000}),
    (
        "heavy_queries",
        {"status": replace(STATUS, query_instructions_total=1_000 * 1_500_000_000)},
        {"num_calls_total": 1_000},
    ),
    ("update_only_reads", {"methods": (method("get_balance"),)}, {"method": "get_balance", "calls": 100}),
    (
        "call_rejects",
        {"methods": (method("swap", failures=5, failures_by_code={"2": 5}),)},
        {"reject_code": "2", "rejects": 5},
    ),
    ("slow_updates", {"methods": (method("swap", p95_ms=7_500.0),)}, {"p95_ms": 7_500.0}),
    (
        "slow_cross_canister",
        {"pairs": (PairFigures("market", "ledger", 40, 3000.0, 6000.0, 0, {}),)},
        {"caller": "market", "p95_ms": 6000.0},
    ),
]


@pytest.mark.parametrize(("rule", "change", "evidence"), CASES, ids=[c[0] for c in CASES])
def test_each_rule_fires_with_its_numbers(rule: str, change: dict[str, object], evidence: dict[str, object]) -> None:
    advice = advise(replace(HEALTHY, **change))  # type: ignore[arg-type]
    assert [a.rule for a in advice] == [rule]
    assert evidence.items() <= advice[0].evidence.items()
    assert advice[0].message


def test_the_most_severe_comes_first() -> None:
    facts = replace(HEALTHY, runway=replace(RUNWAY, days=0.0, liquid=0), methods=(method("get_balance"),))
    assert [a.rule for a in advise(facts)] == ["frozen", "update_only_reads"]
