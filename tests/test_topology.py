"""topology.yaml: the packaged file loads, names real functions, and bad definitions are ConfigErrors."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from perfguard.errors import ConfigError
from perfguard.topology import Schedule, Subscription, load_topology

MAIN = Path(__file__).parents[1] / "functions" / "main.py"


def main_functions() -> dict[str, list[str]]:
    """Top-level functions of functions/main.py with the names of their decorators."""
    tree = ast.parse(MAIN.read_text(encoding="utf-8"))
    return {
        node.name: [ast.unparse(d) for d in node.decorator_list]
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
    }


def config_error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_topology(text)
    return str(info.value)


def test_packaged_topology_loads() -> None:
    topology = load_topology()
    assert {"metrics-ingested", "evaluation-ticks", "performance-alerts"} <= set(topology.topics)
    assert topology.subscriptions and topology.schedules


def test_every_subscription_calls_a_cloud_event_function_of_main() -> None:
    functions = main_functions()
    for subscription in load_topology().subscriptions:
        assert subscription.function in functions, subscription.name
        assert "functions_framework.cloud_event" in functions[subscription.function], subscription.function


def test_every_schedule_publishes_to_a_subscribed_topic() -> None:
    topology = load_topology()
    for schedule in topology.schedules:
        assert topology.subscribers(schedule.topic), schedule.name


def test_evaluation_runs_every_minute_and_on_ingest() -> None:
    topology = load_topology()
    assert [s.function for s in topology.subscribers("metrics-ingested")] == ["evaluate_thresholds"]
    # The tick also drives the notification groups' timers (perfguard.api.notify) and escalation
    # (perfguard.api.escalation), each in its own deployment.
    ticked = [s.function for s in topology.subscribers("evaluation-ticks")]
    assert ticked == ["evaluate_thresholds", "notify_alert", "escalate_alerts"]
    every_minute = [s for s in topology.schedules if s.topic == "evaluation-ticks"]
    assert [s.cron for s in every_minute] == ["* * * * *"]


def test_every_alert_change_goes_to_the_notifier_and_to_remediation() -> None:
    topology = load_topology()
    # Separate deployments, so a slow remediation webhook never delays a notification (or the reverse).
    assert [s.function for s in topology.subscribers("performance-alerts")] == ["notify_alert", "remediate_alert"]


def test_local_only_entries_are_marked() -> None:
    topology = load_topology()
    retention = [s for s in topology.subscriptions if s.function == "enforce_retention"]
    assert retention and all(s.local_only for s in retention)
    assert not any(s.local_only for s in topology.subscribers("metrics-ingested"))


def test_a_small_topology_is_read_field_by_field() -> None:
    topology = load_topology(
        """
topics: {t1: {description: one}, t2: {}}
subscriptions:
  s1: {topic: t1, function: handler}
schedules:
  j1: {cron: "*/5 * * * *", topic: t2, payload: {job: x}, local_only: true}
  j2: {cron: "0 3 * * *", topic: t1}
"""
    )
    assert topology.topics == ("t1", "t2")
    assert topology.subscriptions == (Subscription("s1", "t1", "handler", False),)
    assert topology.schedules == (
        Schedule("j1", "*/5 * * * *", "t2", {"job": "x"}, True),
        Schedule("j2", "0 3 * * *", "t1", {}, False),
    )
    assert topology.subscribers("t2") == []


def test_empty_topology_is_empty() -> None:
    topology = load_topology("")
    assert (topology.topics, topology.subscriptions, topology.schedules) == ((), (), ())


@pytest.mark.parametrize("cron", ["61 * * * *", "* * *", "every minute", "* 25 * * *"])
def test_invalid_cron_is_a_config_error(cron: str) -> None:
    message = config_error(f"topics: {{t: {{}}}}\nschedules: {{j: {{cron: '{cron}', topic: t}}}}\n")
    assert message == f"topology: schedule j has an invalid cron expression {cron!r}"


def test_subscription_to_an_unknown_topic_is_a_config_error() -> None:
    message = config_error("topics: {t: {}}\nsubscriptions: {s: {topic: other, function: f}}\n")
    assert message == "topology: s names unknown topic 'other'"


def test_schedule_on_an_unknown_topic_is_a_config_error() -> None:
    message = config_error("topics: {t: {}}\nschedules: {j: {cron: '* * * * *', topic: nope}}\n")
    assert message == "topology: j names unknown topic 'nope'"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("topics: {t: {}}\nsubscriptions: {s: {topic: t}}\n", "topology: s needs topic, function"),
        ("topics: {t: {}}\nsubscriptions: {s: t}\n", "topology: s needs topic, function"),
        ("topics: {t: {}}\nschedules: {j: {topic: t}}\n", "topology: j needs cron, topic"),
    ],
)
def test_missing_keys_are_config_errors(text: str, message: str) -> None:
    assert config_error(text) == message


def test_topology_that_is_not_a_mapping_is_a_config_error() -> None:
    config_error("- topics\n")


def test_non_string_cron_is_a_config_error() -> None:
    config_error("topics: {t: {}}\nschedules: {j: {cron: 5, topic: t}}\n")


def test_malformed_yaml_is_a_config_error() -> None:
    config_error("topics: [unclosed\n")
