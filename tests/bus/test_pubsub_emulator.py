"""PubSubBus against the gcloud Pub/Sub emulator, checked with the real google-cloud-pubsub clients."""

from __future__ import annotations

import datetime as dt
import json
import queue
import socket
import sys
import threading
import time
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import functions_framework
import pytest
import yaml
from google.api_core import exceptions as api_exceptions
from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient
from google.cloud.pubsub_v1.types import PubsubMessage
from werkzeug.serving import make_server

import perfguard
from perfguard.bus.cloudevent import Message
from perfguard.bus.pubsub_bus import PubSubBus, create_publisher, make_pubsub_bus
from perfguard.errors import BusError
from tests.support.pubsub_emulator import PROJECT, running_emulator, subscriber_client

RPC_TIMEOUT_S = 10.0
DELIVERY_TIMEOUT_S = 30.0

# The function the push subscription calls: written to a file because functions-framework loads functions from
# source files. It runs in this process, so the test reads what it recorded from its module's queue.
PUSH_FUNCTION_SOURCE = '''
"""Records every Pub/Sub message delivered to it, decoded the way perfguard's functions decode them."""
import queue

import functions_framework

from perfguard.bus.cloudevent import decode

received = queue.Queue()


@functions_framework.cloud_event
def record_message(cloud_event):
    received.put(decode(cloud_event.data))
'''


@pytest.fixture(scope="session")
def emulator_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """host:port of an emulator shared by this session."""
    with running_emulator(tmp_path_factory.mktemp("pubsub-emulator")) as host:
        yield host


@pytest.fixture(scope="session")
def admin_publisher(emulator_host: str) -> Iterator[PublisherClient]:
    """A real PublisherClient for topic administration."""
    client = create_publisher(emulator_host)
    yield client
    client.transport.close()


@pytest.fixture(scope="session")
def subscriber(emulator_host: str) -> Iterator[SubscriberClient]:
    """A real SubscriberClient for subscriptions and pulls."""
    client = subscriber_client(emulator_host)
    yield client
    client.close()


@pytest.fixture
def topic(admin_publisher: PublisherClient) -> str:
    """A fresh topic of PROJECT; returns its short name."""
    name = f"t-{uuid.uuid4().hex[:12]}"
    admin_publisher.create_topic(name=admin_publisher.topic_path(PROJECT, name), timeout=RPC_TIMEOUT_S)
    return name


@pytest.fixture
def bus(emulator_host: str) -> Iterator[PubSubBus]:
    """The adapter under test, on the emulator."""
    adapter = make_pubsub_bus(PROJECT, emulator_host, timeout=RPC_TIMEOUT_S)
    yield adapter
    adapter.close()


@pytest.fixture
def push_receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, queue.Queue[Message]]]:
    """A functions-framework CloudEvent function served over real HTTP on loopback: its URL and what it received."""
    module_name = f"record_message_{uuid.uuid4().hex}"
    source = tmp_path / f"{module_name}.py"
    source.write_text(PUSH_FUNCTION_SOURCE)
    _undo_framework_side_effects(monkeypatch, module_name)
    app = functions_framework.create_app("record_message", str(source), "cloudevent")  # type: ignore[no-untyped-call]
    received = cast("queue.Queue[Message]", sys.modules[module_name].received)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="push-receiver", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", received
    server.shutdown()
    server.server_close()
    thread.join(timeout=RPC_TIMEOUT_S)


def _undo_framework_side_effects(monkeypatch: pytest.MonkeyPatch, module_name: str) -> None:
    # create_app writes these variables, appends the source folder to sys.path and registers the module;
    # recording them first makes monkeypatch restore them, so later tests see a clean process.
    for variable in ("FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE", "FUNCTION_TRIGGER_TYPE"):
        monkeypatch.setenv(variable, "")
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setitem(sys.modules, module_name, types.ModuleType(module_name))


@pytest.mark.emulator
def test_published_message_is_pulled_with_its_json_attributes_and_id(
    bus: PubSubBus, topic: str, subscriber: SubscriberClient
) -> None:
    subscription = _subscribe(subscriber, topic)
    data: dict[str, Any] = {"endpoint": "/swap/quote", "p95_ms": 1834.5, "tags": ["é", "ü"], "ok": True, "none": None}
    attributes = {"source": "ingest", "batch": "42"}

    message_id = bus.publish(topic, data, attributes)

    pulled = _pull_one(subscriber, subscription)
    assert json.loads(pulled.data) == data
    assert pulled.data == json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert dict(pulled.attributes) == attributes
    assert pulled.message_id == message_id


