"""What the code says must be deployed, what Terraform deploys, and the differences between the two.

`expected(...)` reads the repository the way perfguard itself does (functions/main.py's decorators, the
topology loader, the schema loader); `Deployment.from_locals(...)` takes the values Terraform computes
from the same files. The `*_problems` functions compare them and return one readable sentence per
difference, so a table, topic, schedule or function added on one side only fails with its name.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from perfguard.topology import load_topology
from perfguard.warehouse.schema import load_tables, partition_expiration_days

HTTP, CLOUD_EVENT = "http", "cloud_event"
MS_PER_DAY = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class Table:
    """A table's BigQuery layout."""

    partition_field: str
    clustering: tuple[str, ...]


@dataclass(frozen=True)
class Subscription:
    """A topic delivered to an entry point."""

    topic: str
    function: str


@dataclass(frozen=True)
class Schedule:
    """A cron job publishing a JSON payload to a topic."""

    cron: str
    topic: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Expected:
    """What the repository says the cloud must run."""

    functions: dict[str, str]  # entry point -> HTTP or CLOUD_EVENT (functions/main.py)
    tables: dict[str, Table]
    expiration_ms: int
    topics: frozenset[str]
    subscriptions: dict[str, Subscription]
    schedules: dict[str, Schedule]
    local_only: frozenset[str]  # topology entries (topics, subscriptions, schedules) kept off the cloud
    local_functions: frozenset[str]  # CloudEvent functions that only local-only subscriptions deliver to


@dataclass(frozen=True)
class Deployment:
    """What terraform/ deploys (values of terraform/locals.tf)."""

    http_functions: frozenset[str]
    event_functions: dict[str, Subscription]  # deployment name -> (topic, entry point)
    tables: dict[str, Table]
    expiration_ms: int
    topics: frozenset[str]
    subscriptions: dict[str, Subscription]
    schedules: dict[str, Schedule]

    LOCALS = (
        "http_functions",
        "event_functions",
        "tables",
        "partition_expiration_ms",
        "topics",
        "subscriptions",
        "schedules",
    )

    @classmethod
    def from_locals(cls, values: Mapping[str, Any]) -> Deployment:
        """From `terraform console`'s values of LOCALS."""
        return cls(
            http_functions=frozenset(values["http_functions"]),
            event_functions={
                name: Subscription(spec["topic"], spec["entry_point"])
                for name, spec in values["event_functions"].items()
            },
            tables={
                name: Table(spec["partition_field"], tuple(spec["clustering"]))
                for name, spec in values["tables"].items()
            },
            expiration_ms=int(values["partition_expiration_ms"]),
            topics=frozenset(values["topics"]),
            subscriptions={
                name: Subscription(spec["topic"], spec["function"]) for name, spec in values["subscriptions"].items()
            },
            schedules={
                name: Schedule(spec["cron"], spec["topic"], yaml.safe_load(spec["payload"]))
                for name, spec in values["schedules"].items()
            },
        )

    @classmethod
    def mirroring(cls, want: Expected) -> Deployment:
        """The deployment that matches `want` exactly: the baseline for testing the comparisons themselves."""
        return cls(
            http_functions=frozenset(name for name, kind in want.functions.items() if kind == HTTP),
            event_functions=dict(want.subscriptions),
            tables=dict(want.tables),
            expiration_ms=want.expiration_ms,
            topics=want.topics,
            subscriptions=dict(want.subscriptions),
            schedules=dict(want.schedules),
        )


# ---- the repository's side ------------------------------------------------------------------------------------


def registered_functions(main_source: str) -> dict[str, str]:
    """Entry points of a functions/main.py: functions decorated with functions_framework.http / cloud_event."""
    kinds = {"http": HTTP, "cloud_event": CLOUD_EVENT}
    found: dict[str, str] = {}
    for node in ast.parse(main_source).body:
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                name = _decorator_name(decorator)
                if name in kinds:
                    found[node.name] = kinds[name]
    return found


def _decorator_name(decorator: ast.expr) -> str | None:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
        return target.attr if target.value.id == "functions_framework" else None
    return None


