"""Simulated ICP canisters for the fake replica: a pure model of cycles, memory and calls at any moment.

A canister's state at time `t` is computed in closed form from its parameters (no ticking), so a test can
ask for any moment and get the same answer, and the numbers can be checked by hand with the reference's
cost formulas (icp-canisters.md §5, 13-node subnet):

* idle burn per second = memory_bytes * 127,000 / 2**30 (storage rent), memory growing linearly;
* an update call costs 5,000,000 + 1 cycle per instruction; an ingress query costs the canister nothing;
* a spike multiplies one method's call rate between `start` and `end`;
* deposits (top-ups) add cycles from their moment on; the balance never goes below zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

GIB = 2**30
STORAGE_PER_GIB_SECOND = 127_000
UPDATE_BASE_FEE = 5_000_000
DEFAULT_FREEZING_THRESHOLD = 2_592_000  # seconds (30 days)


@dataclass(frozen=True)
class MethodLoad:
    """Calls of one method: per second, instructions per call, and whether they are updates (cost cycles)."""

    name: str
    per_second: float
    instructions: int
    call_type: str = "update"

    def cost_per_call(self) -> int:
        """Cycles the canister pays per call: base fee + instructions for an update, nothing for a query."""
        return UPDATE_BASE_FEE + self.instructions if self.call_type == "update" else 0


@dataclass(frozen=True)
class Spike:
    """A method called `factor` times as often between `start` and `end`."""

    method: str
    start: dt.datetime
    end: dt.datetime
    factor: float


@dataclass(frozen=True)
class State:
    """What a canister reports at one moment."""

    cycles: int
    memory_bytes: int
    heap_bytes: int
    stable_bytes: int
    idle_burn_per_day: int
    module_hash: bytes
    calls: dict[str, int]
    instructions: dict[str, int]
    query_calls: int
    query_instructions: int


@dataclass
class SimCanister:
    """One simulated canister; `deposits` grows when the fake replica accepts a top-up."""

    canister_id: str
    name: str
    created: dt.datetime
    cycles: int
    heap_bytes: int
    stable_bytes: int = 0
    heap_growth_per_day: int = 0
    stable_growth_per_day: int = 0
    methods: Sequence[MethodLoad] = ()
    spikes: Sequence[Spike] = ()
    deposits: list[tuple[dt.datetime, int]] = field(default_factory=list)
    deploys: Sequence[tuple[dt.datetime, bytes]] = ()
    module_hash: bytes = b"\x11" * 32
    freezing_threshold: int = DEFAULT_FREEZING_THRESHOLD
    wasm_memory_limit: int = 3 * GIB
    fault: str = ""  # "", dead, slow, malformed, reject, old (a canister_status without the newer fields)
    delay_seconds: float = 0.0

    def state_at(self, at: dt.datetime) -> State:
        """The canister's figures at `at` (never before its creation)."""
        seconds = max((at - self.created).total_seconds(), 0.0)
        heap = self.heap_bytes + int(self.heap_growth_per_day * seconds / 86_400)
        stable = self.stable_bytes + int(self.stable_growth_per_day * seconds / 86_400)
        calls = {m.name: int(self.calls_until(m, at)) for m in self.methods}
        spent = sum(calls[m.name] * m.cost_per_call() for m in self.methods) + self.rent_until(at)
        deposited = sum(amount for moment, amount in self.deposits if moment <= at)
        queries = [m for m in self.methods if m.call_type == "query"]
        return State(
            cycles=max(self.cycles - spent + deposited, 0),
            memory_bytes=heap + stable,
            heap_bytes=heap,
            stable_bytes=stable,
            idle_burn_per_day=(heap + stable) * STORAGE_PER_GIB_SECOND * 86_400 // GIB,
            module_hash=self.hash_at(at),
            calls=calls,
            instructions={m.name: calls[m.name] * m.instructions for m in self.methods},
            query_calls=sum(calls[m.name] for m in queries),
            query_instructions=sum(calls[m.name] * m.instructions for m in queries),
        )

    def calls_until(self, method: MethodLoad, at: dt.datetime) -> float:
        """Calls of `method` from creation to `at`, spikes included."""
        calls = method.per_second * max((at - self.created).total_seconds(), 0.0)
        for spike in self.spikes:
            if spike.method == method.name:
                overlap = (min(at, spike.end) - max(self.created, spike.start)).total_seconds()
                calls += method.per_second * (spike.factor - 1) * max(overlap, 0.0)
        return calls

    def rent_until(self, at: dt.datetime) -> int:
        """Storage rent from creation to `at`: the integral of memory x 127,000 / GiB per second."""
        seconds = max((at - self.created).total_seconds(), 0.0)
        growth_per_second = (self.heap_growth_per_day + self.stable_growth_per_day) / 86_400
        byte_seconds = (self.heap_bytes + self.stable_bytes) * seconds + growth_per_second * seconds**2 / 2
        return int(byte_seconds * STORAGE_PER_GIB_SECOND / GIB)

    def hash_at(self, at: dt.datetime) -> bytes:
        """The module hash deployed at `at`."""
        current = self.module_hash
        for moment, module_hash in sorted(self.deploys):
            if moment <= at:
                current = module_hash
        return current

    def deposit(self, at: dt.datetime, amount: int) -> None:
        """A top-up of `amount` cycles arriving at `at`."""
        self.deposits.append((at, amount))
