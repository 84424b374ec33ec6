"""Reconcile what the check finds now with the alerts already recorded.

An alert is identified by its rule and group (the endpoint): while one is open or investigating, a breach of
the same rule and group belongs to it, however long the episode lasts (a streak longer than the lookback
cannot show its own start, so the recorded alert keeps the true trigger time and id).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from perfguard.domain.thresholds import Breach

ACTIVE = ("open", "investigating")
Row = Mapping[str, Any]


def identity(rule: str, endpoint_or_operation: str | None) -> tuple[str, str | None]:
    """What makes two alerts the same alert."""
    return (rule, endpoint_or_operation)


def recorded_alert(breach: Breach, known: Sequence[Row]) -> Row | None:
    """The recorded alert a breach belongs to: the active one of its identity, else the one of its episode."""
    wanted = identity(breach.rule.name, breach.endpoint_or_operation)
    for row in known:
        if row["status"] in ACTIVE and identity(row["rule"], row["endpoint_or_operation"]) == wanted:
            return row
    return next((row for row in known if row["id"] == breach.alert_id()), None)


def reconcile(breaches: Sequence[Breach], known: Sequence[Row]) -> tuple[list[Breach], list[Row]]:
    """The breaches that open a new alert, and the active alerts whose condition has cleared."""
    to_open = [breach for breach in breaches if recorded_alert(breach, known) is None]
    firing = {identity(b.rule.name, b.endpoint_or_operation) for b in breaches}
    cleared = [
        row
        for row in known
        if row["status"] in ACTIVE and identity(row["rule"], row["endpoint_or_operation"]) not in firing
    ]
    return to_open, cleared
