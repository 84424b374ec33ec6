"""The ICP agent adapter drives the real icp-py-core agent against the fake replica over loopback HTTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from icp_agent import Agent

from perfguard.domain.canister_status import parse_status
from perfguard.icp.agent import (
    ERROR,
    REJECT,
    TIMEOUT,
    CanisterCallError,
    close_agent,
    make_agent,
    read_status,
    top_up,
)
from perfguard.local.canister_sim import GIB, MethodLoad, SimCanister
from perfguard.local.fake_replica import FakeReplica, serving

NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
WALLET = "rkp4c-7iaaa-aaaaa-aaaca-cai"


def canister(canister_id: str, **overrides: object) -> SimCanister:
    base: dict[str, object] = {
        "canister_id": canister_id,
        "name": "market",
        "created": NOW - dt.timedelta(days=1),
        "cycles": 10**13,
        "heap_bytes": GIB // 4,
        "stable_bytes": GIB,
        "methods": (MethodLoad("list", 10, 1_000_000, "query"),),
    }
    return SimCanister(**{**base, **overrides})  # type: ignore[arg-type]


HEALTHY = canister("rrkah-fqaaa-aaaaa-aaaaq-cai")
OLD = canister("ryjl3-tyaaa-aaaaa-aaaba-cai", fault="old")
DEAD = canister("mqygn-kiaaa-aaaar-qaadq-cai", fault="dead")
SLOW = canister("mxzaz-hqaaa-aaaar-qaada-cai", delay_seconds=1.0)
MALFORMED = canister("xevnm-gaaaa-aaaar-qafnq-cai", fault="malformed")
REJECTING = canister("e3mmv-5qaaa-aaaah-aadma-cai", fault="reject")


@contextmanager
def agent_for(url: str) -> Iterator[Agent]:
    agent = make_agent(url)
    try:
        yield agent
    finally:
        close_agent(agent)


@pytest.fixture(scope="module")
def replica() -> Iterator[tuple[FakeReplica, str]]:
    fake = FakeReplica([HEALTHY, OLD, DEAD, SLOW, MALFORMED, REJECTING], lambda: NOW, WALLET, 10**14)
    with serving(fake) as url:
        yield fake, url


def test_canister_status_decodes_every_field_by_name(replica: tuple[FakeReplica, str]) -> None:
    _, url = replica
    with agent_for(url) as agent:
        status = parse_status(read_status(agent, HEALTHY.canister_id, 5.0))
    state = HEALTHY.state_at(NOW)
    assert status.cycles == state.cycles and status.status == "running"
    assert status.wasm_memory_size == GIB // 4 and status.stable_memory_size == GIB
    # idle burn of 1.25 GiB: 1.25 x 127,000 x 86,400 cycles a day
    assert status.idle_cycles_burned_per_day == 13_716_000_000
    assert status.freezing_threshold == 2_592_000 and status.wasm_memory_limit == 3 * GIB
    assert status.query_calls_total == 864_000 and status.query_instructions_total == 864_000 * 1_000_000
    assert status.module_hash == "11" * 32


def test_an_older_canister_status_without_the_newer_fields_still_decodes(replica: tuple[FakeReplica, str]) -> None:
    _, url = replica
    with agent_for(url) as agent:
        status = parse_status(read_status(agent, OLD.canister_id, 5.0))
    assert status.cycles == OLD.state_at(NOW).cycles and status.freezing_threshold == 2_592_000
    assert status.wasm_memory_size is None and status.reserved_cycles is None
    assert status.idle_cycles_burned_per_day is None and status.query_calls_total is None


@pytest.mark.parametrize(("sim", "kind"), [(DEAD, ERROR), (SLOW, TIMEOUT), (MALFORMED, ERROR), (REJECTING, REJECT)])
def test_failures_are_translated_with_their_kind(replica: tuple[FakeReplica, str], sim: SimCanister, kind: str) -> None:
    _, url = replica
    with agent_for(url) as agent, pytest.raises(CanisterCallError) as caught:
        read_status(agent, sim.canister_id, 0.3)
    assert caught.value.kind == kind
    assert url not in str(caught.value)


def test_a_rejected_status_keeps_its_reject_code(replica: tuple[FakeReplica, str]) -> None:
    _, url = replica
    with agent_for(url) as agent, pytest.raises(CanisterCallError) as caught:
        read_status(agent, REJECTING.canister_id, 2.0)
    assert caught.value.reject_code == 5


def test_top_up_moves_cycles_from_the_wallet_through_a_certified_reply() -> None:
    target = canister("rrkah-fqaaa-aaaaa-aaaaq-cai")
    fake = FakeReplica([target], lambda: NOW, WALLET, 10**13)
    with serving(fake) as url, agent_for(url) as agent:
        before = target.state_at(NOW).cycles
        assert top_up(agent, WALLET, target.canister_id, 4 * 10**12, 5.0).outcome == "ok"
        assert target.state_at(NOW).cycles == before + 4 * 10**12 and fake.wallet_cycles == 6 * 10**12
        refused = top_up(agent, WALLET, target.canister_id, 7 * 10**12, 5.0)
    assert refused.outcome == "refused" and "insufficient" in refused.detail


def test_a_top_up_without_an_answer_is_unknown_not_failed() -> None:
    fake = FakeReplica([], lambda: NOW, WALLET, 10**13)
    with serving(fake) as url:
        pass  # the server is gone: the request may or may not have been executed
    with agent_for(url) as agent:
        result = top_up(agent, WALLET, HEALTHY.canister_id, 10**12, 1.0)
    assert result.outcome == "unknown"
