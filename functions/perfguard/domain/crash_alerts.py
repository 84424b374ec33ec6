"""Which crash clusters deserve an alert: new ones, regressions into a new version, and fast-growing ones.

- crash_cluster_new: a cluster with no earlier event (Crashlytics' new fatal / non-fatal / ANR issue).
- crash_cluster_regression: a known cluster crashing in an app version it never crashed in before (a fix
  that did not hold, or the bug back in a new release); once per cluster and version.
- crash_cluster_velocity: in the trailing window, a cluster's fatal crashes hit more than `percent` of that
  version's sessions AND at least `min_users` users (Crashlytics' velocity alert: 1 % and 25 users in 30
  minutes by default); once per cluster and version, as Crashlytics does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

NEW, REGRESSION, VELOCITY = "crash_cluster_new", "crash_cluster_regression", "crash_cluster_velocity"


@dataclass(frozen=True)
class Seen:
    """A cluster's new events of this run in one app version."""

    cluster_id: str
    app_version: str
    error_type: str
    events: int


@dataclass(frozen=True)
class VelocityStats:
    """A cluster's fatal crashes of one app version in the velocity window, and that version's sessions."""

    cluster_id: str
    app_version: str
    crashed_sessions: int
    users: int
    sessions: int

    def percent(self) -> float:
        """Crashed sessions as a percentage of the version's sessions (0 without sessions)."""
        return 100.0 * self.crashed_sessions / self.sessions if self.sessions else 0.0


@dataclass(frozen=True)
class VelocityPolicy:
    """Thresholds of the velocity alert."""

    percent: float = 1.0
    min_users: int = 25
    window: dt.timedelta = dt.timedelta(minutes=30)


@dataclass(frozen=True)
class Detection:
    """One alert to raise: the rule, the cluster and version, and the value against its threshold."""

    rule: str
    cluster_id: str
    app_version: str
    value: float
    threshold: float
    severity: str

    def alert_id(self) -> str:
        """Stable per episode: a cluster is new once; regressions and velocity once per version."""
        suffix = "" if self.rule == NEW else f"_{self.app_version}"
        return f"{self.rule}_{self.cluster_id}{suffix}"


def severity_of(error_type: str) -> str:
    """Fatal crashes page; ANRs matter; non-fatals are information."""
    return {"FATAL": "high", "ANR": "medium"}.get(error_type, "low")


def new_and_regressed(seen: Sequence[Seen], history: Mapping[str, frozenset[str]]) -> list[Detection]:
    """New clusters (absent from `history`, cluster -> versions seen before) and known ones in a new version."""
    detections: dict[str, Detection] = {}
    for s in sorted(seen, key=lambda s: (s.cluster_id, s.app_version)):
        before = history.get(s.cluster_id)
        if before is None:
            d = Detection(NEW, s.cluster_id, s.app_version, float(s.events), 0.0, severity_of(s.error_type))
        elif s.app_version not in before:
            d = Detection(REGRESSION, s.cluster_id, s.app_version, float(s.events), 0.0, "medium")
        else:
            continue
        detections.setdefault(d.alert_id(), d)
    return list(detections.values())


def fast_growing(stats: Iterable[VelocityStats], policy: VelocityPolicy) -> list[Detection]:
    """The clusters past both velocity thresholds (percentage of sessions and users)."""
    return [
        Detection(VELOCITY, s.cluster_id, s.app_version, round(s.percent(), 3), policy.percent, "critical")
        for s in sorted(stats, key=lambda s: (s.cluster_id, s.app_version))
        if s.percent() > policy.percent and s.users >= policy.min_users
    ]
