"""Automated remediation, the pure part: the allowlisted catalog, which actions an alert calls for, and
whether each may run now.

The catalog (perfguard/remediation.yaml) binds each action to alert types (and optionally rules and
severities). Only an alert that opens calls for actions. For each one, in catalog order:

* an action already executed (ok or failed) or dry-run for the same alert is not considered again, so a
  redelivered event never repeats it (at most once: a remediation need not be idempotent);
* off: skipped (the caller records nothing then: remediation is simply not running);
* unavailable (its type is not configured, e.g. no webhook URL), cooldown (acted on the same alert identity,
  rule + endpoint, within its cooldown_minutes), rate limit (remediation_max_per_hour acts in the last hour,
  across all actions): skipped, with that reason;
* otherwise dry_run or executed, as the mode says. Dry runs count toward cooldowns and the rate limit, so a
  dry run shows what `on` would do.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from perfguard.errors import ConfigError

ACTION_TYPES = frozenset({"webhook", "cycles_top_up"})  # cycles_top_up: perfguard.api.topup
ALERT_TYPES = frozenset({"threshold_exceeded", "trend_degradation", "anomaly_detected"})
SEVERITIES = frozenset({"low", "medium", "high", "critical"})
OFF, DRY_RUN, ON = "off", "dry_run", "on"
EXECUTED, SKIPPED = "executed", "skipped"  # the audit modes, with DRY_RUN
ACTED = frozenset({EXECUTED, DRY_RUN})  # audit modes that count as having acted
RATE_WINDOW = dt.timedelta(hours=1)
NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
ACTION_KEYS = frozenset({"type", "description", "cooldown_minutes", "on"})
MATCHER_KEYS = {"alert_type": ALERT_TYPES, "rule": None, "severity": SEVERITIES}


@dataclass(frozen=True)
class Trigger:
    """What binds an action: every non-empty set must contain the alert's value."""

    alert_types: frozenset[str]
    rules: frozenset[str] = frozenset()
    severities: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Action:
    """One allowlisted action of the catalog."""

    name: str
    type: str
    description: str
    cooldown: dt.timedelta
    on: Trigger


@dataclass(frozen=True)
class AlertFacts:
    """What remediation needs of an alert event."""

    id: str
    alert_type: str
    rule: str
    endpoint_or_operation: str | None
    severity: str
    status: str


@dataclass(frozen=True)
class Acted:
    """One earlier audit row (remediation_history.sql)."""

    alert_id: str
    action: str
    rule: str
    endpoint_or_operation: str | None
    mode: str
    acted_at: dt.datetime


@dataclass(frozen=True)
class Verdict:
    """What to do with one action for one alert: mode dry_run, executed or skipped (with the reason)."""

    action: Action
    mode: str
    reason: str = ""


# ---- the catalog ------------------------------------------------------------------------------------------------


