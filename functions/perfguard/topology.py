"""The topics, subscriptions and schedules of `topology.yaml`: read by the local runner and by Terraform."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml
from croniter import croniter

from perfguard.errors import ConfigError


@dataclass(frozen=True)
class Subscription:
    """A topic delivered to a CloudEvent function."""

    name: str
    topic: str
    function: str
    local_only: bool


@dataclass(frozen=True)
class Schedule:
    """A cron job (UTC) publishing `payload` to `topic`."""

    name: str
    cron: str
    topic: str
    payload: dict[str, Any]
    local_only: bool


@dataclass(frozen=True)
class Topology:
    """Everything `topology.yaml` defines."""

    topics: tuple[str, ...]
    subscriptions: tuple[Subscription, ...]
    schedules: tuple[Schedule, ...]

    def subscribers(self, topic: str) -> list[Subscription]:
        """The subscriptions of a topic."""
        return [s for s in self.subscriptions if s.topic == topic]


def load_topology(text: str | None = None) -> Topology:
    """Parse and check the topology (the packaged file by default)."""
    if text is None:
        text = resources.files("perfguard").joinpath("topology.yaml").read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"topology is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError("topology must be a mapping of topics, subscriptions and schedules")
    topics = tuple(data.get("topics") or {})
    subscriptions = tuple(_subscription(name, spec, topics) for name, spec in (data.get("subscriptions") or {}).items())
    schedules = tuple(_schedule(name, spec, topics) for name, spec in (data.get("schedules") or {}).items())
    return Topology(topics, subscriptions, schedules)


def _subscription(name: str, spec: dict[str, Any], topics: tuple[str, ...]) -> Subscription:
    _require(name, spec, ("topic", "function"))
    _known_topic(name, spec["topic"], topics)
    return Subscription(name, spec["topic"], spec["function"], bool(spec.get("local_only", False)))


def _schedule(name: str, spec: dict[str, Any], topics: tuple[str, ...]) -> Schedule:
    _require(name, spec, ("cron", "topic"))
    _known_topic(name, spec["topic"], topics)
    if not isinstance(spec["cron"], str) or not croniter.is_valid(spec["cron"]):
        raise ConfigError(f"topology: schedule {name} has an invalid cron expression {spec['cron']!r}")
    return Schedule(
        name, spec["cron"], spec["topic"], dict(spec.get("payload") or {}), bool(spec.get("local_only", False))
    )


def _require(name: str, spec: Any, keys: tuple[str, ...]) -> None:
    if not isinstance(spec, dict) or any(key not in spec for key in keys):
        raise ConfigError(f"topology: {name} needs {', '.join(keys)}")


def _known_topic(name: str, topic: str, topics: tuple[str, ...]) -> None:
    if topic not in topics:
        raise ConfigError(f"topology: {name} names unknown topic {topic!r}")
