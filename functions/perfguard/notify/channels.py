"""The notification channels the settings configure: Slack, email, one webhook per URL (none is an empty list)."""

from __future__ import annotations

import logging
from pathlib import Path

from perfguard.errors import ConfigError
from perfguard.notify.email import EmailNotifier, SmtpConfig
from perfguard.notify.port import Notifier
from perfguard.notify.retry import RetryPolicy
from perfguard.notify.runbook import GuidanceSource, RunbookLibrary, default_runbooks_dir
from perfguard.notify.slack import SlackNotifier
from perfguard.notify.webhook import WebhookNotifier
from perfguard.settings import Settings

log = logging.getLogger(__name__)


def notifiers_from_settings(
    settings: Settings, runbooks: RunbookLibrary | None = None, policy: RetryPolicy | None = None
) -> list[Notifier]:
    """Every configured channel, each with its runbook guidance and retry policy."""
    guidance = (runbooks or RunbookLibrary(_runbooks_dir(), settings.runbook_base_url)).for_event
    notifiers: list[Notifier] = []
    if (settings.slack_bot_token and settings.slack_channel) or settings.slack_webhook_url:
        notifiers.append(_slack(settings, guidance, policy))
    elif settings.slack_bot_token:
        log.error("slack_bot_token is set without slack_channel: no Slack notifications")
    if settings.smtp_host and settings.smtp_to:
        notifiers.append(_email(settings, guidance, policy))
    elif settings.smtp_host:
        log.error("smtp_host is set but smtp_to names no recipient: no alert email")
    notifiers += [
        WebhookNotifier(url, guidance, name=webhook_name(i), policy=policy)
        for i, url in enumerate(settings.alert_webhook_urls)
    ]
    return notifiers


def webhook_name(index: int) -> str:
    """`webhook`, `webhook-2`, ...: stable while URLs are only added at the end (the log keys on it)."""
    return "webhook" if index == 0 else f"webhook-{index + 1}"


def _slack(settings: Settings, guidance: GuidanceSource, policy: RetryPolicy | None) -> SlackNotifier:
    return SlackNotifier(
        guidance,
        bot_token=settings.slack_bot_token,
        channel=settings.slack_channel,
        webhook_url=settings.slack_webhook_url,
        api_url=settings.slack_api_url,
        policy=policy,
    )


def _email(settings: Settings, guidance: GuidanceSource, policy: RetryPolicy | None) -> EmailNotifier:
    config = SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        starttls=settings.smtp_starttls == "yes",
        username=settings.smtp_username,
        password=settings.smtp_password,
        sender=settings.smtp_from,
        recipients=settings.smtp_to,
        escalation_recipients=settings.escalation_email_to,
    )
    return EmailNotifier(config, guidance, policy)


def _runbooks_dir() -> Path | None:
    """The runbooks folder; without one, messages still link the runbook but quote none of it."""
    try:
        return default_runbooks_dir()
    except ConfigError as exc:
        log.warning("%s: alert messages will not quote runbook steps", exc)
        return None