def expected(main_source: str, topology_text: str, schemas_dir: Path) -> Expected:
    """What must be deployed, read with perfguard's own loaders."""
    topology = load_topology(topology_text)
    raw_topics = (yaml.safe_load(topology_text) or {}).get("topics") or {}
    subscriptions = {s.name: Subscription(s.topic, s.function) for s in topology.subscriptions if not s.local_only}
    schedules = {s.name: Schedule(s.cron, s.topic, s.payload) for s in topology.schedules if not s.local_only}
    local_only = {s.name for s in (*topology.subscriptions, *topology.schedules) if s.local_only}
    topics = set()
    for topic in topology.topics:
        users = [s.local_only for s in (*topology.subscriptions, *topology.schedules) if s.topic == topic]
        marked = bool((raw_topics.get(topic) or {}).get("local_only", False))
        if marked or (users and all(users)):
            local_only.add(topic)
        else:
            topics.add(topic)
    tables = {
        name: Table(table.partition_field, tuple(table.clustering)) for name, table in load_tables(schemas_dir).items()
    }
    return Expected(
        functions=registered_functions(main_source),
        tables=tables,
        expiration_ms=partition_expiration_days(schemas_dir) * MS_PER_DAY,
        topics=frozenset(topics),
        subscriptions=subscriptions,
        schedules=schedules,
        local_only=frozenset(local_only),
        local_functions=frozenset(
            {s.function for s in topology.subscriptions if s.local_only} - {s.function for s in subscriptions.values()}
        ),
    )


# ---- the comparisons ------------------------------------------------------------------------------------------


def _one_sided(kind: str, code: Set[str], terraform: Set[str], where: str) -> list[str]:
    """One sentence per name on one side only."""
    missing = [
        f"{kind} {name} is defined in {where} but not deployed by terraform/" for name in sorted(code - terraform)
    ]
    extra = [f"terraform/ deploys {kind} {name}, which {where} does not define" for name in sorted(terraform - code)]
    return missing + extra


def table_problems(want: Expected, have: Deployment) -> list[str]:
    """Every schema has a table with the same day partitioning, clustering and 90-day expiration."""
    problems = _one_sided("table", set(want.tables), set(have.tables), "bigquery_schemas/")
    for name in sorted(set(want.tables) & set(have.tables)):
        if want.tables[name] != have.tables[name]:
            problems.append(f"table {name}: layout.yaml says {want.tables[name]}, terraform/ has {have.tables[name]}")
    if want.expiration_ms != have.expiration_ms:
        problems.append(
            f"partition expiration: layout.yaml {want.expiration_ms} ms, terraform/ {have.expiration_ms} ms"
        )
    return problems


def topology_problems(want: Expected, have: Deployment) -> list[str]:
    """Every non-local topic, subscription and schedule of topology.yaml is deployed, and nothing else."""
    where = "topology.yaml"
    problems = _one_sided("topic", want.topics, have.topics, where)
    problems += _one_sided("subscription", set(want.subscriptions), set(have.subscriptions), where)
    problems += _one_sided("schedule", set(want.schedules), set(have.schedules), where)
    for name in sorted(set(want.subscriptions) & set(have.subscriptions)):
        if want.subscriptions[name] != have.subscriptions[name]:
            problems.append(
                f"subscription {name}: {where} has {want.subscriptions[name]}, terraform/ {have.subscriptions[name]}"
            )
    for name in sorted(set(want.schedules) & set(have.schedules)):
        if want.schedules[name] != have.schedules[name]:
            problems.append(f"schedule {name}: {where} {want.schedules[name]}, terraform/ {have.schedules[name]}")
    for name, item in [*have.subscriptions.items(), *have.schedules.items()]:
        if item.topic not in have.topics:
            problems.append(f"{name} uses topic {item.topic}, which terraform/ does not deploy")
    return problems


def function_problems(want: Expected, have: Deployment) -> list[str]:
    """Every entry point of functions/main.py is deployed with its trigger type, and nothing else is."""
    http = {name for name, kind in want.functions.items() if kind == HTTP}
    events = {name for name, kind in want.functions.items() if kind == CLOUD_EVENT}
    problems = _one_sided("HTTP function", http, have.http_functions, "functions/main.py")
    for name in sorted(events - {sub.function for sub in want.subscriptions.values()} - want.local_functions):
        problems.append(f"CloudEvent function {name} is in functions/main.py but no subscription delivers to it")
    for name in sorted(have.http_functions & events):
        problems.append(f"{name} is a CloudEvent function in functions/main.py but terraform/ deploys it as HTTP")
    for deployment, sub in sorted(have.event_functions.items()):
        if want.functions.get(sub.function) != CLOUD_EVENT:
            kind = want.functions.get(sub.function, "missing")
            problems.append(f"terraform/ gives {deployment} an event trigger for {sub.function} ({kind} in main.py)")
        if want.subscriptions.get(deployment) != sub:
            problems.append(f"event function {deployment} ({sub}) matches no non-local subscription of topology.yaml")
    for name, sub in sorted(want.subscriptions.items()):
        if have.event_functions.get(name) != sub:
            problems.append(f"subscription {name} ({sub.topic} -> {sub.function}) has no event function deployment")
    return problems