def parse_catalog(text: str, source: str) -> tuple[Action, ...]:
    """The actions of a catalog's YAML text; anything unexpected is a ConfigError naming the action and field."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"remediation catalog {source} is not valid YAML: {exc}") from exc
    if not isinstance(loaded, dict) or set(loaded) != {"actions"} or not isinstance(loaded["actions"], dict):
        raise ConfigError(f"remediation catalog {source} must be a mapping with only `actions: {{name: action}}`")
    return tuple(_action(str(name), spec, source) for name, spec in loaded["actions"].items())


def _action(name: str, spec: Any, source: str) -> Action:
    where = f"remediation catalog {source}, action {name!r}"
    if not NAME.fullmatch(name):
        raise ConfigError(f"{where}: the name must be lower_snake_case")
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: must be a mapping of {', '.join(sorted(ACTION_KEYS))}")
    # PyYAML reads a bare `on:` key as the boolean True (YAML 1.1), so accept both spellings.
    spec = {("on" if key is True else str(key)): value for key, value in spec.items()}
    unknown = set(spec) - ACTION_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    if spec.get("type") not in ACTION_TYPES:
        raise ConfigError(f"{where}: field 'type' must be one of {', '.join(sorted(ACTION_TYPES))}")
    description = spec.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ConfigError(f"{where}: field 'description' must say what the action does")
    return Action(name, spec["type"], description.strip(), _cooldown(spec, where), _trigger(spec.get("on"), where))


def _cooldown(spec: Mapping[str, Any], where: str) -> dt.timedelta:
    minutes = spec.get("cooldown_minutes", 0)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 0:
        raise ConfigError(f"{where}: field 'cooldown_minutes' must be a whole number, 0 or more")
    return dt.timedelta(minutes=minutes)


def _trigger(on: Any, where: str) -> Trigger:
    if not isinstance(on, dict):
        raise ConfigError(f"{where}: field 'on' must be a mapping of {', '.join(MATCHER_KEYS)}")
    unknown = set(map(str, on)) - set(MATCHER_KEYS)
    if unknown:
        raise ConfigError(f"{where}: field 'on' has unknown matcher(s) {', '.join(sorted(unknown))}")
    values = {key: _values(on.get(key), f"{where}: field 'on.{key}'", allowed) for key, allowed in MATCHER_KEYS.items()}
    if not values["alert_type"]:
        # An action bound to every alert would be one typo away from acting on everything.
        raise ConfigError(f"{where}: field 'on.alert_type' is required")
    return Trigger(values["alert_type"], values["rule"], values["severity"])


def _values(raw: Any, where: str, allowed: frozenset[str] | None) -> frozenset[str]:
    items = [] if raw is None else [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(item, str) and item for item in items):
        raise ConfigError(f"{where} must be a name or a list of names")
    if allowed is not None and not set(items) <= allowed:
        raise ConfigError(f"{where}: unknown value(s) {', '.join(sorted(set(items) - allowed))}")
    return frozenset(items)


# ---- choosing and deciding ------------------------------------------------------------------------------------


def matches(trigger: Trigger, alert: AlertFacts) -> bool:
    """Whether every matcher of the trigger holds for the alert."""
    return (
        alert.alert_type in trigger.alert_types
        and (not trigger.rules or alert.rule in trigger.rules)
        and (not trigger.severities or alert.severity in trigger.severities)
    )


def chosen_actions(catalog: Sequence[Action], alert: AlertFacts) -> list[Action]:
    """The actions an alert event calls for: only an alert that opens, and only the actions bound to it."""
    if alert.status != "open":
        return []
    return [action for action in catalog if matches(action.on, alert)]


def decide(
    actions: Sequence[Action],
    alert: AlertFacts,
    history: Sequence[Acted],
    mode: str,
    available_types: frozenset[str],
    max_per_hour: int,
    now: dt.datetime,
) -> list[Verdict]:
    """A verdict per action not yet acted on for this alert, in order; each counts toward the next's limits."""
    verdicts = []
    acted = [row for row in history if row.mode in ACTED]
    for action in actions:
        if any(row.alert_id == alert.id and row.action == action.name for row in acted):
            continue  # done for this alert already: a redelivery, or the alert handed back and reopened
        verdict = _verdict(action, alert, acted, mode, available_types, max_per_hour, now)
        verdicts.append(verdict)
        if verdict.mode in ACTED:
            acted.append(Acted(alert.id, action.name, alert.rule, alert.endpoint_or_operation, verdict.mode, now))
    return verdicts


def _verdict(
    action: Action,
    alert: AlertFacts,
    acted: Sequence[Acted],
    mode: str,
    available_types: frozenset[str],
    max_per_hour: int,
    now: dt.datetime,
) -> Verdict:
    if mode == OFF:
        return Verdict(action, SKIPPED, "off")
    if action.type not in available_types:
        return Verdict(action, SKIPPED, "unavailable")
    if _in_cooldown(action, alert, acted, now):
        return Verdict(action, SKIPPED, "cooldown")
    if sum(1 for row in acted if now - row.acted_at < RATE_WINDOW) >= max_per_hour:
        return Verdict(action, SKIPPED, "rate limit")
    return Verdict(action, DRY_RUN if mode == DRY_RUN else EXECUTED)


def _in_cooldown(action: Action, alert: AlertFacts, acted: Iterable[Acted], now: dt.datetime) -> bool:
    same = (alert.rule, alert.endpoint_or_operation)
    return any(
        row.action == action.name
        and (row.rule, row.endpoint_or_operation) == same
        and now - row.acted_at < action.cooldown
        for row in acted
    )


def history_start(catalog: Sequence[Action], triggered_at: dt.datetime, now: dt.datetime) -> dt.datetime:
    """How far back the audit rows matter: the rate window, the longest cooldown, and this alert's whole life."""
    longest = max((action.cooldown for action in catalog), default=dt.timedelta(0))
    return min(now - max(RATE_WINDOW, longest), triggered_at)


def acted_from_row(row: Mapping[str, Any]) -> Acted:
    """An audit row as remediation_history.sql returns it."""
    return Acted(
        alert_id=str(row["alert_id"]),
        action=str(row["action"]),
        rule=str(row["rule"]),
        endpoint_or_operation=row["endpoint_or_operation"],
        mode=str(row["mode"]),
        acted_at=row["acted_at"],
    )
