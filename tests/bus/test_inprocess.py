"""The in-process bus against a real local HTTP receiver: CloudEvents, order, retries, dead letters,
and messages kept across a restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perfguard.bus import cloudevent
from perfguard.bus.inprocess import InProcessBus
from perfguard.errors import BusError
from perfguard.topology import load_topology
from tests.support.receiver import receiver

TOPOLOGY = load_topology("""
topics: {news: {}, quiet: {}}
subscriptions:
  to-a: {topic: news, function: fn_a}
  to-b: {topic: news, function: fn_b}
""")


def test_each_subscriber_gets_the_messages_as_pubsub_cloudevents_in_order(tmp_path: Path) -> None:
    with receiver() as sink:
        bus = InProcessBus(TOPOLOGY, tmp_path)
        bus.start(sink.url)
        ids = [bus.publish("news", {"n": n}, {"source": "test"}) for n in range(3)]
        assert sink.wait_for(6, timeout=10)
        bus.close()
    to_a = [r for r in sink.requests if r.path == "/fn_a"]
    assert [r.headers["ce-type"] for r in to_a] == [cloudevent.EVENT_TYPE] * 3
    messages = [cloudevent.decode(json.loads(r.body)) for r in to_a]
    assert [m.data for m in messages] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert [m.message_id for m in messages] == ids and messages[0].attributes == {"source": "test"}
    assert to_a[0].headers["ce-source"] == "//pubsub.googleapis.com/projects/local/topics/news"


def test_a_failed_delivery_is_retried_with_backoff(tmp_path: Path) -> None:
    with receiver() as sink:
        sink.script = [500, 503]
        bus = InProcessBus(TOPOLOGY, tmp_path, first_backoff=0.05)
        bus.start(sink.url)
        bus.publish("news", {"x": 1})
        assert sink.wait_for(4, timeout=10)
        bus.close()
    assert not (tmp_path / "dead_letters.jsonl").exists()


def test_a_message_that_keeps_failing_is_dead_lettered_not_lost(tmp_path: Path) -> None:
    with receiver() as sink:
        sink.script = [500] * 3
        one_subscriber = load_topology("topics: {t: {}}\nsubscriptions: {s: {topic: t, function: f}}")
        bus = InProcessBus(one_subscriber, tmp_path, max_attempts=3, first_backoff=0.01)
        bus.start(sink.url)
        bus.publish("t", {"alert": "keep me"})
        assert sink.wait_for(3, timeout=10)
        bus.close()
    [line] = (tmp_path / "dead_letters.jsonl").read_text().splitlines()
    dead = json.loads(line)
    assert dead["data"] == {"alert": "keep me"} and dead["subscription"] == "s" and "HTTP 500" in dead["error"]


def test_messages_queued_at_shutdown_are_delivered_after_the_next_start(tmp_path: Path) -> None:
    stopped = InProcessBus(TOPOLOGY, tmp_path)  # never started: nothing is delivered
    stopped.publish("news", {"pending": True})
    stopped.close()
    assert len((tmp_path / "undelivered.jsonl").read_text().splitlines()) == 2
    with receiver() as sink:
        bus = InProcessBus(TOPOLOGY, tmp_path)
        bus.start(sink.url)
        assert sink.wait_for(2, timeout=10)
        bus.close()
    assert {cloudevent.decode(json.loads(r.body)).data["pending"] for r in sink.requests} == {True}
    assert not (tmp_path / "undelivered.jsonl").exists()


def test_publishing_to_an_unknown_topic_is_an_error(tmp_path: Path) -> None:
    bus = InProcessBus(TOPOLOGY, tmp_path)
    with pytest.raises(BusError, match="no topic named 'nope'"):
        bus.publish("nope", {})
    bus.close()


def test_a_topic_without_subscribers_accepts_messages(tmp_path: Path) -> None:
    bus = InProcessBus(TOPOLOGY, tmp_path)
    assert bus.publish("quiet", {"x": 1})
    bus.close()
