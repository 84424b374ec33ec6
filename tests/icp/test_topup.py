"""The cycles_top_up remediation action through remediate_alert, the real agent and the fake replica's wallet:
off by default, dry run first, caps per canister and per day, an audit row and a Slack notice per act, and no
blind retry after an unknown outcome."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfguard.api.auth import KeyRing
from perfguard.api.canisters import load_canisters
from perfguard.api.remediation import remediate_alert
from perfguard.bus.memory import MemoryBus
from perfguard.local.canister_sim import GIB, SimCanister
from perfguard.local.fake_replica import FakeReplica, serving
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from tests.support.doubles import alert_message, embedded_store
from tests.support.slack_receiver import SlackReceiver, slack_receiver

T0 = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
WALLET = "rkp4c-7iaaa-aaaaa-aaaca-cai"
MARKET = "rrkah-fqaaa-aaaaa-aaaaq-cai"
T = 10**12


@dataclasses.dataclass
class World:
    runtime: Runtime
    replica: FakeReplica
    slack: SlackReceiver
    url: str

    @property
    def market(self) -> SimCanister:
        return self.replica.canisters[MARKET]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    sim = SimCanister(MARKET, "marketplace", T0 - dt.timedelta(days=1), 2 * T, GIB)
    replica = FakeReplica([sim], lambda: T0, WALLET, 100 * T)
    (tmp_path / "canisters.yaml").write_text(f"canisters:\n  - {{name: marketplace, canister_id: {MARKET}}}\n")
    load_canisters.cache_clear()
    with serving(replica) as url, slack_receiver() as slack:
        settings = Settings(
            data_dir=str(tmp_path),
            canisters_file=str(tmp_path / "canisters.yaml"),
            icp_replica_url=url,
            remediation_mode="on",
            topup_wallet_canister=WALLET,
            topup_amount_cycles=5 * T,
            topup_max_per_canister_per_day=2,
            topup_max_cycles_per_day=20 * T,
            slack_webhook_url=slack.webhook_url,
        )
        store = embedded_store(tmp_path / "t.duckdb")
        yield World(Runtime(settings, store, MemoryBus(), KeyRing([]), clock=lambda: T0), replica, slack, url)
        store.close()


def runway_alert(alert_id: str, minutes: int = 0, endpoint: str = "marketplace") -> Any:
    at = T0 + dt.timedelta(minutes=minutes)
    return alert_message(
        "open", at, at.isoformat(), id=alert_id, rule="canister_cycles_runway", metric_type="canister_cycles",
        endpoint_or_operation=endpoint, current_value=12.0, threshold_value=30.0,
    )  # fmt: skip


def at(world: World, minutes: int) -> None:
    world.runtime.clock = lambda: T0 + dt.timedelta(minutes=minutes)


def test_a_runway_alert_tops_the_canister_up_once_with_an_audit_row_and_a_notice(world: World) -> None:
    before = world.market.state_at(T0).cycles
    [row] = remediate_alert(world.runtime, runway_alert("a1"))
    assert (row["action"], row["mode"], row["outcome"]) == ("cycles_top_up", "executed", "ok")
    assert row["detail"] == f"sent {5 * T} cycles from wallet {WALLET} to {MARKET}"
    assert world.market.state_at(T0).cycles == before + 5 * T and world.replica.wallet_cycles == 95 * T
    [notice] = world.slack.of("webhook")
    assert "Cycles top-up of marketplace (executed)" in notice.payload()["text"]
    assert remediate_alert(world.runtime, runway_alert("a1")) == []  # a redelivery repeats nothing
    assert world.replica.wallet_cycles == 95 * T


def test_dry_run_records_what_it_would_send_and_sends_nothing(world: World) -> None:
    world.runtime.settings = dataclasses.replace(world.runtime.settings, remediation_mode="dry_run")
    [row] = remediate_alert(world.runtime, runway_alert("a1"))
    assert (row["mode"], row["outcome"]) == ("dry_run", "skipped") and row["detail"].startswith("would send")
    assert world.replica.wallet_cycles == 100 * T and world.market.deposits == []


def test_off_by_default() -> None:
    assert Settings().remediation_mode == "off" and Settings().topup_wallet_canister == ""


def test_the_per_canister_cap_holds_across_alerts(world: World) -> None:
    for n, minutes in enumerate((0, 70, 140), start=1):  # past the 60-minute cooldown each time
        at(world, minutes)
        [row] = remediate_alert(world.runtime, runway_alert(f"a{n}", minutes))
    assert row["mode"] == "skipped" and row["detail"].startswith("cap: 2 top-up(s) of this canister")
    assert world.replica.wallet_cycles == 90 * T


def test_the_daily_cycles_cap_counts_every_canister(world: World) -> None:
    world.runtime.settings = dataclasses.replace(
        world.runtime.settings, topup_max_cycles_per_day=8 * T, topup_max_per_canister_per_day=5
    )
    remediate_alert(world.runtime, runway_alert("a1"))
    at(world, 70)
    [row] = remediate_alert(world.runtime, runway_alert("a2", 70))
    assert row["mode"] == "skipped" and "would pass" in row["detail"]


def test_an_unknown_outcome_is_not_retried_blindly(world: World, tmp_path: Path) -> None:
    dead = "http://127.0.0.1:9"  # nothing listens: the call may or may not have arrived
    world.runtime.settings = dataclasses.replace(world.runtime.settings, icp_replica_url=dead)
    [row] = remediate_alert(world.runtime, runway_alert("a1"))
    assert (row["mode"], row["outcome"]) == ("executed", "failed") and row["detail"].startswith("unknown outcome")
    world.runtime.settings = dataclasses.replace(world.runtime.settings, icp_replica_url=world.url)
    at(world, 70)
    [again] = remediate_alert(world.runtime, runway_alert("a2", 70))
    assert again["mode"] == "skipped" and "outcome is unknown" in again["detail"]
    assert world.replica.wallet_cycles == 100 * T


def test_a_refused_top_up_is_failed_and_moves_nothing(world: World) -> None:
    world.replica.wallet_cycles = T
    [row] = remediate_alert(world.runtime, runway_alert("a1"))
    assert (row["outcome"], row["detail"].split(":")[0]) == ("failed", "refused")
    assert world.market.deposits == []


def test_an_unknown_canister_is_skipped(world: World) -> None:
    [row] = remediate_alert(world.runtime, runway_alert("a1", endpoint="nobody"))
    assert row["mode"] == "skipped" and "not in canisters_file" in row["detail"]
