"""Sending one batch: JSON encoding, retries with the same ids (backoff, Retry-After), splitting, and the counts.

A batch is retried after connection errors, 429 and 5xx, never after another 4xx; a batch too large for one
request is split in halves. Whatever happens ends up in the counters behind `PerfguardClient.stats()`.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from perfguard import __version__
from perfguard.client.records import MAX_BODY_BYTES, Metric
from perfguard.client.transport import Reply, Transport

logger = logging.getLogger("perfguard.client")  # one logger for the whole client, as before the split

_BACKOFF_BASE_S = 0.5
_BACKOFF_CAP_S = 30.0
_MAX_RETRY_AFTER_S = 300.0  # a worker asleep for longer only fills the queue; the batch is dropped later anyway


class Stats(TypedDict):
    """Counts since the client started (in this process): records sent, dropped, rejected, failed."""

    sent: int  # acknowledged by the server
    dropped: int  # never queued: the queue was full or the client closed
    rejected: int  # refused, by the server (4xx, or listed in `rejected`) or locally as invalid
    failed: int  # given up after the retries (server down, 5xx, 429)


class _LogOnce:
    """Logs a problem at WARNING the first time and at DEBUG after, so a bad key cannot flood the host's logs."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def __call__(self, key: str, message: str, *args: object, exc_info: bool = False) -> None:
        level = logging.DEBUG if key in self._seen else logging.WARNING
        self._seen.add(key)
        logger.log(level, message, *args, exc_info=exc_info)


