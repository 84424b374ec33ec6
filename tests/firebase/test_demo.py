"""The demo's Firebase fills the export tables (backfill, then appends), and within a few import ticks the
spiking cluster raises its velocity alert with the stack and the device breakdown."""

from __future__ import annotations

import datetime as dt
import json

from perfguard.api.firebase_import import import_firebase
from perfguard.firebase.demo import DemoFirebase
from perfguard.firebase.generator import SPIKE_KIND
from perfguard.runtime import Runtime
from tests.firebase.conftest import T0, Clock


def test_the_demo_spike_raises_the_velocity_alert(runtime: Runtime, clock: Clock) -> None:
    demo = DemoFirebase(runtime, clock=clock)
    demo.start()
    demo.stop()
    first = import_firebase(runtime)
    assert first["metrics"] > 1000 and first["crash_events"] > 0
    assert not [a for a in first["alerts"] if a.startswith("crash_cluster_velocity")]
    for minutes in (5, 10, 15):
        clock.now = T0 + dt.timedelta(minutes=minutes)
        demo.append()
        raised = [a for a in import_firebase(runtime)["alerts"] if a.startswith("crash_cluster_velocity")]
        if raised:
            break
    assert len(raised) == 1 and raised[0].endswith("_2.4.0")
    context = json.loads(
        runtime.warehouse.query("SELECT context FROM performance_alerts WHERE id = @id", {"id": raised[0]})[0][
            "context"
        ]
    )
    assert context["top_frames"][0] == " ".join(SPIKE_KIND.frames[0][:2])
    assert context["breakdown"]["device_model"]
