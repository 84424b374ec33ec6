"""notifiers_from_settings: the configured channels, none when nothing is configured, and working ones."""

from __future__ import annotations

import json

import pytest

from perfguard.notify.channels import notifiers_from_settings
from perfguard.notify.runbook import RunbookLibrary
from perfguard.settings import Settings, load_settings
from tests.notify.conftest import FAST, alert_event
from tests.support.slack_receiver import slack_receiver
from tests.support.smtp_server import smtp_server


def test_nothing_configured_is_no_channel() -> None:
    assert notifiers_from_settings(Settings()) == []


def test_each_configured_channel_once_with_stable_names() -> None:
    settings = load_settings(
        environ={
            "PERFGUARD_SLACK_BOT_TOKEN": "xoxb-1",
            "PERFGUARD_SLACK_CHANNEL": "#alerts",
            "PERFGUARD_SMTP_HOST": "smtp.example.com",
            "PERFGUARD_SMTP_TO": "a@example.com, b@example.com",
            "PERFGUARD_ALERT_WEBHOOK_URLS": "https://a.example.com/hook,https://b.example.com/hook",
        }
    )
    assert [n.name for n in notifiers_from_settings(settings)] == ["slack", "email", "webhook", "webhook-2"]


def test_half_configured_channels_are_left_out_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(slack_bot_token="xoxb-1", smtp_host="smtp.example.com")
    assert notifiers_from_settings(settings) == []
    assert "without slack_channel" in caplog.text and "no recipient" in caplog.text


def test_the_built_channels_deliver(library: RunbookLibrary) -> None:
    with slack_receiver() as slack, smtp_server() as smtp:
        settings = Settings(
            slack_bot_token=slack.token,
            slack_channel="#alerts",
            slack_api_url=slack.api_url,
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_starttls="no",
            smtp_to=("oncall@example.com",),
            alert_webhook_urls=(slack.webhook_url,),
            runbook_base_url="https://git.example.com/perfguard/blob/main",
        )
        deliveries = [n.send(alert_event(), None) for n in notifiers_from_settings(settings, policy=FAST)]
        assert [(d.channel, d.ok) for d in deliveries] == [("slack", True), ("email", True), ("webhook", True)]
        assert [c.method for c in slack.calls] == ["chat.postMessage", "webhook"] and len(smtp.messages) == 1
        runbook = f"{settings.runbook_base_url}/runbooks/p95_api_latency.md"
        assert runbook in json.dumps(slack.calls[0].payload()["blocks"])
        assert runbook in smtp.messages[0].text()
