"""WebhookNotifier against local receivers: the Alertmanager v4 body, retries of 429 and 5xx with Retry-After
(seconds or an HTTP date) honoured, a bounded total time, and failures returned, not raised."""

from __future__ import annotations

import dataclasses
import email.utils
import json
import socket
import time

from perfguard.notify.message import alertmanager_payload
from perfguard.notify.runbook import RunbookLibrary
from perfguard.notify.webhook import WebhookNotifier
from tests.notify.conftest import FAST, alert_event
from tests.support.receiver import receiver
from tests.support.slack_receiver import slack_receiver


def test_the_event_is_posted_as_alertmanager_v4_json(library: RunbookLibrary) -> None:
    with receiver() as sink:
        delivery = WebhookNotifier(f"{sink.url}/alerts", library.for_event, policy=FAST).send(alert_event(), None)
    assert delivery.ok and delivery.channel == "webhook"
    [request] = sink.requests
    assert request.path == "/alerts" and request.headers["Content-Type"] == "application/json"
    body = json.loads(request.body)
    assert body == alertmanager_payload(alert_event(), library.for_event(alert_event()))
    assert body["version"] == "4" and body["alerts"][0]["labels"]["alertname"] == "p95_api_latency"


def test_5xx_are_retried_until_success(library: RunbookLibrary) -> None:
    with receiver() as sink:
        sink.script = [500, 503]
        delivery = WebhookNotifier(sink.url, library.for_event, policy=FAST).send(alert_event("resolved"), None)
    assert delivery.ok and len(sink.requests) == 3
    assert len({r.body for r in sink.requests}) == 1  # the same body each time


def test_a_persistent_5xx_fails_after_the_attempts_in_bounded_time(library: RunbookLibrary) -> None:
    with receiver() as sink:
        sink.script = [502] * 10
        started = time.monotonic()
        delivery = WebhookNotifier(sink.url, library.for_event, policy=FAST).send(alert_event(), None)
    assert (delivery.ok, delivery.error) == (False, "HTTP 502 (after 3 attempts)")
    assert len(sink.requests) == FAST.attempts and time.monotonic() - started < 3


def test_a_client_error_is_not_retried(library: RunbookLibrary) -> None:
    with receiver() as sink:
        sink.script = [400]
        delivery = WebhookNotifier(sink.url, library.for_event, policy=FAST).send(alert_event(), None)
    assert delivery.error == "HTTP 400 (after 1 attempt)" and len(sink.requests) == 1


def test_retry_after_in_seconds_is_honoured(library: RunbookLibrary) -> None:
    with slack_receiver() as hook:
        hook.fail(429, retry_after="1")
        delivery = WebhookNotifier(hook.webhook_url, library.for_event, policy=FAST).send(alert_event(), None)
    assert delivery.ok and len(hook.calls) == 2
    assert 1.0 <= hook.calls[1].arrived - hook.calls[0].arrived < 2.5


def test_retry_after_as_an_http_date_is_honoured(library: RunbookLibrary) -> None:
    with slack_receiver() as hook:
        hook.fail(503, retry_after=email.utils.formatdate(time.time() + 2, usegmt=True))
        delivery = WebhookNotifier(hook.webhook_url, library.for_event, policy=FAST).send(alert_event(), None)
    assert delivery.ok and len(hook.calls) == 2
    assert 0.9 <= hook.calls[1].arrived - hook.calls[0].arrived < 3  # the date has whole seconds


def test_a_wait_past_the_deadline_or_the_longest_retry_after_fails_now(library: RunbookLibrary) -> None:
    short = dataclasses.replace(FAST, deadline=0.5)
    with slack_receiver() as hook:
        hook.fail(429, retry_after="1")
        hook.fail(429, retry_after="60")
        first = WebhookNotifier(hook.webhook_url, library.for_event, policy=short).send(alert_event(), None)
        second = WebhookNotifier(hook.webhook_url, library.for_event, policy=FAST).send(alert_event(), None)
    assert first.error == second.error == "HTTP 429 (after 1 attempt)" and len(hook.calls) == 2


def test_a_receiver_that_is_down_is_a_failure_that_does_not_reveal_the_url(library: RunbookLibrary) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hooks/secret-token-123"
    started = time.monotonic()
    delivery = WebhookNotifier(url, library.for_event, policy=FAST).send(alert_event(), None)
    assert not delivery.ok and delivery.error.startswith("connection failed") and "secret" not in delivery.error
    assert "after 3 attempts" in delivery.error and time.monotonic() - started < 3
