"""Recommendations: the reference's signal-to-advice rules (icp-canisters.md §7), each with its numbers.

Every rule looks at one signal and, only when it holds, returns advice with the figures that triggered it,
so a healthy canister gets none. Thresholds are the reference's (instructions near the 2B DTS slice, 30B of
the 40B update limit, 4B of the 5B query limit, heap above 2 GiB or 75 % of wasm_memory_limit, upgrades
near 300B, storage at half the burn, runway under the target, …).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from perfguard.domain.canister_cycles import Burn, Runway, Spike
from perfguard.domain.canister_memory import Headroom
from perfguard.domain.canister_methods import MethodFigures, PairFigures
from perfguard.domain.canister_status import CanisterStatus
from perfguard.domain.canister_usage import Culprit

GIB = 2**30
T = 10**12
READ_PREFIXES = ("get_", "list_", "read_", "query_", "fetch_", "lookup_", "count_", "is_", "has_")
HEARTBEAT_CYCLES_PER_DAY = 5_000_000 * 86_400  # base fee every round, ~1 round a second (a derived estimate)
RETRYABLE_CODES = {"2": "SYS_TRANSIENT", "5": "CANISTER_ERROR", "6": "SYS_UNKNOWN"}


@dataclass(frozen=True)
class Facts:
    """What is known about one canister at one poll."""

    name: str
    status: CanisterStatus | None = None
    burn: Burn | None = None
    runway: Runway | None = None
    headrooms: Sequence[Headroom] = ()
    spike: Spike | None = None
    culprits: Sequence[Culprit] = ()
    deploys: Sequence[tuple[object, str]] = ()
    methods: Sequence[MethodFigures] = ()
    pairs: Sequence[PairFigures] = ()
    method_names: frozenset[str] = frozenset()
    upgrade_instructions: int | None = None
    runway_target_days: float = 30.0


@dataclass(frozen=True)
class Advice:
    """One recommendation: the rule, how urgent, what to do, and the numbers behind it."""

    rule: str
    severity: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


def advise(facts: Facts) -> list[Advice]:
    """Every recommendation that holds, the most severe first."""
    found = [advice for rule in RULES for advice in rule(facts)]
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    return sorted(found, key=lambda a: order[a.severity])


def _runway(f: Facts) -> list[Advice]:
    if f.runway is None or f.runway.days >= f.runway_target_days:
        return []
    frozen = f.runway.liquid == 0
    return [
        Advice(
            "frozen" if frozen else "low_runway",
            "critical" if frozen or f.runway.days < 7 else "high",
            "Canister is at its freezing limit: top it up now (calls are rejected while frozen)"
            if frozen
            else f"Runway {f.runway.days:.1f} days (band {f.runway.low_days:.1f}–{f.runway.high_days:.1f}) is under "
            f"{f.runway_target_days:.0f}: top up, and keep 90–180 days in freezing_threshold",
            {
                "runway_days": round(f.runway.days, 2),
                "liquid_cycles": f.runway.liquid,
                "freezing_limit": f.runway.freezing_limit,
                "burn_per_day": f.burn.per_day if f.burn else None,
            },
        )
    ]


def _spike(f: Facts) -> list[Advice]:
    if f.spike is None:
        return []
    named = ", ".join(f"{c.method} ({c.share:.0%})" for c in f.culprits) or "no method counters"
    return [
        Advice(
            "burn_spike",
            "high",
            f"Burn {f.spike.recent_per_day / T:.3f}T/day is {f.spike.factor:.1f}x its baseline "
            f"{f.spike.baseline_per_day / T:.3f}T/day; grown most: {named}"
            + ("; a new module was deployed" if f.deploys else ""),
            {
                "recent_per_day": f.spike.recent_per_day,
                "baseline_per_day": f.spike.baseline_per_day,
                "methods": [c.method for c in f.culprits],
                "deploys": [module_hash for _, module_hash in f.deploys],
            },
        )
    ]


def _storage(f: Facts) -> list[Advice]:
    idle = f.status.idle_cycles_burned_per_day if f.status else None
    if not idle or f.burn is None or f.burn.per_day <= 0 or idle / f.burn.per_day < 0.5:
        return []
    s = f.status
    sizes = {"snapshots_size": s.snapshots_size, "wasm_chunk_store_size": s.wasm_chunk_store_size,
             "canister_history_size": s.canister_history_size} if s else {}  # fmt: skip
    return [
        Advice(
            "storage_dominated",
            "medium",
            f"Storage rent is {idle / f.burn.per_day:.0%} of the burn: delete snapshots and chunks, prune data",
            {"idle_per_day": idle, "burn_per_day": f.burn.per_day, **sizes},
        )
    ]


def _heartbeat(f: Facts) -> list[Advice]:
    if "canister_heartbeat" not in f.method_names:
        return []
    return [
        Advice(
            "heartbeat",
            "medium",
            "The canister runs canister_heartbeat every round: use timers (about "
            f"{HEARTBEAT_CYCLES_PER_DAY / T:.2f}T/day even when it does nothing)",
            {"estimated_cycles_per_day": HEARTBEAT_CYCLES_PER_DAY},
        )
    ]


def _heap(f: Facts) -> list[Advice]:
    s = f.status
    if s is None or s.wasm_memory_size is None:
        return []
    limit = s.wasm_memory_limit or 0
    if s.wasm_memory_size <= 2 * GIB and not (limit and s.wasm_memory_size > 0.75 * limit):
        return []
    return [
        Advice(
            "large_heap",
            "high",
            f"Heap {s.wasm_memory_size / GIB:.2f} GiB: move state to stable structures and set wasm_memory_limit "
            "and wasm_memory_threshold (upgrades can fail near 4 GiB)",
            {"wasm_memory_size": s.wasm_memory_size, "wasm_memory_limit": s.wasm_memory_limit},
        )
    ]


def _forecast(f: Facts) -> list[Advice]:
    return [
        Advice(
            "memory_growth",
            "high" if h.days_to_limit < 30 else "medium",
            f"{h.memory.capitalize()} memory reaches its limit in {h.days_to_limit:.0f} days at "
            f"{(h.growth_per_day or 0) / 2**20:.1f} MiB/day: shard, prune or move state",
            {"memory": h.memory, "used": h.used, "limit": h.limit, "growth_per_day": h.growth_per_day},
        )
        for h in f.headrooms
        if h.days_to_limit is not None and h.days_to_limit < 90
    ]


def _reserved(f: Facts) -> list[Advice]:
    if f.status is None or not f.status.reserved_cycles:
        return []
    return [
        Advice(
            "reserved_cycles",
            "medium",
            "Cycles are being reserved (the subnet is above 750 GiB): raise reserved_cycles_limit, set a "
            "memory_allocation or move subnet",
            {"reserved_cycles": f.status.reserved_cycles, "reserved_cycles_limit": f.status.reserved_cycles_limit},
        )
    ]


def _instructions(f: Facts) -> list[Advice]:
    found = []
    for m in f.methods:
        top = m.instructions_max
        if top is None:
            continue
        if m.call_type == "update" and top > 2_000_000_000:
            near = top > 30_000_000_000
            found.append(Advice(
                "instructions_near_limit" if near else "multi_round_update",
                "high" if near else "low",
                f"{m.method} used up to {top / 1e9:.1f}B instructions"
                + (" of the 40B limit: split the work across messages" if near else
                   ": each 2B slice adds a round (~1 s); batch via timers or paginate"),
                {"method": m.method, "instructions_max": top, "limit_share": m.limit_share},
            ))  # fmt: skip
        elif m.call_type in ("query", "composite") and top > 4_000_000_000:
            found.append(Advice(
                "instructions_near_limit", "high",
                f"Query {m.method} used up to {top / 1e9:.1f}B of the 5B limit: paginate or cache",
                {"method": m.method, "instructions_max": top, "limit_share": m.limit_share},
            ))  # fmt: skip
    return found


def _upgrade(f: Facts) -> list[Advice]:
    if f.upgrade_instructions is None or f.upgrade_instructions <= 100_000_000_000:
        return []
    return [
        Advice(
            "upgrade_instructions",
            "high",
            f"The last upgrade used {f.upgrade_instructions / 1e9:.0f}B of the 300B limit: keep state in stable memory",
            {"upgrade_instructions": f.upgrade_instructions},
        )
    ]


def _heavy_queries(f: Facts) -> list[Advice]:
    s = f.status
    if s is None or not s.query_calls_total or s.query_instructions_total is None:
        return []
    average = s.query_instructions_total / s.query_calls_total
    if average <= 1_000_000_000:
        return []
    return [
        Advice(
            "heavy_queries",
            "medium",
            f"Queries average {average / 1e6:.0f}M instructions: optimize or paginate them",
            {"num_calls_total": s.query_calls_total, "num_instructions_total": s.query_instructions_total},
        )
    ]


def _read_only_updates(f: Facts) -> list[Advice]:
    return [
        Advice(
            "update_only_reads",
            "medium",
            f"Update method {m.method} looks read-only ({m.per_second:.1f}/s, {m.cycles / T:.4f}T cycles in the "
            "window): make it a query (certified data if integrity matters): free and ~100 ms instead of ~2 s",
            {"method": m.method, "calls": m.calls, "cycles": m.cycles, "p50_ms": m.p50_ms},
        )
        for m in f.methods
        if m.call_type == "update" and m.method.startswith(READ_PREFIXES)
    ]


def _rejects(f: Facts) -> list[Advice]:
    found = []
    for m in f.methods:
        for code, count in sorted(m.failures_by_code.items()):
            if code in RETRYABLE_CODES and m.calls >= 20 and count / m.calls > 0.01:
                found.append(Advice(
                    "call_rejects",
                    "high" if code == "5" else "medium",
                    f"{m.method}: {count / m.calls:.1%} of calls rejected with {code} {RETRYABLE_CODES[code]}: "
                    + {"2": "back off and batch (a queue may be full)", "5": "the canister traps: read its logs",
                       "6": "make the call idempotent and retry"}[code],
                    {"method": m.method, "reject_code": code, "rejects": count, "calls": m.calls},
                ))  # fmt: skip
    return found


def _slow(f: Facts) -> list[Advice]:
    found = [
        Advice(
            "slow_updates",
            "medium",
            f"{m.method} P95 {m.p95_ms / 1000:.1f} s: the subnet may be busy: 1% compute allocation "
            "(0.864T/day) or another subnet",
            {"method": m.method, "p95_ms": m.p95_ms, "calls": m.calls},
        )
        for m in f.methods
        if m.call_type == "update" and m.calls >= 20 and m.p95_ms > 5_000
    ]
    found += [
        Advice(
            "slow_cross_canister",
            "medium",
            f"Calls {p.caller} -> {p.callee} P95 {p.p95_ms / 1000:.1f} s: parallelize independent awaits, batch, "
            "or put the pair on one subnet",
            {"caller": p.caller, "callee": p.callee, "p95_ms": p.p95_ms, "calls": p.calls},
        )
        for p in f.pairs
        if p.calls >= 20 and p.p95_ms > 5_000
    ]
    return found


RULES: tuple[Callable[[Facts], list[Advice]], ...] = (
    _runway,
    _spike,
    _storage,
    _heartbeat,
    _heap,
    _forecast,
    _reserved,
    _instructions,
    _upgrade,
    _heavy_queries,
    _read_only_updates,
    _rejects,
    _slow,
)
