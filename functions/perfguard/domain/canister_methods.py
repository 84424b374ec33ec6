"""Per-method figures of canister calls, cross-canister pairs, and the bottleneck ranking.

Input: the `api_latency` records clients send for canister calls, tagged `canister_id`, `method`,
`call_type` (query, update or composite), `outcome`/`reject_code` and, where the canister reports them,
`instructions` (docs/canisters.md shows how a Flutter or web client produces them); cross-canister calls
also carry `caller_canister` and `callee_canister`.

* percentiles: linear interpolation between order statistics (numpy's default);
* instructions against the per-message limits: 40B for an update, 5B for a query or composite query;
* cycles per method: an update pays 5,000,000 + 1 per instruction, scaled by subnet nodes / 13; an ingress
  query is free (icp-canisters.md §5);
* bottlenecks: operations ranked by their share of the total time (calls x mean = sum of latencies, as
  pg_stat_statements' total_exec_time) and shown with their share of the cycles.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

UPDATE_BASE_FEE = 5_000_000
INSTRUCTION_LIMITS = {"update": 40_000_000_000, "query": 5_000_000_000, "composite": 5_000_000_000}


@dataclass(frozen=True)
class CallRecord:
    """One timed call of a canister method."""

    method: str
    call_type: str
    latency_ms: float
    ok: bool = True
    reject_code: str | None = None
    instructions: int | None = None
    caller: str | None = None
    callee: str | None = None


@dataclass(frozen=True)
class MethodFigures:
    """What one method's calls came to over a window."""

    method: str
    call_type: str
    calls: int
    per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    total_ms: float
    failures: int
    failures_by_code: dict[str, int] = field(default_factory=dict)
    instructions_mean: float | None = None
    instructions_max: int | None = None
    limit_share: float | None = None  # largest instructions of a call / the per-message limit
    cycles: int = 0

    @property
    def failure_rate(self) -> float:
        """Failed calls / calls."""
        return self.failures / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class PairFigures:
    """Cross-canister calls from one canister to another."""

    caller: str
    callee: str
    calls: int
    p50_ms: float
    p95_ms: float
    failures: int
    failures_by_code: dict[str, int]


@dataclass(frozen=True)
class Bottleneck:
    """An operation's share of the total time and of the cycles."""

    method: str
    time_share: float
    cycles_share: float
    calls: int
    p95_ms: float


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation, numpy's default method."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def call_cycles(call_type: str, calls: int, instructions: int, subnet_nodes: int = 13) -> int:
    """Cycles the canister pays for calls of a method: updates only (an ingress query is free)."""
    if call_type != "update":
        return 0
    return (calls * UPDATE_BASE_FEE + instructions) * subnet_nodes // 13


def method_figures(records: Iterable[CallRecord], window_seconds: float, subnet_nodes: int = 13) -> list[MethodFigures]:
    """Figures per method, the busiest first."""
    groups: dict[tuple[str, str], list[CallRecord]] = {}
    for record in records:
        groups.setdefault((record.method, record.call_type), []).append(record)
    figures = [_figures(method, kind, calls, window_seconds, subnet_nodes) for (method, kind), calls in groups.items()]
    return sorted(figures, key=lambda f: (-f.calls, f.method))


def _figures(method: str, kind: str, calls: list[CallRecord], window: float, nodes: int) -> MethodFigures:
    latencies = [c.latency_ms for c in calls]
    failed = [c for c in calls if not c.ok]
    counted = [c.instructions for c in calls if c.instructions is not None]
    limit = INSTRUCTION_LIMITS.get(kind, INSTRUCTION_LIMITS["update"])
    return MethodFigures(
        method=method,
        call_type=kind,
        calls=len(calls),
        per_second=len(calls) / window if window > 0 else 0.0,
        p50_ms=percentile(latencies, 0.5),
        p95_ms=percentile(latencies, 0.95),
        p99_ms=percentile(latencies, 0.99),
        total_ms=sum(latencies),
        failures=len(failed),
        failures_by_code=dict(Counter(c.reject_code or "unknown" for c in failed)),
        instructions_mean=sum(counted) / len(counted) if counted else None,
        instructions_max=max(counted) if counted else None,
        limit_share=max(counted) / limit if counted else None,
        cycles=call_cycles(kind, len(calls), sum(counted), nodes),
    )


def pair_figures(records: Iterable[CallRecord]) -> list[PairFigures]:
    """Cross-canister call latency and failures per (caller, callee), the slowest p95 first."""
    pairs: dict[tuple[str, str], list[CallRecord]] = {}
    for record in records:
        if record.caller and record.callee:
            pairs.setdefault((record.caller, record.callee), []).append(record)
    figures = [
        PairFigures(
            caller,
            callee,
            len(calls),
            percentile([c.latency_ms for c in calls], 0.5),
            percentile([c.latency_ms for c in calls], 0.95),
            sum(1 for c in calls if not c.ok),
            dict(Counter(c.reject_code or "unknown" for c in calls if not c.ok)),
        )
        for (caller, callee), calls in pairs.items()
    ]
    return sorted(figures, key=lambda p: -p.p95_ms)


def bottlenecks(figures: Sequence[MethodFigures], top: int = 5) -> list[Bottleneck]:
    """The operations taking the largest share of the total time, with their share of the cycles."""
    total_ms = sum(f.total_ms for f in figures)
    total_cycles = sum(f.cycles for f in figures)
    ranked = sorted(figures, key=lambda f: -f.total_ms)[:top]
    return [
        Bottleneck(
            f.method,
            f.total_ms / total_ms if total_ms else 0.0,
            f.cycles / total_cycles if total_cycles else 0.0,
            f.calls,
            f.p95_ms,
        )
        for f in ranked
    ]