class _Counters:
    """The thread-safe counts behind `stats()`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = {"sent": 0, "dropped": 0, "rejected": 0, "failed": 0}

    def add(self, name: str, count: int = 1) -> None:
        with self._lock:
            self._counts[name] += count

    def snapshot(self) -> Stats:
        with self._lock:
            c = self._counts
            return Stats(sent=c["sent"], dropped=c["dropped"], rejected=c["rejected"], failed=c["failed"])


@dataclass(frozen=True)
class _Retry:
    """An attempt that is worth repeating after `delay` seconds."""

    delay: float
    reason: str


class _Delivery:
    """Sends one batch: encodes it, retries with the same ids, and counts the outcome."""

    def __init__(self, url: str, api_key: str, transport: Transport, timeout: float, max_retries: int) -> None:
        self.url, self.transport, self.timeout, self.max_retries = url, transport, timeout, max_retries
        self.headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "User-Agent": f"perfguard-client/{__version__}",
        }
        self.counters = _Counters()
        self.log_once = _LogOnce()
        self.give_up_at = math.inf  # set by close(): backoff never outlasts its timeout
        self.closing = threading.Event()
        self.failing = False  # in an outage: batches are being given up

    def deliver(self, batch: list[Metric]) -> None:
        """Send `batch`, splitting it when it is too large for one request."""
        body, batch = self._encode(batch)
        if not batch:
            return
        if len(body) > MAX_BODY_BYTES and len(batch) > 1:
            self._deliver_halves(batch)
            return
        reply = self._post_with_retries(body, len(batch))
        if reply is not None:
            self._settle(batch, reply)

    def _deliver_halves(self, batch: list[Metric]) -> None:
        middle = len(batch) // 2
        self.deliver(batch[:middle])
        self.deliver(batch[middle:])

    def _encode(self, batch: list[Metric]) -> tuple[bytes, list[Metric]]:
        try:
            return _dumps(batch), batch
        except (TypeError, ValueError):
            # One unencodable tag must not cost the whole batch: keep every record that encodes alone.
            kept = [metric for metric in batch if _encodable(metric)]
            skipped = len(batch) - len(kept)
            self.counters.add("rejected", skipped)
            self.log_once("encode", "perfguard: skipped %d metrics that cannot be encoded as JSON", skipped)
            return _dumps(kept), kept

    def _post_with_retries(self, body: bytes, count: int) -> Reply | None:
        reason = ""
        for attempt in range(self.max_retries + 1):
            outcome = self._attempt(body, attempt)
            if isinstance(outcome, Reply):
                self._recovered()
                return outcome
            reason = outcome.reason
            if attempt == self.max_retries or not self._backoff(outcome.delay):
                break
        # One warning per outage, not per batch: a host that is down for an hour must not drown the logs.
        level = logging.DEBUG if self.failing else logging.WARNING
        logger.log(level, "perfguard: dropped %d metrics after %d attempts (last: %s)", count, attempt + 1, reason)
        self.failing = True
        self.counters.add("failed", count)
        return None

    def _recovered(self) -> None:
        if self.failing:
            logger.warning("perfguard: the server answers again; see stats() for the metrics lost meanwhile")
            self.failing = False

    def _attempt(self, body: bytes, attempt: int) -> Reply | _Retry:
        try:
            reply = self.transport.post(self.url, body, self.headers, self.timeout)
        except Exception as exc:  # refused, reset, timed out: all worth another try
            return _Retry(_backoff_delay(attempt), f"{type(exc).__name__}: {exc}")
        if reply.status == 429 or reply.status >= 500:
            return _Retry(_retry_delay(reply.retry_after, attempt), f"HTTP {reply.status}")
        return reply

    def _backoff(self, seconds: float) -> bool:
        """Sleep before a retry; False when close() ran out of time first."""
        end = time.monotonic() + seconds
        while (now := time.monotonic()) < end:
            if now >= self.give_up_at:
                return False
            wait = min(end, self.give_up_at) - now
            if self.closing.is_set():
                time.sleep(wait)  # Event.wait would return at once from now on
            else:
                self.closing.wait(wait)  # close() wakes us, to re-check give_up_at
        return True

    def _settle(self, batch: list[Metric], reply: Reply) -> None:
        answer = _json_object(reply.body)
        if 200 <= reply.status < 300:
            self._count_accepted(batch, answer)
        elif reply.status == 413 and len(batch) > 1:
            self._deliver_halves(batch)
        elif isinstance(answer.get("rejected"), list):
            # The server answers 400 with the usual result body when every record of a batch was invalid.
            self._count_accepted(batch, answer)
        else:
            self.counters.add("rejected", len(batch))
            self.log_once(
                f"http-{reply.status}",
                "perfguard: the server refused %d metrics: HTTP %d %s",
                len(batch),
                reply.status,
                _error_message(answer, reply.body),
            )

    def _count_accepted(self, batch: list[Metric], answer: Mapping[str, Any]) -> None:
        rejected = answer.get("rejected")
        rejected = rejected if isinstance(rejected, list) else []
        for item in rejected:
            _log_rejected(batch, item)
        if rejected:
            self.log_once(
                "rejected",
                "perfguard: the server rejected %d of %d metrics (details at DEBUG)",
                len(rejected),
                len(batch),
            )
        self.counters.add("rejected", len(rejected))
        self.counters.add("sent", len(batch) - len(rejected))
        for warning in answer.get("warnings") or ():
            logger.debug("perfguard: server warning: %s", warning)


def _dumps(batch: list[Metric]) -> bytes:
    # default=str turns odd tag values (Decimal, UUID) into strings; allow_nan=False because NaN is not JSON.
    return json.dumps({"metrics": batch}, separators=(",", ":"), default=str, allow_nan=False).encode()


def _encodable(metric: Metric) -> bool:
    try:
        _dumps([metric])
    except (TypeError, ValueError):
        return False
    return True


def _backoff_delay(attempt: int) -> float:
    ceiling = min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2.0 ** min(attempt, 16))
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # jitter: hosts that failed together do not retry together


def _retry_delay(retry_after: str | None, attempt: int) -> float:
    seconds = _parse_retry_after(retry_after)
    if seconds is None:
        return _backoff_delay(attempt)
    return min(seconds, _MAX_RETRY_AFTER_S) * random.uniform(1.0, 1.1)  # never earlier than the server asked


def _parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(body)
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _error_message(answer: Mapping[str, Any], body: bytes) -> str:
    error = answer.get("error")
    if isinstance(error, dict):
        return f"{error.get('code', '')}: {error.get('message', '')}"
    return body[:200].decode("utf-8", "replace")


def _log_rejected(batch: list[Metric], item: object) -> None:
    index = item.get("index") if isinstance(item, dict) else None
    error = item.get("error") if isinstance(item, dict) else item
    metric_id = batch[index]["id"] if isinstance(index, int) and 0 <= index < len(batch) else "?"
    logger.debug("perfguard: metric %s (batch index %s) rejected: %s", metric_id, index, error)
