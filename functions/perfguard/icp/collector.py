"""Read many canisters at once: canister_status and /metrics per canister, bounded in time and concurrency.

Each canister is read on a worker of a pool of `concurrency` threads, its calls bounded by `timeout`; the
collector waits for all of them until a deadline that allows every canister its budget, then gives up on
the stragglers (reported as timeouts), so a dead, slow or malformed canister never holds up the others.
Outcome per canister: ok when its cycles are known (from canister_status, else from its /metrics page),
else timeout or error; the error text names what failed, never a URL.
"""

from __future__ import annotations

import concurrent.futures
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import urllib3

from perfguard.domain.canister_config import CanisterConfig
from perfguard.domain.canister_status import CanisterStatus, parse_status
from perfguard.domain.prometheus import Exposition, parse
from perfguard.errors import ValidationError
from perfguard.icp.agent import TIMEOUT, CanisterCallError, close_agent, make_agent, read_status
from perfguard.icp.metrics_gateway import fetch_metrics, metrics_url

T = TypeVar("T")


class CanisterSource(Protocol):
    """Where canister data comes from (the ICP agent and gateway; a double in tests)."""

    def status(self, canister_id: str, timeout: float) -> dict[str, Any]:
        """The decoded canister_status record."""

    def metrics(self, url: str, timeout: float) -> str:
        """The /metrics page text."""


class IcpSource:
    """The real source: icp-py-core for canister_status, urllib3 for the gateway."""

    def __init__(self, replica_url: str, identity_pem: str = "", concurrency: int = 16) -> None:
        self._agent = make_agent(replica_url, identity_pem, concurrency)
        self._pool = urllib3.PoolManager(maxsize=concurrency, headers={"User-Agent": "perfguard-canister-poller"})

    def status(self, canister_id: str, timeout: float) -> dict[str, Any]:
        """canister_status through the agent (a query)."""
        return read_status(self._agent, canister_id, timeout)

    def metrics(self, url: str, timeout: float) -> str:
        """The canister's /metrics page."""
        return fetch_metrics(self._pool, url, timeout)

    def close(self) -> None:
        """Close the agent's and the gateway's connections."""
        close_agent(self._agent)
        self._pool.clear()


@dataclass(frozen=True)
class Reading:
    """What one poll of one canister gave."""

    config: CanisterConfig
    outcome: str  # ok, error or timeout
    error: str | None
    status: CanisterStatus | None
    page: Exposition | None
    seconds: float


def collect(
    configs: Sequence[CanisterConfig],
    source: CanisterSource,
    metrics_template: str,
    timeout: float,
    concurrency: int,
) -> list[Reading]:
    """A reading per canister, in the order given."""
    if not configs:
        return []
    budget = 2 * timeout + 1.0  # status then metrics, each within `timeout`
    deadline = time.monotonic() + budget * math.ceil(len(configs) / concurrency)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="canister-poll")
    try:
        futures = [pool.submit(read_one, c, source, metrics_template, timeout) for c in configs]
        concurrent.futures.wait(futures, timeout=max(deadline - time.monotonic(), 0.0))
        return [_result(f, c, budget) for f, c in zip(futures, configs, strict=True)]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _result(future: concurrent.futures.Future[Reading], config: CanisterConfig, budget: float) -> Reading:
    if future.done() and not future.cancelled():
        return future.result()
    return Reading(config, TIMEOUT, "no answer within the poll's deadline", None, None, budget)


def read_one(config: CanisterConfig, source: CanisterSource, metrics_template: str, timeout: float) -> Reading:
    """Read one canister; never raises."""
    started = time.monotonic()
    status, status_error = _guarded(lambda: parse_status(source.status(config.canister_id, timeout)))
    page, page_error = None, None
    if config.metrics:
        url = config.metrics_url or metrics_url(metrics_template, config.canister_id)
        page, page_error = _guarded(lambda: parse(source.metrics(url, timeout)))
    if status is None and page is not None:
        status = _status_from_page(config, page)
    errors = [
        f"canister_status: {status_error}" if status_error else "",
        f"metrics: {page_error}" if page_error else "",
    ]
    error = "; ".join(e for e in errors if e) or None
    if status is not None:
        return Reading(config, "ok", error, status, page, time.monotonic() - started)
    kind = TIMEOUT if status_error and status_error.kind == TIMEOUT else "error"
    return Reading(config, kind, error, None, page, time.monotonic() - started)


def _guarded(call: Callable[[], T]) -> tuple[T | None, CanisterCallError | None]:
    try:
        return call(), None
    except CanisterCallError as exc:
        return None, exc
    except ValidationError as exc:
        return None, CanisterCallError("error", str(exc))


def _status_from_page(config: CanisterConfig, page: Exposition) -> CanisterStatus | None:
    """A status from /metrics alone (canister_status refused, e.g. not a controller): cycles and memory."""
    cycles = mapped(config, page, "cycles")
    if not isinstance(cycles, int) or cycles < 0:
        return None
    heap, stable = mapped(config, page, "heap_bytes"), mapped(config, page, "stable_bytes")
    heap_bytes = heap if isinstance(heap, int) else None
    stable_bytes = stable if isinstance(stable, int) else None
    total = (heap_bytes or 0) + (stable_bytes or 0) if heap_bytes is not None or stable_bytes is not None else None
    return CanisterStatus(
        cycles=cycles, memory_size=total, wasm_memory_size=heap_bytes, stable_memory_size=stable_bytes
    )


def mapped(config: CanisterConfig, page: Exposition, meaning: str) -> int | float | None:
    """The first value of the names a meaning maps to."""
    for name in config.names_for(meaning):
        value = page.first(name)
        if value is not None:
            return value
    return None


def per_method(config: CanisterConfig, page: Exposition, meaning: str) -> dict[str, int | float]:
    """A per-method counter of the page (label `method`), by the meaning's names."""
    for name in config.names_for(meaning):
        values = page.by_label(name, "method")
        if values:
            return values
    return {}
