"""The rows of the contract between the canister poller and the rules: shapes, units, ids, outcomes."""

from __future__ import annotations

import datetime as dt

from perfguard.domain.canister_cycles import Burn, Runway
from perfguard.domain.canister_memory import Headroom
from perfguard.domain.canister_report import Report
from perfguard.domain.canister_rows import MAX_RUNWAY_DAYS, derived_rows, poll_row
from perfguard.domain.canister_status import CanisterStatus
from perfguard.domain.metric import MetricType, Outcome, Unit

AT = dt.datetime(2026, 11, 26, 12, 7, 42, 123456, tzinfo=dt.UTC)
MINUTE_US = int(dt.datetime(2026, 11, 26, 12, 7, tzinfo=dt.UTC).timestamp()) * 1_000_000
ID = "rrkah-fqaaa-aaaaa-aaaaq-cai"


def report(days: float) -> Report:
    rooms = (Headroom("heap", 1, 4, 75.0), Headroom("stable", 1, 10, 90.0))
    return Report(
        Burn(1_000, 900, 1_100, 5, 0), Runway(days, days / 2, days * 2, 5_000, 10), rooms, None, (), (), (), ()
    )


def test_a_poll_row_per_attempt_with_its_status_and_outcome() -> None:
    for status, outcome in (("ok", Outcome.OK), ("error", Outcome.ERROR), ("timeout", Outcome.TIMEOUT)):
        row = poll_row("marketplace", ID, AT, status, "production")
        assert (row.metric_type, row.unit, row.value, row.outcome) == (
            MetricType.CANISTER_CYCLES,
            Unit.COUNT,
            1.0,
            outcome,
        )
        assert row.tags == {"canister_id": ID, "measure": "poll", "status": status}
        assert (row.id, row.timestamp_us, row.source) == (f"canister_{ID}_poll_{MINUTE_US // 60_000_000}", MINUTE_US,
                                                          "canister_poller")  # fmt: skip


def test_derived_rows_carry_the_figures_with_their_units() -> None:
    status = CanisterStatus(
        cycles=25_731_649_271_052, memory_size=3_000, wasm_memory_size=1_000, stable_memory_size=2_000
    )
    rows = {r.tags["measure"]: r for r in derived_rows("marketplace", ID, AT, status, report(12.5), "production")}
    assert {m: (r.metric_type, r.unit, r.value) for m, r in rows.items()} == {
        "balance": (MetricType.CANISTER_CYCLES, Unit.CYCLES, 25_731_649_271_052.0),
        "burn_per_day": (MetricType.CANISTER_CYCLES, Unit.CYCLES, 1_000.0),
        "runway_days": (MetricType.CANISTER_CYCLES, Unit.DAYS, 12.5),
        "memory_bytes": (MetricType.MEMORY_USAGE, Unit.BYTES, 3_000.0),
        "heap_bytes": (MetricType.MEMORY_USAGE, Unit.BYTES, 1_000.0),
        "stable_bytes": (MetricType.MEMORY_USAGE, Unit.BYTES, 2_000.0),
        "headroom_pct": (MetricType.MEMORY_USAGE, Unit.PERCENTAGE, 75.0),  # the lowest of heap and stable
    }
    assert all(r.endpoint_or_operation == "marketplace" and r.tags["canister_id"] == ID for r in rows.values())


def test_an_endless_runway_is_capped_and_missing_figures_are_left_out() -> None:
    rows = derived_rows("m", ID, AT, CanisterStatus(cycles=5), report(float("inf")), "production")
    measures = {r.tags["measure"]: r.value for r in rows}
    assert measures == {"balance": 5.0, "burn_per_day": 1_000.0, "runway_days": MAX_RUNWAY_DAYS, "headroom_pct": 75.0}
