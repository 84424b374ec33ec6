"""Per-method figures, pairs, bottlenecks and spike culprits against hand-computed values."""

from __future__ import annotations

import datetime as dt

import numpy as np

from perfguard.domain.canister_methods import (
    CallRecord,
    bottlenecks,
    call_cycles,
    method_figures,
    pair_figures,
    percentile,
)
from perfguard.domain.canister_usage import MethodUse, culprits, deploys, usage


def test_percentiles_match_numpy() -> None:
    values = [12.0, 3.5, 99.0, 41.0, 7.25, 64.0, 5.0]
    for q in (0.5, 0.95, 0.99):
        assert abs(percentile(values, q) - float(np.percentile(values, q * 100))) < 1e-9


def test_method_figures_rate_failures_instructions_and_cycles() -> None:
    records = [CallRecord("swap", "update", 2000.0 + i, instructions=1_000_000_000) for i in range(8)]
    records += [
        CallRecord("swap", "update", 2500.0, ok=False, reject_code="5", instructions=3_000_000_000),
        CallRecord("swap", "update", 2600.0, ok=False, reject_code="2", instructions=500_000_000),
    ]
    records += [CallRecord("get_listing", "query", 80.0, instructions=2_000_000) for _ in range(30)]
    swap, listing = sorted(method_figures(records, 60.0), key=lambda f: f.method != "swap")
    assert (swap.calls, swap.failures, swap.failure_rate) == (10, 2, 0.2)
    assert swap.failures_by_code == {"5": 1, "2": 1}
    assert swap.per_second == 10 / 60
    assert swap.instructions_max == 3_000_000_000 and swap.limit_share == 3 / 40
    # 10 updates: 10 x 5,000,000 + 8 x 1e9 + 3e9 + 0.5e9 instructions
    assert swap.cycles == 50_000_000 + 11_500_000_000
    assert listing.cycles == 0 and listing.limit_share == 2_000_000 / 5_000_000_000
    assert swap.p95_ms == float(np.percentile([r.latency_ms for r in records[:10]], 95))


def test_cycles_scale_with_subnet_size() -> None:
    assert call_cycles("update", 1, 8_000_000, 34) == 13_000_000 * 34 // 13


def test_pairs_and_bottlenecks() -> None:
    records = [CallRecord("transfer", "update", 5000.0, caller="market", callee="ledger") for _ in range(4)]
    records += [CallRecord("transfer", "update", 9000.0, ok=False, reject_code="2", caller="market", callee="ledger")]
    records += [CallRecord("get", "query", 100.0) for _ in range(100)]
    [pair] = pair_figures(records)
    assert (pair.caller, pair.callee, pair.calls, pair.failures) == ("market", "ledger", 5, 1)
    assert pair.failures_by_code == {"2": 1} and pair.p50_ms == 5000.0
    top = bottlenecks(method_figures(records, 60.0))
    # transfer: 4 x 5000 + 9000 = 29,000 ms of 39,000 ms total; all the cycles (queries are free)
    assert top[0].method == "transfer" and top[0].time_share == 29_000 / 39_000 and top[0].cycles_share == 1.0
    assert top[1].method == "get" and top[1].time_share == 10_000 / 39_000


def test_usage_rates_and_a_counter_reset() -> None:
    before = {"calls": {"swap": 100, "list": 50}, "instructions": {"swap": 10**9}}
    after = {"calls": {"swap": 160, "list": 5}, "instructions": {"swap": 4 * 10**9}}
    rates = usage(before, after, 600.0)  # 10 minutes: x 144 a day
    assert rates["swap"] == MethodUse(60 * 144, 3 * 10**9 * 144)
    assert rates["list"] == MethodUse(5 * 144, 0)  # reset by an upgrade: 5 since


def test_culprits_rank_the_growth_of_cycles_per_day() -> None:
    baseline = {"swap": MethodUse(1_000, 10**9), "list": MethodUse(500, 0)}
    recent = {"swap": MethodUse(10_000, 10**10), "list": MethodUse(5_000, 0), "new": MethodUse(10, 0)}
    found = culprits(recent, baseline)
    swap_growth = 9_000 * 5_000_000 + 9 * 10**9
    list_growth, new_growth = 4_500 * 5_000_000, 10 * 5_000_000
    total = swap_growth + list_growth + new_growth
    assert [c.method for c in found] == ["swap", "list"]  # "new": 0.07 % of the growth explains nothing
    assert found[0].extra_cycles_per_day == swap_growth and found[0].share == swap_growth / total
    assert found[1].share == list_growth / total
    assert found[0].baseline_calls_per_day == 1_000 and found[0].recent_calls_per_day == 10_000


def test_deploys_are_module_hash_changes() -> None:
    t = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
    hashes = [(t, "aa"), (t + dt.timedelta(minutes=1), None), (t + dt.timedelta(minutes=2), "bb")]
    assert deploys(hashes) == [(t + dt.timedelta(minutes=2), "bb")]
    assert deploys([(t, "aa"), (t, "aa")]) == []
