"""perfguard.domain.remediation: the catalog's validation, which actions an alert calls for, and the
off / dry_run / on decisions with their once-per-alert, cooldown and rate-limit checks."""

from __future__ import annotations

import dataclasses
import datetime as dt
from importlib import resources

import pytest

from perfguard.domain.remediation import (
    Acted,
    Action,
    AlertFacts,
    Trigger,
    chosen_actions,
    decide,
    history_start,
    parse_catalog,
)
from perfguard.errors import ConfigError

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
WEBHOOK = frozenset({"webhook"})
CATALOG = """
actions:
  scale_out_hint:
    type: webhook
    description: Hint the autoscaler.
    cooldown_minutes: 30
    on:
      alert_type: threshold_exceeded
      rule: [p95_api_latency]
      severity: [high, critical]
  page_capacity:
    type: webhook
    description: Ask for capacity.
    on: {alert_type: [threshold_exceeded, trend_degradation]}
"""
ALERT = AlertFacts("alrt_1", "threshold_exceeded", "p95_api_latency", "POST /swaps", "critical", "open")


def catalog() -> tuple[Action, ...]:
    return parse_catalog(CATALOG, "test.yaml")


def acted(minutes_ago: float, alert_id: str = "alrt_0", action: str = "scale_out_hint", **changes: object) -> Acted:
    row = Acted(alert_id, action, "p95_api_latency", "POST /swaps", "executed", NOW - minutes_ago * MINUTE)
    return dataclasses.replace(row, **changes)  # type: ignore[arg-type]


def verdicts(mode: str = "on", history: tuple[Acted, ...] = (), max_per_hour: int = 6, **alert: str) -> list[str]:
    facts = dataclasses.replace(ALERT, **alert)
    found = decide(chosen_actions(catalog(), facts), facts, history, mode, WEBHOOK, max_per_hour, NOW)
    return [f"{v.action.name}:{v.mode}{':' + v.reason if v.reason else ''}" for v in found]


def test_the_catalog_parses_with_its_matchers_and_cooldown() -> None:
    hint, page = catalog()
    assert hint == Action(
        "scale_out_hint",
        "webhook",
        "Hint the autoscaler.",
        30 * MINUTE,
        Trigger(frozenset({"threshold_exceeded"}), frozenset({"p95_api_latency"}), frozenset({"high", "critical"})),
    )
    assert page.cooldown == dt.timedelta(0) and page.on.rules == page.on.severities == frozenset()


def test_the_packaged_catalog_binds_the_hint_to_critical_latency_and_the_top_up_to_runway() -> None:
    text = resources.files("perfguard").joinpath("remediation.yaml").read_text(encoding="utf-8")
    actions = {action.name: action for action in parse_catalog(text, "remediation.yaml")}
    assert set(actions) == {"scale_out_hint", "cycles_top_up"}
    hint, top_up = actions["scale_out_hint"], actions["cycles_top_up"]
    assert (hint.type, top_up.type) == ("webhook", "cycles_top_up")
    assert chosen_actions(list(actions.values()), ALERT) == [hint]
    assert chosen_actions([hint], dataclasses.replace(ALERT, severity="high")) == []
    runway = dataclasses.replace(ALERT, rule="canister_cycles_runway", severity="high")
    assert chosen_actions(list(actions.values()), runway) == [top_up]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("actions: [a]", "must be a mapping with only `actions"),
        ("actions: {}\nextra: 1", "must be a mapping with only `actions"),
        ("actions: {Bad-Name: {}}", "action 'Bad-Name': the name must be lower_snake_case"),
        ("actions: {a: {type: shell, description: d, on: {alert_type: x}}}", "action 'a': field 'type' must be"),
        ("actions: {a: {type: webhook, on: {alert_type: anomaly_detected}}}", "action 'a': field 'description'"),
        ("actions: {a: {type: webhook, description: d}}", "action 'a': field 'on' must be a mapping"),
        ("actions: {a: {type: webhook, description: d, on: {rule: r}}}", "field 'on.alert_type' is required"),
        ("actions: {a: {type: webhook, description: d, on: {alert_type: nope}}}", "'on.alert_type': unknown value"),
        (
            "actions: {a: {type: webhook, description: d, on: {alert_type: anomaly_detected, severity: [urgent]}}}",
            "'on.severity': unknown value(s) urgent",
        ),
        ("actions: {a: {type: webhook, description: d, on: {alert_type: anomaly_detected, env: x}}}", "matcher(s) env"),
        (
            "actions: {a: {type: webhook, description: d, cooldown_minutes: -1, on: {alert_type: anomaly_detected}}}",
            "action 'a': field 'cooldown_minutes'",
        ),
        ("actions: {a: {type: webhook, description: d, run: rm, on: {alert_type: x}}}", "unknown field(s) run"),
        ("actions: {a: [", "not valid YAML"),
    ],
)
def test_a_bad_catalog_is_a_config_error_naming_the_action_and_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match="remediation catalog bad.yaml") as raised:
        parse_catalog(text, "bad.yaml")
    assert message in str(raised.value)