@pytest.mark.emulator
def test_push_subscription_delivers_the_decoded_message_to_a_cloudevent_function(
    bus: PubSubBus,
    topic: str,
    subscriber: SubscriberClient,
    push_receiver: tuple[str, queue.Queue[Message]],
) -> None:
    base_url, received = push_receiver
    # functions-framework takes the CloudEvent source from a `projects/P/topics/T` path in the push URL.
    _subscribe(subscriber, topic, push_endpoint=f"{base_url}/projects/{PROJECT}/topics/{topic}")
    data = {"job": "evaluate_thresholds", "batch": {"accepted": 3}}

    message_id = bus.publish(topic, data, {"source": "scheduler"})

    message = received.get(timeout=DELIVERY_TIMEOUT_S)
    assert (message.data, message.attributes, message.message_id) == (data, {"source": "scheduler"}, message_id)
    assert abs(dt.datetime.now(dt.UTC) - message.publish_time) < dt.timedelta(minutes=5)


@pytest.mark.emulator
def test_publishing_to_a_missing_topic_raises_bus_error_naming_it(bus: PubSubBus) -> None:
    with pytest.raises(BusError, match="no-such-topic") as raised:
        bus.publish("no-such-topic", {"x": 1})

    assert isinstance(raised.value.__cause__, api_exceptions.NotFound)


@pytest.mark.emulator
def test_every_topology_topic_and_subscription_has_a_name_pubsub_accepts(
    admin_publisher: PublisherClient, subscriber: SubscriberClient
) -> None:
    topology = yaml.safe_load((Path(perfguard.__file__).parent / "topology.yaml").read_text())
    project = f"topology-{uuid.uuid4().hex[:8]}"  # its own project, so the names cannot already exist

    for name in topology["topics"]:
        admin_publisher.create_topic(name=admin_publisher.topic_path(project, name), timeout=RPC_TIMEOUT_S)
    for name, spec in topology["subscriptions"].items():
        subscriber.create_subscription(
            name=subscriber.subscription_path(project, name),
            topic=admin_publisher.topic_path(project, spec["topic"]),
            timeout=RPC_TIMEOUT_S,
        )

    # The emulator validates names as production does; without this the loop above would prove nothing.
    with pytest.raises(api_exceptions.InvalidArgument):
        admin_publisher.create_topic(name=admin_publisher.topic_path(project, "x"), timeout=RPC_TIMEOUT_S)


def test_publish_without_a_server_raises_bus_error_within_its_timeout() -> None:
    bus = make_pubsub_bus(PROJECT, f"127.0.0.1:{_closed_port()}", timeout=0.5)
    started = time.monotonic()
    try:
        with pytest.raises(BusError, match=r"topic 'metrics-ingested' within 0.5 s"):
            bus.publish("metrics-ingested", {"x": 1})
    finally:
        bus.close()
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("data", "attributes", "reason"),
    [
        ({"p95_ms": float("nan")}, {}, "not JSON-serialisable"),
        ({"at": dt.datetime(2026, 1, 1)}, {}, "not JSON-serialisable"),
        ({"x": 1}, {"timeout": "5"}, "reserved by the client"),
    ],
)
def test_a_message_pubsub_cannot_carry_is_refused_before_sending(
    data: dict[str, Any], attributes: dict[str, str], reason: str
) -> None:
    bus = make_pubsub_bus(PROJECT, f"127.0.0.1:{_closed_port()}", timeout=0.5)
    try:
        with pytest.raises(BusError, match=reason) as raised:
            bus.publish("metrics-ingested", data, attributes)
    finally:
        bus.close()
    assert "topic 'metrics-ingested'" in str(raised.value)


def test_publish_after_close_raises_bus_error_and_close_is_idempotent() -> None:
    bus = make_pubsub_bus(PROJECT, f"127.0.0.1:{_closed_port()}", timeout=0.5)
    bus.close()
    bus.close()

    with pytest.raises(BusError, match="topic 'metrics-ingested'.*closed"):
        bus.publish("metrics-ingested", {"x": 1})


def _subscribe(subscriber: SubscriberClient, topic: str, push_endpoint: str | None = None) -> str:
    name: str = subscriber.subscription_path(PROJECT, f"s-{uuid.uuid4().hex[:12]}")
    request: dict[str, Any] = {"name": name, "topic": f"projects/{PROJECT}/topics/{topic}"}
    if push_endpoint is not None:
        request["push_config"] = {"push_endpoint": push_endpoint}
    subscriber.create_subscription(request=request, timeout=RPC_TIMEOUT_S)
    return name


def _pull_one(subscriber: SubscriberClient, subscription: str) -> PubsubMessage:
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while time.monotonic() < deadline:
        response = subscriber.pull(subscription=subscription, max_messages=10, timeout=RPC_TIMEOUT_S)
        if response.received_messages:
            assert len(response.received_messages) == 1
            received = response.received_messages[0]
            subscriber.acknowledge(subscription=subscription, ack_ids=[received.ack_id], timeout=RPC_TIMEOUT_S)
            return received.message
    raise AssertionError(f"no message on {subscription} within {DELIVERY_TIMEOUT_S:g} s")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
