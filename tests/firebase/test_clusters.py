"""Crash clusters and their alerts over a real DuckDB store: Crashlytics' lumped Flutter issue splits into two
clusters, each new cluster alerts once, a known cluster in a new version is a regression, and a spike in one
version raises the velocity alert with the stack and the device breakdown, published for notify_alert."""

from __future__ import annotations

import datetime as dt
import json

from perfguard.api.alerting import ALERTS_TOPIC
from perfguard.api.firebase_import import import_firebase
from perfguard.bus.memory import MemoryBus
from perfguard.firebase.generator import LUMPED_ISSUE, SPIKE_KIND, Generator, Profile, Spike
from perfguard.notify.investigation import investigation
from perfguard.notify.port import AlertEvent
from perfguard.runtime import Runtime
from tests.firebase.conftest import T0, Clock
from tests.firebase.loading import load

QUIET = Profile(users=300, sessions_per_hour=600, fatal_rate=0.02, anr_rate=0.01, nonfatal_rate=0.02)


def alerts(runtime: Runtime) -> list[dict[str, object]]:
    return runtime.warehouse.query("SELECT id, rule, severity, context FROM performance_alerts ORDER BY id", {})


def test_the_lumped_flutter_issue_becomes_two_clusters(runtime: Runtime) -> None:
    load(runtime, Generator(seed=1, profile=QUIET).generate(T0 - dt.timedelta(hours=3), T0), realtime=True)
    import_firebase(runtime)
    rows = runtime.warehouse.query(
        "SELECT cluster_id, representative_stack FROM crash_clusters WHERE issue_id = @issue", {"issue": LUMPED_ISSUE}
    )
    stacks = sorted(json.loads(r["representative_stack"])[0] for r in rows)
    assert stacks == ["buy_listing.dart BuyListingCubit.submit", "swap_page.dart SwapPage._onConfirm"]


def test_each_new_cluster_alerts_once(runtime: Runtime, clock: Clock) -> None:
    generator = Generator(seed=2, profile=QUIET)
    load(runtime, generator.generate(T0 - dt.timedelta(hours=3), T0), realtime=True)
    first = import_firebase(runtime)["alerts"]
    clusters = runtime.warehouse.query("SELECT COUNT(DISTINCT cluster_id) AS n FROM crash_events", {})[0]["n"]
    assert len([a for a in first if a.startswith("crash_cluster_new_")]) == clusters > 3
    clock.now = T0 + dt.timedelta(minutes=30)
    load(runtime, generator.generate(T0, clock.now), realtime=True)
    assert [a for a in import_firebase(runtime)["alerts"] if a.startswith("crash_cluster_new_")] == []


def test_a_known_cluster_in_a_new_version_is_a_regression(runtime: Runtime, clock: Clock) -> None:
    old = Profile(users=300, sessions_per_hour=600, fatal_rate=0.05, versions=("2.3.1",))
    load(runtime, Generator(seed=3, profile=old).generate(T0 - dt.timedelta(hours=2), T0), realtime=True)
    import_firebase(runtime)
    clock.now = T0 + dt.timedelta(hours=1)
    new = Profile(users=300, sessions_per_hour=600, fatal_rate=0.05, versions=("2.5.0",))
    load(runtime, Generator(seed=4, profile=new).generate(T0, clock.now), realtime=True)
    raised = import_firebase(runtime)["alerts"]
    regressions = [a for a in raised if a.startswith("crash_cluster_regression_")]
    assert regressions and all(a.endswith("_2.5.0") for a in regressions)


def test_a_spike_raises_the_velocity_alert_with_stack_and_devices(runtime: Runtime, clock: Clock) -> None:
    bus = runtime.bus
    assert isinstance(bus, MemoryBus)
    spike = Spike(start=T0 - dt.timedelta(minutes=30), version="2.4.0", rate=0.3)
    profile = Profile(users=600, sessions_per_hour=1200, spike=spike)
    load(runtime, Generator(seed=5, profile=profile).generate(T0 - dt.timedelta(hours=1), T0), realtime=True)
    raised = import_firebase(runtime)["alerts"]
    velocity = [a for a in raised if a.startswith("crash_cluster_velocity_")]
    assert len(velocity) == 1 and velocity[0].endswith("_2.4.0")
    row = next(a for a in alerts(runtime) if a["id"] == velocity[0])
    context = json.loads(str(row["context"]))
    assert row["severity"] == "critical"
    assert context["top_frames"][:2] == [f"{f} {s}" for f, s, _ in SPIKE_KIND.frames]
    assert set(context["breakdown"]) == {"device_model", "os_version", "memory", "process_state"}
    assert sum(context["breakdown"]["process_state"].values()) == context["events"]
    (first_step,) = context["recommendations"]
    assert first_step.startswith("Halt the rollout of 2.4.0")
    published = [m for m in bus.on(ALERTS_TOPIC) if m["id"] == velocity[0]]
    assert [(m["status"], m["rule"]) for m in published] == [("open", "crash_cluster_velocity")]
    # What Slack and email show (perfguard.notify.investigation reads top_frames and breakdown).
    stack, where = investigation(AlertEvent.from_message(published[0]))[:2]
    assert stack == (
        "Stack (first in-app frames): checkout_page.dart CheckoutPage.build <- price_format.dart formatPrice"
    )
    assert where.startswith("Where: devices ") and "memory" in where
    clock.now = T0 + dt.timedelta(minutes=5)
    assert [a for a in import_firebase(runtime)["alerts"] if a.startswith("crash_cluster_velocity_")] == []
