"""A canister's `canister_status` reply, read leniently: older canisters (and older replicas) lack newer fields.

The adapter hands over the decoded Candid record with field names restored (unknown fields keep their hash);
every field beyond `cycles` is optional here, and a field of the wrong shape counts as absent rather than
failing the poll. Field meanings: icp-canisters.md §1.2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from perfguard.errors import ValidationError

DEFAULT_FREEZING_THRESHOLD = 2_592_000  # seconds: the protocol default (30 days) when settings lack it


@dataclass(frozen=True)
class CanisterStatus:
    """The figures perfguard uses from canister_status; None where the reply did not carry them."""

    cycles: int
    status: str | None = None
    memory_size: int | None = None
    wasm_memory_size: int | None = None
    stable_memory_size: int | None = None
    snapshots_size: int | None = None
    wasm_chunk_store_size: int | None = None
    canister_history_size: int | None = None
    reserved_cycles: int | None = None
    idle_cycles_burned_per_day: int | None = None
    freezing_threshold: int | None = None
    wasm_memory_limit: int | None = None
    reserved_cycles_limit: int | None = None
    module_hash: str | None = None
    version: int | None = None
    query_calls_total: int | None = None
    query_instructions_total: int | None = None

    def freezing_limit(self, idle_per_day: int) -> int:
        """Cycles the canister must keep: idle burn rate x freezing threshold (IC spec, freezing math)."""
        threshold = DEFAULT_FREEZING_THRESHOLD if self.freezing_threshold is None else self.freezing_threshold
        return idle_per_day * threshold // 86_400


def parse_status(fields: Mapping[str, Any]) -> CanisterStatus:
    """The status of a decoded reply; only `cycles` is required."""
    cycles = _nat(fields.get("cycles"))
    if cycles is None:
        raise ValidationError("canister_status reply has no `cycles` (a natural number)")
    settings = _record(fields.get("settings"))
    memory = _record(fields.get("memory_metrics"))
    stats = _record(fields.get("query_stats"))
    return CanisterStatus(
        cycles=cycles,
        status=_variant(fields.get("status")),
        memory_size=_nat(fields.get("memory_size")),
        wasm_memory_size=_nat(memory.get("wasm_memory_size")),
        stable_memory_size=_nat(memory.get("stable_memory_size")),
        snapshots_size=_nat(memory.get("snapshots_size")),
        wasm_chunk_store_size=_nat(memory.get("wasm_chunk_store_size")),
        canister_history_size=_nat(memory.get("canister_history_size")),
        reserved_cycles=_nat(fields.get("reserved_cycles")),
        idle_cycles_burned_per_day=_nat(fields.get("idle_cycles_burned_per_day")),
        freezing_threshold=_nat(settings.get("freezing_threshold")),
        wasm_memory_limit=_nat(settings.get("wasm_memory_limit")),
        reserved_cycles_limit=_nat(settings.get("reserved_cycles_limit")),
        module_hash=_blob_hex(fields.get("module_hash")),
        version=_nat(fields.get("version")),
        query_calls_total=_nat(stats.get("num_calls_total")),
        query_instructions_total=_nat(stats.get("num_instructions_total")),
    )


def _nat(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _record(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _variant(value: Any) -> str | None:
    """A Candid variant decodes to {tag: payload}; the tag."""
    if isinstance(value, Mapping) and len(value) == 1:
        return str(next(iter(value)))
    return None


def _blob_hex(value: Any) -> str | None:
    """`opt blob`: [] (none) or [bytes]; hex of the bytes."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, list) and value and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        return bytes(value).hex()
    return None
