"""SlackNotifier with the real slack-sdk against a local Slack: post, update on resolve, the webhook fallback,
rate limits (Retry-After honoured), server errors retried, and failures returned, never raised."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from perfguard.errors import ConfigError
from perfguard.notify.port import Delivery
from perfguard.notify.retry import RetryPolicy
from perfguard.notify.runbook import RunbookLibrary
from perfguard.notify.slack import SlackNotifier, message_reference
from tests.notify.conftest import FAST, alert_event
from tests.support.slack_receiver import SlackReceiver, slack_receiver


@pytest.fixture
def slack() -> Iterator[SlackReceiver]:
    with slack_receiver() as receiver:
        yield receiver


def bot(receiver: SlackReceiver, library: RunbookLibrary, policy: RetryPolicy = FAST) -> SlackNotifier:
    return SlackNotifier(
        library.for_event, bot_token=receiver.token, channel="#alerts", api_url=receiver.api_url, policy=policy
    )


def hook(receiver: SlackReceiver, library: RunbookLibrary, policy: RetryPolicy = FAST) -> SlackNotifier:
    return SlackNotifier(library.for_event, webhook_url=receiver.webhook_url, policy=policy)


def action_ids(blocks: list[dict[str, object]]) -> list[object]:
    actions = [b for b in blocks if b["type"] == "actions"]
    return [e["action_id"] for a in actions for e in a["elements"]]  # type: ignore[attr-defined,index]


def test_the_bot_posts_the_alert_and_references_the_message_by_channel_id_and_ts(
    slack: SlackReceiver, library: RunbookLibrary
) -> None:
    delivery = bot(slack, library).send(alert_event(), None)
    assert delivery.ok and delivery.channel == "slack" and not delivery.error
    [call] = slack.calls
    assert call.method == "chat.postMessage" and call.headers["Authorization"] == f"Bearer {slack.token}"
    body = call.payload()
    assert body["channel"] == "#alerts" and body["text"].startswith("[HIGH] P95 latency above 2 s: POST /swaps")
    assert action_ids(body["blocks"]) == ["perfguard_ack", "perfguard_resolve", "perfguard_false_positive"]
    channel, ts = message_reference(delivery.reference) or ("", "")
    assert channel == "C0ALERTS" and (channel, ts) in slack.messages


def test_acknowledge_then_resolve_update_the_same_message_and_reply_in_its_thread(
    slack: SlackReceiver, library: RunbookLibrary
) -> None:
    notifier = bot(slack, library)
    first = notifier.send(alert_event(), None)
    acked = notifier.send(alert_event("investigating"), first)
    resolved = notifier.send(alert_event("resolved"), first)
    assert first.reference == acked.reference == resolved.reference and resolved.ok
    channel, ts = message_reference(first.reference) or ("", "")
    updates = slack.of("chat.update")
    assert [(u.payload()["channel"], u.payload()["ts"]) for u in updates] == [(channel, ts)] * 2
    assert action_ids(updates[0].payload()["blocks"]) == ["perfguard_resolve", "perfguard_false_positive"]
    final = slack.messages[(channel, ts)]
    assert final["blocks"][0]["text"]["text"].startswith(":white_check_mark: Resolved: P95 latency above 2 s")
    assert action_ids(final["blocks"]) == []
    replies = [c.payload() for c in slack.of("chat.postMessage") if "thread_ts" in c.payload()]
    assert [r["thread_ts"] for r in replies] == [ts, ts]
    assert replies[1]["text"].startswith("Resolved at 2026-11-25 09:22 UTC by evaluator after 17 min")
    assert len(slack.messages) == 3  # the alert and its two replies: no second alert message


def test_a_message_that_cannot_be_updated_any_more_is_posted_anew(
    slack: SlackReceiver, library: RunbookLibrary
) -> None:
    gone = Delivery("slack", True, reference="C0ALERTS:1700000000.000001")
    delivery = bot(slack, library).send(alert_event("resolved"), gone)
    assert delivery.ok and delivery.reference != gone.reference
    assert [c.method for c in slack.calls] == ["chat.update", "chat.postMessage"]


def test_without_a_bot_token_the_webhook_posts_and_a_resolve_is_a_new_message(
    slack: SlackReceiver, library: RunbookLibrary
) -> None:
    notifier = hook(slack, library)
    first = notifier.send(alert_event(), None)
    resolved = notifier.send(alert_event("resolved"), first)
    assert first.ok and resolved.ok and first.reference == ""
    assert [c.method for c in slack.calls] == ["webhook", "webhook"]
    bodies = [c.payload() for c in slack.calls]
    assert action_ids(bodies[0]["blocks"]) == ["perfguard_ack", "perfguard_resolve", "perfguard_false_positive"]
    assert bodies[1]["text"] == "Resolved: P95 latency above 2 s: POST /swaps" and action_ids(bodies[1]["blocks"]) == []


@pytest.mark.parametrize("channel", ["bot", "webhook"])
def test_a_429_is_retried_after_its_retry_after(slack: SlackReceiver, library: RunbookLibrary, channel: str) -> None:
    notifier = bot(slack, library) if channel == "bot" else hook(slack, library)
    slack.fail(429, retry_after="1")
    delivery = notifier.send(alert_event(), None)
    assert delivery.ok and len(slack.calls) == 2
    gap = slack.calls[1].arrived - slack.calls[0].arrived
    assert 1.0 <= gap < 3.5  # Retry-After: 1, plus slack-sdk's jitter of up to a second


@pytest.mark.parametrize(("channel", "statuses"), [("bot", [500, 503]), ("webhook", [503, 502])])
def test_server_errors_are_retried_until_success(
    slack: SlackReceiver, library: RunbookLibrary, channel: str, statuses: list[int]
) -> None:
    notifier = bot(slack, library) if channel == "bot" else hook(slack, library)
    for status in statuses:
        slack.fail(status)
    delivery = notifier.send(alert_event(), None)
    assert delivery.ok and len(slack.calls) == 3


@pytest.mark.parametrize("channel", ["bot", "webhook"])
def test_a_persistent_failure_is_returned_after_the_attempts_in_bounded_time(
    slack: SlackReceiver, library: RunbookLibrary, channel: str
) -> None:
    notifier = bot(slack, library) if channel == "bot" else hook(slack, library)
    slack.fail(500, times=10)
    started = time.monotonic()
    delivery = notifier.send(alert_event(), None)
    assert not delivery.ok and "500" in delivery.error
    assert len(slack.calls) == FAST.attempts and time.monotonic() - started < 3


def test_a_retry_after_longer_than_the_policy_waits_fails_at_once(
    slack: SlackReceiver, library: RunbookLibrary
) -> None:
    slack.fail(429, retry_after="120")
    started = time.monotonic()
    delivery = bot(slack, library).send(alert_event(), None)
    assert not delivery.ok and "429" in delivery.error and "ratelimited" in delivery.error
    assert len(slack.calls) == 1 and time.monotonic() - started < 1


def test_an_api_error_is_not_retried(slack: SlackReceiver, library: RunbookLibrary) -> None:
    notifier = SlackNotifier(library.for_event, bot_token="xoxb-wrong", channel="#alerts", api_url=slack.api_url)
    delivery = notifier.send(alert_event(), None)
    assert not delivery.ok and "invalid_auth" in delivery.error and len(slack.calls) == 1


def test_slack_down_is_a_failed_delivery_not_an_exception(library: RunbookLibrary) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    notifier = SlackNotifier(
        library.for_event, bot_token="xoxb-x", channel="#alerts", api_url=f"http://127.0.0.1:{port}/api", policy=FAST
    )
    started = time.monotonic()
    delivery = notifier.send(alert_event(), None)
    assert not delivery.ok and "URLError" in delivery.error and time.monotonic() - started < 3


def test_slack_needs_a_token_and_channel_or_a_webhook(library: RunbookLibrary) -> None:
    with pytest.raises(ConfigError, match="slack_webhook_url"):
        SlackNotifier(library.for_event, bot_token="xoxb-x")
