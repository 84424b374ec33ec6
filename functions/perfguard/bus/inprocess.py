"""In-process topics: each message is pushed to its subscribed functions as the same CloudEvent that
Eventarc delivers, over HTTP to the local stack, with retries and a dead-letter file like Pub/Sub's.

One delivery thread per subscription, so a slow function never delays another; messages to one
subscription are delivered in order. A message that fails `max_attempts` times goes to the dead-letter
file and is logged; messages still queued at shutdown go to the undelivered file and are delivered after
the next start. None is silently dropped (a killed process loses only its in-memory queue: the stored
data is safe and the one-minute tick evaluates it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import logging
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3

from perfguard.bus import cloudevent
from perfguard.errors import BusError
from perfguard.topology import Subscription, Topology

log = logging.getLogger(__name__)
_STOP = object()


@dataclass(frozen=True)
class _Envelope:
    topic: str
    message_id: str
    published: dt.datetime
    data: dict[str, Any]
    attributes: dict[str, str]


class InProcessBus:
    """The bus port for the local stack."""

    def __init__(
        self,
        topology: Topology,
        data_dir: Path,
        project: str = "local",
        max_attempts: int = 5,
        first_backoff: float = 0.5,
        queue_size: int = 10_000,
    ) -> None:
        self._topology = topology
        self._project = project
        self._dead_letters = data_dir / "dead_letters.jsonl"
        self._undelivered = data_dir / "undelivered.jsonl"
        self._stopping = threading.Event()
        self._max_attempts = max_attempts
        self._first_backoff = first_backoff
        self._ids = itertools.count(1)
        self._http = urllib3.PoolManager(maxsize=4, retries=False, timeout=urllib3.Timeout(connect=2, read=60))
        subscriptions = [s for s in topology.subscriptions]
        self._queues: dict[str, queue.Queue[object]] = {s.name: queue.Queue(queue_size) for s in subscriptions}
        self._workers = [
            threading.Thread(target=self._deliver_loop, args=(s,), name=f"bus-{s.name}", daemon=True)
            for s in subscriptions
        ]
        self._base_url = ""

    def start(self, base_url: str) -> None:
        """Begin delivering to the functions served at `base_url`."""
        self._base_url = base_url.rstrip("/")
        self._requeue_undelivered()
        for worker in self._workers:
            worker.start()

    def publish(self, topic: str, data: Mapping[str, Any], attributes: Mapping[str, str] | None = None) -> str:
        """Queue the message for every subscription of `topic`."""
        if topic not in self._topology.topics:
            raise BusError(f"no topic named {topic!r} in topology.yaml")
        envelope = _Envelope(topic, str(next(self._ids)), dt.datetime.now(dt.UTC), dict(data), dict(attributes or {}))
        for subscription in self._topology.subscribers(topic):
            try:
                self._queues[subscription.name].put(envelope, timeout=5)
            except queue.Full as exc:
                raise BusError(
                    f"subscription {subscription.name} is 10,000 messages behind; not accepting more"
                ) from exc
        return envelope.message_id

    def close(self, timeout: float = 10.0) -> None:
        """Finish the deliveries in flight, keep what is still queued for the next start, stop the threads."""
        self._stopping.set()
        for pending in self._queues.values():
            with contextlib.suppress(queue.Full):
                pending.put_nowait(_STOP)
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            if worker.is_alive():
                worker.join(max(0.0, deadline - time.monotonic()))
        self._save_undelivered()
        self._http.clear()

    def _save_undelivered(self) -> None:
        lines = [
            json.dumps({"subscription": name, **_as_json(item)})
            for name, pending in self._queues.items()
            for item in _drain(pending)
            if isinstance(item, _Envelope)
        ]
        if lines:
            with self._undelivered.open("a", encoding="utf-8") as file:
                file.write("\n".join(lines) + "\n")
            log.warning(
                "%d queued messages saved to %s; they are delivered after the next start", len(lines), self._undelivered
            )

    def _requeue_undelivered(self) -> None:
        if not self._undelivered.exists():
            return
        lines = self._undelivered.read_text(encoding="utf-8").splitlines()
        for line in lines:
            record = json.loads(line)
            if record["subscription"] in self._queues:
                self._queues[record["subscription"]].put(_from_json(record))
        self._undelivered.unlink()
        log.info("re-queued %d messages left undelivered at the last shutdown", len(lines))

    def _deliver_loop(self, subscription: Subscription) -> None:
        pending = self._queues[subscription.name]
        while not self._stopping.is_set() and (item := pending.get()) is not _STOP:
            assert isinstance(item, _Envelope)
            self._deliver(subscription, item)

    def _deliver(self, subscription: Subscription, envelope: _Envelope) -> None:
        headers, body = cloudevent.encode(
            self._project,
            envelope.topic,
            subscription.name,
            envelope.message_id,
            envelope.published,
            envelope.data,
            envelope.attributes,
        )
        delay = self._first_backoff
        error = ""
        for attempt in range(1, self._max_attempts + 1):
            error = self._post(f"{self._base_url}/{subscription.function}", headers, body)
            if not error:
                return
            log.warning(
                "delivery %d/%d of %s to %s failed: %s",
                attempt,
                self._max_attempts,
                envelope.message_id,
                subscription.function,
                error,
            )
            if attempt < self._max_attempts:
                if self._stopping.wait(delay):
                    self._queues[subscription.name].put(envelope)  # keep it for the next start
                    return
                delay = min(delay * 2, 30.0)
        self._dead_letter(subscription, envelope, error)

    def _post(self, url: str, headers: dict[str, str], body: bytes) -> str:
        try:
            response = self._http.request("POST", url, body=body, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            return str(exc)
        return "" if 200 <= response.status < 300 else f"HTTP {response.status}: {response.data[:200]!r}"

    def _dead_letter(self, subscription: Subscription, envelope: _Envelope, error: str) -> None:
        record = {"subscription": subscription.name, **_as_json(envelope), "error": error}
        with self._dead_letters.open("a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")
        log.error(
            "message %s for %s dead-lettered to %s: %s",
            envelope.message_id,
            subscription.function,
            self._dead_letters,
            error,
        )


def _as_json(envelope: _Envelope) -> dict[str, Any]:
    return {
        "topic": envelope.topic,
        "message_id": envelope.message_id,
        "published": envelope.published.isoformat(),
        "data": envelope.data,
        "attributes": envelope.attributes,
    }


def _from_json(record: dict[str, Any]) -> _Envelope:
    published = dt.datetime.fromisoformat(record["published"])
    return _Envelope(record["topic"], record["message_id"], published, record["data"], record["attributes"])


def _drain(pending: queue.Queue[object]) -> list[object]:
    items = []
    while True:
        try:
            items.append(pending.get_nowait())
        except queue.Empty:
            return items
