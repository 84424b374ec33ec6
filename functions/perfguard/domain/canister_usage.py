"""Which methods and deploys explain a cycles spike: per-method usage rates before and during it.

Usage comes from per-method counters (calls and instructions, e.g. `/metrics` counters summed since the
canister started) read at two moments: rate = (after − before) / seconds; a counter that went down was reset
by an upgrade, so its new value is the count since. A method's cycles per day follow the update cost
(5,000,000 per call + 1 per instruction, x subnet nodes / 13). The methods whose cycles per day grew the
most explain the spike, each with its share of the growth; a `module_hash` change inside the window is a
deploy that may explain it too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from perfguard.domain.canister_methods import UPDATE_BASE_FEE


@dataclass(frozen=True)
class MethodUse:
    """Calls and instructions per day of one method."""

    calls_per_day: float
    instructions_per_day: float

    def cycles_per_day(self, subnet_nodes: int = 13) -> float:
        """What these calls cost a day, as update calls."""
        return (self.calls_per_day * UPDATE_BASE_FEE + self.instructions_per_day) * subnet_nodes / 13


@dataclass(frozen=True)
class Culprit:
    """A method whose cost grew: before and during, and its share of the growth."""

    method: str
    baseline_calls_per_day: float
    recent_calls_per_day: float
    extra_cycles_per_day: float
    share: float


MIN_SHARE = 0.01
Counters = Mapping[str, Mapping[str, int]]  # {"calls": {method: n}, "instructions": {method: n}}


def usage(before: Counters, after: Counters, seconds: float) -> dict[str, MethodUse]:
    """Per-method rates between two counter readings `seconds` apart."""
    if seconds <= 0:
        return {}
    per_day = 86_400 / seconds
    methods = set(after.get("calls", {})) | set(after.get("instructions", {}))
    return {
        method: MethodUse(
            _delta(before.get("calls", {}), after.get("calls", {}), method) * per_day,
            _delta(before.get("instructions", {}), after.get("instructions", {}), method) * per_day,
        )
        for method in sorted(methods)
    }


def _delta(before: Mapping[str, int], after: Mapping[str, int], method: str) -> int:
    now, then = after.get(method, 0), before.get(method, 0)
    return now - then if now >= then else now  # reset by an upgrade: counted from zero again


def culprits(
    recent: Mapping[str, MethodUse], baseline: Mapping[str, MethodUse], subnet_nodes: int = 13, top: int = 3
) -> list[Culprit]:
    """The methods whose cycles per day grew, the largest growth first, with their share of all growth."""
    empty = MethodUse(0.0, 0.0)
    growth = {
        method: use.cycles_per_day(subnet_nodes) - baseline.get(method, empty).cycles_per_day(subnet_nodes)
        for method, use in recent.items()
    }
    total = sum(extra for extra in growth.values() if extra > 0)
    # A method with under 1 % of the growth explains nothing (and rounding gives every method a little).
    grown = [m for m, extra in growth.items() if extra > 0 and extra >= MIN_SHARE * total]
    ranked = sorted(grown, key=lambda m: -growth[m])[:top]
    return [
        Culprit(
            method,
            baseline.get(method, empty).calls_per_day,
            recent[method].calls_per_day,
            growth[method],
            growth[method] / total if total else 0.0,
        )
        for method in ranked
    ]


def deploys(hashes: Sequence[tuple[object, str | None]]) -> list[tuple[object, str]]:
    """The moments the module hash changed, with the new hash (readings in time order)."""
    changes = []
    previous: str | None = None
    for moment, module_hash in hashes:
        if module_hash and previous and module_hash != previous:
            changes.append((moment, module_hash))
        previous = module_hash or previous
    return changes
