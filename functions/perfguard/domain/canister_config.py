"""The canisters perfguard polls (`canisters_file`): ids, names, metric-name mappings and limits.

```yaml
canisters:
  - name: marketplace                    # endpoint_or_operation of its derived rows (default: the id)
    canister_id: rrkah-fqaaa-aaaaa-aaaaq-cai
    metrics: true                        # scrape /metrics (default true)
    metric_names:                        # meaning -> the name this canister's /metrics uses
      cycles: marketplace_cycle_balance
    limits:                              # anything not given: the protocol's (icp-canisters.md §5)
      heap_bytes: 4294967296
      stable_bytes: 536870912000
    subnet_nodes: 13                     # costs scale by n/13
```
Naming on ICP is not standardised (`cycle_balance`, `cycles_balance`, `<prefix>_cycle_balance`), so each
meaning has a list of common defaults tried in order; a canister's mapping is tried first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from perfguard.errors import ConfigError

GIB = 2**30
HEAP_LIMIT_WASM32 = 4 * GIB
STABLE_LIMIT = 500 * GIB
# meaning -> common /metrics names (icp-canisters.md §2), tried in order after the canister's own mapping.
DEFAULT_METRIC_NAMES: dict[str, tuple[str, ...]] = {
    "cycles": ("cycle_balance", "cycles_balance", "canister_cycles_balance"),
    "heap_bytes": ("heap_memory_bytes",),
    "stable_bytes": ("stable_memory_bytes",),
    "method_calls": ("canister_method_calls_total",),
    "method_instructions": ("canister_method_instructions_total",),
    "upgrade_instructions": ("post_upgrade_instructions_consumed",),
}
CANISTER_ID = re.compile(r"[a-z0-9]{5}(-[a-z0-9]{5}){3,9}(-[a-z0-9]{1,5})?")
KEYS = frozenset({"name", "canister_id", "metrics", "metric_names", "limits", "subnet_nodes", "metrics_url"})
LIMIT_KEYS = frozenset({"heap_bytes", "stable_bytes"})


@dataclass(frozen=True)
class CanisterConfig:
    """One polled canister."""

    canister_id: str
    name: str
    metrics: bool = True
    metrics_url: str = ""
    metric_names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    heap_limit: int = HEAP_LIMIT_WASM32
    stable_limit: int = STABLE_LIMIT
    subnet_nodes: int = 13

    def names_for(self, meaning: str) -> tuple[str, ...]:
        """The /metrics names to try for a meaning: the canister's own first, then the defaults."""
        return (*self.metric_names.get(meaning, ()), *DEFAULT_METRIC_NAMES.get(meaning, ()))


def parse_canisters(text: str, source: str) -> tuple[CanisterConfig, ...]:
    """The canisters of a canisters file; anything unexpected is a ConfigError naming the entry and field."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"canisters file {source} is not valid YAML: {exc}") from exc
    if loaded is None:
        return ()
    if not isinstance(loaded, dict) or set(loaded) != {"canisters"} or not isinstance(loaded["canisters"], list):
        raise ConfigError(f"canisters file {source} must be a mapping with only `canisters: [...]`")
    configs = tuple(
        _canister(entry, f"canisters file {source}, entry {n}") for n, entry in enumerate(loaded["canisters"], 1)
    )
    ids = [c.canister_id for c in configs]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"canisters file {source} lists a canister twice")
    return configs


def _canister(entry: Any, where: str) -> CanisterConfig:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: must be a mapping of {', '.join(sorted(KEYS))}")
    unknown = set(map(str, entry)) - KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    canister_id = entry.get("canister_id")
    if not isinstance(canister_id, str) or not CANISTER_ID.fullmatch(canister_id):
        raise ConfigError(
            f"{where}: field 'canister_id' must be a principal in text form, e.g. rrkah-fqaaa-aaaaa-aaaaq-cai"
        )
    name = entry.get("name", canister_id)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: field 'name' must be text")
    limits = _limits(entry.get("limits", {}), where)
    nodes = entry.get("subnet_nodes", 13)
    if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes <= 0:
        raise ConfigError(f"{where}: field 'subnet_nodes' must be a positive whole number")
    metrics = entry.get("metrics", True)
    if not isinstance(metrics, bool):
        raise ConfigError(f"{where}: field 'metrics' must be true or false")
    url = entry.get("metrics_url", "")
    if not isinstance(url, str) or (url and not url.startswith(("https://", "http://"))):
        raise ConfigError(f"{where}: field 'metrics_url' must be an http(s):// URL")
    return CanisterConfig(
        canister_id,
        name.strip(),
        metrics,
        url,
        _metric_names(entry.get("metric_names", {}), where),
        limits.get("heap_bytes", HEAP_LIMIT_WASM32),
        limits.get("stable_bytes", STABLE_LIMIT),
        nodes,
    )


def _limits(raw: Any, where: str) -> dict[str, int]:
    if not isinstance(raw, dict) or not set(map(str, raw)) <= LIMIT_KEYS:
        raise ConfigError(f"{where}: field 'limits' may only hold {', '.join(sorted(LIMIT_KEYS))}")
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"{where}: field 'limits.{key}' must be a positive number of bytes")
    return {str(k): v for k, v in raw.items()}


def _metric_names(raw: Any, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: field 'metric_names' must map a meaning to a metric name")
    unknown = set(map(str, raw)) - set(DEFAULT_METRIC_NAMES)
    if unknown:
        known = ", ".join(DEFAULT_METRIC_NAMES)
        raise ConfigError(
            f"{where}: field 'metric_names' has unknown meaning(s) {', '.join(sorted(unknown))} (known: {known})"
        )
    names: dict[str, tuple[str, ...]] = {}
    for meaning, value in raw.items():
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
            raise ConfigError(f"{where}: field 'metric_names.{meaning}' must be a name or a list of names")
        names[str(meaning)] = tuple(items)
    return names
