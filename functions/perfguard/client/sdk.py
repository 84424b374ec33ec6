"""`PerfguardClient`: the public face of the client, its worker thread, and its life across fork and exit.

`record()` builds a record and queues it (`buffer`); the worker thread takes batches from the queue and hands
them to `delivery`. A forked child rebuilds its queue, locks, worker and connections; an atexit hook sends
what is still queued, waiting at most `_EXIT_TIMEOUT_S`.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import threading
import time
import weakref
from collections.abc import Mapping
from types import TracebackType

from perfguard.client.buffer import _Buffer, _Marker
from perfguard.client.delivery import Stats, _Delivery
from perfguard.client.records import MAX_BATCH, METRIC_TYPES, UNITS, _as_json, _finite, _Record
from perfguard.client.timer import _Timer
from perfguard.client.transport import Transport, Urllib3Transport

logger = logging.getLogger("perfguard.client")  # one logger for the whole client, as before the split

_EXIT_TIMEOUT_S = 2.0  # how long interpreter exit may wait for the last batches


class PerfguardClient:
    """Records performance metrics without slowing the host; a background thread sends them in batches.

    Example::

        client = PerfguardClient("https://REGION-PROJECT.cloudfunctions.net", api_key=key, release="1.4.2")
        client.record("canister_cycles", "swap_canister", 3.2e12, "cycles", tags={"canister": "swap"})

        with client.time("POST /swap", route="swap"):  # api_latency in ms, tagged status=ok or status=error
            handle_swap()

        @client.time("quote")  # a decorator too, on plain and async functions
        def quote(pair: str) -> float: ...

        client.stats()  # {'sent': 2, 'dropped': 0, 'rejected': 0, 'failed': 0}
        client.close(timeout=2.0)  # also done at interpreter exit

    `record()` returns False (and counts the record) when it could not queue it; it never raises or blocks.
    Each record gets a unique id, kept across retries, so the server never counts a retried batch twice.
    After `os.fork()` the child starts with an empty queue, fresh counts and its own worker and connections.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        batch_size: int = 1000,
        flush_interval: float = 1.0,
        max_queue: int = 100_000,
        timeout: float = 10.0,
        max_retries: int = 5,
        source: str = "backend",
        release: str | None = None,
        environment: str | None = None,
        transport: Transport | None = None,
    ) -> None:
        _check_arguments(base_url, batch_size, flush_interval, max_queue, timeout, max_retries)
        self._url = base_url.rstrip("/") + "/record_performance_metric"
        self._api_key, self._timeout, self._max_retries = api_key, timeout, max_retries
        self._batch_size, self._flush_interval, self._max_queue = batch_size, flush_interval, max_queue
        self._common = {k: v for k, v in (("source", source), ("release", release), ("environment", environment)) if v}
        self._given_transport = transport
        self._closed = False
        self._start_process_state()
        _clients.add(self)
        atexit.register(self._close_at_exit)

    def _start_process_state(self) -> None:
        """Everything that belongs to one process; rebuilt in a forked child, whose copies may hold stale locks."""
        self._lock = threading.Lock()
        self._queue = _Buffer(self._max_queue, self._batch_size)
        self._id_prefix = os.urandom(6).hex() + "-"  # a child reusing the parent's ids would be deduplicated away
        self._sequence = itertools.count()
        transport = self._given_transport or Urllib3Transport()
        self._delivery = _Delivery(self._url, self._api_key, transport, self._timeout, self._max_retries)
        self._thread: threading.Thread | None = None
        self._pid = 0  # the process whose worker is running; 0 until the first record

    def record(
        self,
        metric_type: str,
        endpoint_or_operation: str,
        value: float,
        unit: str,
        *,
        tags: Mapping[str, str] | None = None,
        timestamp_ns: int | None = None,
        percentile: float | None = None,
    ) -> bool:
        """Queue one measurement; True if queued. Never raises, never blocks."""
        try:
            if self._closed:
                self._delivery.counters.add("dropped")
                return False
            if self._pid != os.getpid():
                self._ensure_worker()
            entry = self._build(metric_type, endpoint_or_operation, value, unit, tags, timestamp_ns, percentile)
            if entry is None:
                return False
            if self._queue.put(entry):
                return True
            self._delivery.counters.add("dropped")
            self._delivery.log_once("full", "perfguard: queue full (%d metrics); dropping new ones", self._max_queue)
        except Exception:  # a bad argument (tags that are not a mapping) or a bug of ours: the host carries on
            self._delivery.counters.add("rejected")
            self._delivery.log_once("record", "perfguard: record() skipped a metric after an error", exc_info=True)
        return False

    def time(self, endpoint_or_operation: str, **tags: str) -> _Timer:
        """Time a block or a function as `api_latency` in ms, tagged `status=ok`, or `status=error` if it raised."""
        return _Timer(self, endpoint_or_operation, tags)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every record queued before this call is handled (sent, rejected or given up)."""
        try:
            return self._handled(_Marker(), timeout)
        except Exception:
            logger.warning("perfguard: internal error in flush()", exc_info=True)
            return False

    def close(self, timeout: float = _EXIT_TIMEOUT_S) -> None:
        """Send what is queued (waiting at most `timeout` seconds) and stop; later records return False."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        atexit.unregister(self._close_at_exit)
        try:
            self._stop_worker(timeout)
        except Exception:
            logger.warning("perfguard: internal error in close()", exc_info=True)

    def stats(self) -> Stats:
        """Counts of records sent, dropped, rejected and failed, in this process."""
        return self._delivery.counters.snapshot()

    def __enter__(self) -> PerfguardClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _build(
        self,
        metric_type: str,
        endpoint_or_operation: str,
        value: float,
        unit: str,
        tags: Mapping[str, str] | None,
        timestamp_ns: int | None,
        percentile: float | None,
    ) -> _Record | None:
        number = _finite(value)
        if number is None or metric_type not in METRIC_TYPES or unit not in UNITS:
            self._skip_invalid(f"{metric_type!r} {value!r} {unit!r}")
            return None
        if percentile is not None and (percentile := _finite(percentile)) is None:
            self._skip_invalid("percentile")
            return None
        return (
            f"{self._id_prefix}{next(self._sequence)}",
            metric_type,
            endpoint_or_operation,
            number,
            unit,
            time.time_ns() if timestamp_ns is None else timestamp_ns,
            tuple(tags.items()) if tags else None,  # a copy: the caller may change its dict later
            percentile,
        )

    def _skip_invalid(self, what: str) -> None:
        # The server would reject it too; skipping it here keeps NaN out of the JSON, where it would lose the batch.
        self._delivery.counters.add("rejected")
        self._delivery.log_once("invalid", "perfguard: skipped an invalid metric (%s); see METRIC_TYPES, UNITS", what)

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._thread = threading.Thread(target=self._run, args=(self._queue,), name="perfguard-client", daemon=True)
            self._thread.start()
            self._pid = os.getpid()

    def _run(self, inbox: _Buffer) -> None:
        delivery = self._delivery
        while True:
            try:
                if not self._cycle(inbox):
                    break
            except Exception:
                logger.exception("perfguard: internal error in the sending thread; it carries on")
                time.sleep(0.1)  # never spin on an error that repeats
        delivery.transport.close()

    def _cycle(self, inbox: _Buffer) -> bool:
        """Collect and send one batch; False once the stop marker is reached."""
        batch, marker = inbox.take(self._flush_interval)
        try:
            if batch:
                self._delivery.deliver([_as_json(record, self._common) for record in batch])
        except Exception:  # a bug of ours or of a custom transport: lose this batch, not the worker or a flush()
            logger.exception("perfguard: internal error in the sending thread; %d metrics lost", len(batch))
            self._delivery.counters.add("failed", len(batch))
        if marker is None:
            return True
        marker.done.set()
        return not marker.stop

    def _handled(self, marker: _Marker, timeout: float) -> bool:
        """Queue `marker` behind the pending records and wait for the worker to reach it."""
        thread = self._thread
        if self._pid != os.getpid() or thread is None or not thread.is_alive():
            return not self._queue  # no worker in this process, so nothing was queued here
        self._queue.put_marker(marker)
        return marker.done.wait(timeout)

    def _stop_worker(self, timeout: float) -> None:
        self._delivery.give_up_at = time.monotonic() + timeout
        self._delivery.closing.set()
        if self._thread is None or self._pid != os.getpid():
            self._delivery.transport.close()  # no worker in this process, so nothing to send
        elif not self._handled(_Marker(stop=True), timeout):
            # The worker still stops (and closes its connections) once its current request ends.
            pending = len(self._queue)
            logger.warning("perfguard: close() timed out after %.1f s; %d metrics were not sent", timeout, pending)

    def _close_at_exit(self) -> None:
        if self._queue:
            logger.debug("perfguard: sending %d pending metrics before exit", len(self._queue))
        self.close(_EXIT_TIMEOUT_S)

    def _after_fork_in_child(self) -> None:
        self._start_process_state()


def _check_arguments(
    base_url: str, batch_size: int, flush_interval: float, max_queue: int, timeout: float, max_retries: int
) -> None:
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch_size must be 1 to {MAX_BATCH} (the server's limit), got {batch_size}")
    if flush_interval <= 0 or timeout <= 0:
        raise ValueError(f"flush_interval and timeout must be positive, got {flush_interval} and {timeout}")
    if max_queue < 1 or max_retries < 0:
        raise ValueError(f"max_queue must be >= 1 and max_retries >= 0, got {max_queue} and {max_retries}")


# Forked children rebuild their queue, locks and connections before any other thread can exist in them.
_clients: weakref.WeakSet[PerfguardClient] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for client in list(_clients):
        client._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
