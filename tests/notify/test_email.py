"""EmailNotifier with the real smtplib against a local aiosmtpd server: content, threading, login, retries of
temporary failures, and failures returned when the server is down or refuses."""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from perfguard.notify.email import EmailNotifier, SmtpConfig
from perfguard.notify.runbook import RunbookLibrary
from tests.notify.conftest import FAST, alert_event
from tests.support.smtp_server import SmtpServer, smtp_server

RECIPIENTS = ("oncall@example.com", "backend@example.com")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server(users={"perfguard": "s3cret"}) as server:
        yield server


def notifier(library: RunbookLibrary, port: int, **changes: Any) -> EmailNotifier:
    base = SmtpConfig("127.0.0.1", port, starttls=False, sender="perfguard@example.com", recipients=RECIPIENTS)
    config = dataclasses.replace(base, local_hostname="localhost", **changes)
    return EmailNotifier(config, library.for_event, FAST)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_one_message_per_event_with_the_alert_facts(smtp: SmtpServer, library: RunbookLibrary) -> None:
    delivery = notifier(library, smtp.port).send(alert_event(), None)
    assert delivery.ok and delivery.channel == "email" and not delivery.error
    [received] = smtp.messages
    assert received.mail_from == "perfguard@example.com" and received.rcpt_tos == list(RECIPIENTS)
    message = received.message()
    assert message["Subject"] == "[perfguard] FIRING [HIGH] P95 latency above 2 s: POST /swaps"
    assert message["To"] == "oncall@example.com, backend@example.com"
    assert message["Message-ID"] == delivery.reference and message["X-Perfguard-Alert-Id"] == alert_event().id
    text = received.text()
    assert "Value:    2,600 ms (threshold 2,000 ms)" in text and "  09:04   2,600 ms  1,204" in text
    assert "  1. Which endpoints, since when" in text and smtp.logins == []  # no user set: no login


def test_a_later_event_replies_to_the_first_message(smtp: SmtpServer, library: RunbookLibrary) -> None:
    channel = notifier(library, smtp.port)
    first = channel.send(alert_event(), None)
    channel.send(alert_event("resolved"), first)
    resolved = smtp.messages[1].message()
    assert resolved["In-Reply-To"] == first.reference == resolved["References"]
    assert resolved["Subject"].startswith("[perfguard] RESOLVED")


def test_login_when_a_user_is_set(smtp: SmtpServer, library: RunbookLibrary) -> None:
    assert notifier(library, smtp.port, username="perfguard", password="s3cret").send(alert_event(), None).ok
    assert smtp.logins == ["perfguard"] and len(smtp.messages) == 1


def test_a_wrong_password_is_a_failure_that_is_not_retried(smtp: SmtpServer, library: RunbookLibrary) -> None:
    delivery = notifier(library, smtp.port, username="perfguard", password="nope").send(alert_event(), None)
    assert not delivery.ok and "SMTP 535" in delivery.error and "after 1 attempt" in delivery.error


def test_a_temporary_refusal_is_retried(smtp: SmtpServer, library: RunbookLibrary) -> None:
    smtp.script = ["451 4.3.0 Try again later"]
    assert notifier(library, smtp.port).send(alert_event(), None).ok
    assert smtp.data_commands == 2 and len(smtp.messages) == 1


def test_a_permanent_refusal_is_not_retried(smtp: SmtpServer, library: RunbookLibrary) -> None:
    smtp.script = ["554 5.6.0 Message rejected"]
    delivery = notifier(library, smtp.port).send(alert_event(), None)
    assert not delivery.ok and delivery.error.startswith("SMTP 554") and smtp.data_commands == 1


def test_a_persistent_temporary_refusal_fails_after_the_attempts(smtp: SmtpServer, library: RunbookLibrary) -> None:
    smtp.script = ["421 4.7.0 Busy"] * 5
    delivery = notifier(library, smtp.port).send(alert_event(), None)
    assert not delivery.ok and "421" in delivery.error and smtp.data_commands == FAST.attempts


def test_starttls_required_but_not_offered_fails_rather_than_sending_in_clear(
    smtp: SmtpServer, library: RunbookLibrary
) -> None:
    delivery = notifier(library, smtp.port, starttls=True).send(alert_event(), None)
    assert not delivery.ok and "STARTTLS" in delivery.error and smtp.messages == []


def test_smtp_down_is_a_failed_delivery_in_bounded_time(library: RunbookLibrary) -> None:
    started = time.monotonic()
    delivery = notifier(library, closed_port()).send(alert_event(), None)
    assert not delivery.ok and "connection failed" in delivery.error and "after 3 attempts" in delivery.error
    assert time.monotonic() - started < 3
