"""Crash cluster alert decisions: new clusters, regressions into a version, and velocity on both thresholds."""

from __future__ import annotations

from perfguard.domain.crash_alerts import (
    NEW,
    REGRESSION,
    VELOCITY,
    Seen,
    VelocityPolicy,
    VelocityStats,
    fast_growing,
    new_and_regressed,
)


def test_a_cluster_without_history_is_new_once_whatever_its_versions() -> None:
    seen = [Seen("c1", "2.3.1", "FATAL", 3), Seen("c1", "2.4.0", "FATAL", 1)]
    detections = new_and_regressed(seen, {})
    assert [(d.rule, d.alert_id(), d.severity) for d in detections] == [(NEW, "crash_cluster_new_c1", "high")]


def test_a_known_cluster_in_a_new_version_is_a_regression_and_in_a_known_one_nothing() -> None:
    history = {"c1": frozenset({"2.3.1"})}
    seen = [Seen("c1", "2.3.1", "FATAL", 5), Seen("c1", "2.4.0", "FATAL", 2)]
    detections = new_and_regressed(seen, history)
    assert [(d.rule, d.alert_id(), d.value) for d in detections] == [
        (REGRESSION, "crash_cluster_regression_c1_2.4.0", 2.0)
    ]


def test_non_fatal_new_clusters_are_low_severity() -> None:
    assert new_and_regressed([Seen("c2", "1", "NON_FATAL", 1)], {})[0].severity == "low"


def test_velocity_needs_both_the_share_of_sessions_and_the_users() -> None:
    policy = VelocityPolicy(percent=1.0, min_users=25)
    stats = [
        VelocityStats("both", "2.4.0", crashed_sessions=30, users=26, sessions=1000),  # 3 %, 26 users
        VelocityStats("few_users", "2.4.0", crashed_sessions=30, users=24, sessions=1000),
        VelocityStats("low_share", "2.4.0", crashed_sessions=30, users=30, sessions=3000),  # exactly 1 %: not more
        VelocityStats("no_sessions", "2.4.0", crashed_sessions=30, users=30, sessions=0),
    ]
    detections = fast_growing(stats, policy)
    assert [(d.rule, d.cluster_id, d.value, d.alert_id()) for d in detections] == [
        (VELOCITY, "both", 3.0, "crash_cluster_velocity_both_2.4.0")
    ]