def test_only_an_alert_that_opens_and_matches_calls_for_actions() -> None:
    assert [a.name for a in chosen_actions(catalog(), ALERT)] == ["scale_out_hint", "page_capacity"]
    assert [a.name for a in chosen_actions(catalog(), dataclasses.replace(ALERT, severity="low"))] == ["page_capacity"]
    assert [a.name for a in chosen_actions(catalog(), dataclasses.replace(ALERT, rule="other"))] == ["page_capacity"]
    assert chosen_actions(catalog(), dataclasses.replace(ALERT, alert_type="anomaly_detected")) == []
    for status in ("investigating", "resolved", "false_positive"):
        assert chosen_actions(catalog(), dataclasses.replace(ALERT, status=status)) == []


def test_off_dry_run_and_on() -> None:
    assert verdicts("off") == ["scale_out_hint:skipped:off", "page_capacity:skipped:off"]
    assert verdicts("dry_run") == ["scale_out_hint:dry_run", "page_capacity:dry_run"]
    assert verdicts("on") == ["scale_out_hint:executed", "page_capacity:executed"]


def test_an_action_without_its_channel_is_unavailable() -> None:
    found = decide(chosen_actions(catalog(), ALERT), ALERT, (), "on", frozenset(), 6, NOW)
    assert [(v.mode, v.reason) for v in found] == [("skipped", "unavailable")] * 2


def test_an_action_done_for_the_alert_is_not_considered_again() -> None:
    done = (acted(1, "alrt_1"), acted(2, "alrt_1", "page_capacity", mode="dry_run"))
    assert verdicts("on", done) == []
    # A failed execution counts too (at most once), a skipped row does not.
    assert verdicts("on", (acted(1, "alrt_1", mode="skipped"),)) == [
        "scale_out_hint:executed",
        "page_capacity:executed",
    ]


def test_cooldown_is_per_action_and_alert_identity() -> None:
    assert verdicts("on", (acted(29),)) == ["scale_out_hint:skipped:cooldown", "page_capacity:executed"]
    assert verdicts("on", (acted(30),)) == ["scale_out_hint:executed", "page_capacity:executed"]
    other_endpoint = acted(5, endpoint_or_operation="GET /listings")
    assert verdicts("on", (other_endpoint,)) == ["scale_out_hint:executed", "page_capacity:executed"]
    assert verdicts("dry_run", (acted(5, mode="dry_run"),))[0] == "scale_out_hint:skipped:cooldown"


def test_the_rate_limit_counts_every_action_of_the_last_hour_and_this_event_s() -> None:
    five = tuple(acted(40 + m, f"other_{m}", "page_capacity") for m in range(5))
    assert verdicts("on", five) == ["scale_out_hint:executed", "page_capacity:skipped:rate limit"]
    hour_old = tuple(acted(60 + m, f"other_{m}", "page_capacity") for m in range(6))
    assert verdicts("on", hour_old) == ["scale_out_hint:executed", "page_capacity:executed"]
    assert verdicts("on", max_per_hour=1) == ["scale_out_hint:executed", "page_capacity:skipped:rate limit"]


def test_history_reaches_back_over_the_rate_window_the_longest_cooldown_and_the_alert() -> None:
    assert history_start(catalog(), NOW - 10 * MINUTE, NOW) == NOW - 60 * MINUTE
    assert history_start(catalog(), NOW - 3 * 60 * MINUTE, NOW) == NOW - 3 * 60 * MINUTE
    long = dataclasses.replace(catalog()[0], cooldown=120 * MINUTE)
    assert history_start([long], NOW, NOW) == NOW - 120 * MINUTE
