"""`PerfguardClient.time()`: times a block or each call of a function as `api_latency` in milliseconds."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

if TYPE_CHECKING:
    from perfguard.client.sdk import PerfguardClient  # only for the annotations: sdk.py imports this module

P = ParamSpec("P")
R = TypeVar("R")


class _Timer:
    """Times a block (`with`) or each call of a function (decorator); see `PerfguardClient.time`."""

    def __init__(self, client: PerfguardClient, name: str, tags: Mapping[str, str]) -> None:
        self._client, self._name, self._tags = client, name, tags
        self._wall_ns = self._start_ns = 0

    def __enter__(self) -> _Timer:
        self._wall_ns, self._start_ns = time.time_ns(), time.perf_counter_ns()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        elapsed_ms = (time.perf_counter_ns() - self._start_ns) / 1e6
        tags = {**self._tags, "status": "ok" if exc_type is None else "error"}
        self._client.record("api_latency", self._name, elapsed_ms, "ms", tags=tags, timestamp_ns=self._wall_ns)

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        # A fresh _Timer per call, so concurrent and recursive calls do not share a start time.
        if inspect.iscoroutinefunction(func):
            return cast(Callable[P, R], self._wrap_async(func))

        @functools.wraps(func)
        def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            with _Timer(self._client, self._name, self._tags):
                return func(*args, **kwargs)

        return timed

    def _wrap_async(self, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            with _Timer(self._client, self._name, self._tags):
                return await func(*args, **kwargs)

        return timed
