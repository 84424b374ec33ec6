"""canister_status read leniently: only cycles is required; fields of the wrong shape count as absent."""

from __future__ import annotations

import pytest

from perfguard.domain.canister_status import CanisterStatus, parse_status
from perfguard.errors import ValidationError


def test_the_newest_fields_are_read() -> None:
    status = parse_status(
        {
            "status": {"running": None},
            "cycles": 196_157_756_924,
            "memory_size": 3_057_320,
            "memory_metrics": {"wasm_memory_size": 1_000, "stable_memory_size": 2_000, "snapshots_size": 5},
            "settings": {"freezing_threshold": 2_592_000, "wasm_memory_limit": 3 * 2**30},
            "idle_cycles_burned_per_day": 31_243_414,
            "reserved_cycles": 0,
            "module_hash": [b"\xab\xcd"],
            "version": 7,
            "query_stats": {"num_calls_total": 1_469, "num_instructions_total": 429_285_142},
        }
    )
    assert status == CanisterStatus(
        cycles=196_157_756_924, status="running", memory_size=3_057_320, wasm_memory_size=1_000,
        stable_memory_size=2_000, snapshots_size=5, reserved_cycles=0, idle_cycles_burned_per_day=31_243_414,
        freezing_threshold=2_592_000, wasm_memory_limit=3 * 2**30, module_hash="abcd", version=7,
        query_calls_total=1_469, query_instructions_total=429_285_142,
    )  # fmt: skip
    # The dfx sample's freezing limit: 31,243,414 a day x 30 days
    assert status.freezing_limit(31_243_414) == 937_302_420


def test_an_old_reply_and_odd_shapes_leave_fields_absent() -> None:
    status = parse_status({"cycles": 5, "status": "running", "memory_metrics": [1], "module_hash": [], "version": -1})
    assert status == CanisterStatus(cycles=5)
    assert status.freezing_limit(86_400) == 2_592_000  # the protocol default threshold: 30 days


@pytest.mark.parametrize("cycles", [None, -1, "12", True, 1.5])
def test_cycles_are_required(cycles: object) -> None:
    with pytest.raises(ValidationError, match="no `cycles`"):
        parse_status({"cycles": cycles})
