"""The bus on Google Cloud Pub/Sub: JSON messages published to `projects/<project>/topics/<topic>`.

Functions receive them as `messagePublished` CloudEvents (see `perfguard.bus.cloudevent.decode`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from concurrent import futures
from typing import Any

import grpc  # type: ignore[import-untyped]  # no stubs in requirements-dev.txt
from google.api_core import exceptions as api_exceptions
from google.cloud.pubsub_v1 import PublisherClient
from google.cloud.pubsub_v1.types import BatchSettings
from google.pubsub_v1.services.publisher.transports.grpc import PublisherGrpcTransport

from perfguard.errors import BusError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 30.0

# Each publish waits for its message id, so a long batching window would only add latency; a short one
# still coalesces messages published concurrently from several threads.
LOW_LATENCY_BATCHING = BatchSettings(max_messages=100, max_bytes=1_000_000, max_latency=0.005)

# `PublisherClient.publish` takes these as keyword arguments, so they cannot be passed as attributes.
_RESERVED_ATTRIBUTES = frozenset({"ordering_key", "retry", "timeout"})


def create_publisher(emulator_host: str | None = None) -> PublisherClient:
    """A low-latency PublisherClient: on Google Cloud with default credentials, or on an emulator at host:port."""
    if emulator_host is None:
        return PublisherClient(batch_settings=LOW_LATENCY_BATCHING)
    # The emulator speaks plaintext gRPC, needs no credentials and runs next to us: no TLS, no proxy.
    channel = grpc.insecure_channel(emulator_host, options=[("grpc.enable_http_proxy", 0)])
    transport = PublisherGrpcTransport(host=emulator_host, channel=channel)
    return PublisherClient(batch_settings=LOW_LATENCY_BATCHING, transport=transport)


def make_pubsub_bus(project: str, emulator_host: str | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> PubSubBus:
    """The bus of `project`, on Google Cloud or (given host:port) on the Pub/Sub emulator."""
    return PubSubBus(project, create_publisher(emulator_host), timeout)


class PubSubBus:
    """The `Bus` on Google Cloud Pub/Sub; each publish waits (bounded) for the message id."""

    def __init__(self, project: str, publisher: PublisherClient, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self._project = project
        self._publisher = publisher
        self._timeout = timeout
        self._lock = threading.Lock()
        self._pending: set[futures.Future[str]] = set()
        self._closed = False

    def publish(self, topic: str, data: Mapping[str, Any], attributes: Mapping[str, str] | None = None) -> str:
        """Publish `data` as compact UTF-8 JSON; returns the message id Pub/Sub assigned."""
        payload = _encode(topic, data)
        attrs = _checked_attributes(topic, attributes or {})
        try:
            return self._send(self._publisher.topic_path(self._project, topic), payload, attrs)
        except TimeoutError as exc:
            raise BusError(f"no message id from topic {topic!r} within {self._timeout:g} s") from exc
        except (api_exceptions.GoogleAPIError, RuntimeError, TypeError, ValueError) as exc:
            raise BusError(f"could not publish to topic {topic!r}: {exc}") from exc

    def close(self) -> None:
        """Send what is batched, wait (bounded) for messages still in flight, then release the channel."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pending = list(self._pending)
        self._publisher.stop()
        _, unfinished = futures.wait(pending, timeout=self._timeout)
        if unfinished:
            # Closing the channel under the publisher's commit thread makes that thread crash; leave it to
            # finish or time out on its own (its futures carry the outcome).
            log.warning("%d Pub/Sub messages still in flight at close; not closing their channel", len(unfinished))
            return
        self._publisher.transport.close()

    def _send(self, path: str, payload: bytes, attrs: dict[str, str]) -> str:
        with self._lock:
            if self._closed:
                raise RuntimeError("the bus is closed")
            future: futures.Future[str] = self._publisher.publish(path, payload, **attrs)
            self._pending.add(future)
        # Forget the future only once it is done: one that timed out here is still in flight at close().
        future.add_done_callback(self._forget)
        return str(future.result(timeout=self._timeout))

    def _forget(self, future: futures.Future[str]) -> None:
        with self._lock:
            self._pending.discard(future)


def _encode(topic: str, data: Mapping[str, Any]) -> bytes:
    # NaN and Infinity are not JSON: a consumer in another language would fail on them, so refuse here.
    try:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise BusError(f"message for topic {topic!r} is not JSON-serialisable: {exc}") from exc


def _checked_attributes(topic: str, attributes: Mapping[str, str]) -> dict[str, str]:
    reserved = sorted(_RESERVED_ATTRIBUTES.intersection(attributes))
    if reserved:
        raise BusError(f"attributes {reserved} cannot be published to topic {topic!r}: names reserved by the client")
    return dict(attributes)
