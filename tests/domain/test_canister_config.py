"""The canisters file: what it accepts, the default metric names, and errors that name the entry and field."""

from __future__ import annotations

import re

import pytest

from perfguard.domain.canister_config import HEAP_LIMIT_WASM32, STABLE_LIMIT, parse_canisters
from perfguard.errors import ConfigError

ID = "rrkah-fqaaa-aaaaa-aaaaq-cai"


def test_a_full_entry_and_the_defaults() -> None:
    text = f"""
canisters:
  - name: marketplace
    canister_id: {ID}
    metrics: false
    metric_names: {{cycles: market_cycles, method_calls: [calls_a, calls_b]}}
    limits: {{heap_bytes: 1000}}
    subnet_nodes: 34
  - canister_id: ryjl3-tyaaa-aaaaa-aaaba-cai
"""
    market, ledger = parse_canisters(text, "c.yaml")
    assert (market.name, market.metrics, market.heap_limit, market.stable_limit, market.subnet_nodes) == (
        "marketplace", False, 1000, STABLE_LIMIT, 34,
    )  # fmt: skip
    assert market.names_for("cycles") == ("market_cycles", "cycle_balance", "cycles_balance", "canister_cycles_balance")
    assert market.names_for("method_calls")[:2] == ("calls_a", "calls_b")
    assert (ledger.name, ledger.metrics, ledger.heap_limit) == ("ryjl3-tyaaa-aaaaa-aaaba-cai", True, HEAP_LIMIT_WASM32)


def test_an_empty_file_polls_nothing() -> None:
    assert parse_canisters("", "c.yaml") == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("canisters: {}", "must be a mapping with only `canisters"),
        ("- a", "must be a mapping with only `canisters"),
        ("canisters: [{canister_id: nope}]", "entry 1: field 'canister_id' must be a principal"),
        (f"canisters: [{{canister_id: {ID}, colour: red}}]", "entry 1: unknown field(s) colour"),
        (f"canisters: [{{canister_id: {ID}, limits: {{heap_bytes: -1}}}}]", "'limits.heap_bytes' must be a positive"),
        (f"canisters: [{{canister_id: {ID}, limits: {{disk: 1}}}}]", "'limits' may only hold"),
        (f"canisters: [{{canister_id: {ID}, metric_names: {{colour: x}}}}]", "unknown meaning(s) colour"),
        (f"canisters: [{{canister_id: {ID}, subnet_nodes: 0}}]", "'subnet_nodes' must be a positive"),
        (f"canisters: [{{canister_id: {ID}, metrics: maybe}}]", "'metrics' must be true or false"),
        (f"canisters: [{{canister_id: {ID}, metrics_url: ftp://x}}]", "'metrics_url' must be an http"),
        (f"canisters: [{{canister_id: {ID}}}, {{canister_id: {ID}}}]", "lists a canister twice"),
        ("canisters: [", "is not valid YAML"),
    ],
)
def test_mistakes_are_config_errors_naming_the_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_canisters(text, "c.yaml")
