"""The Slack channel (slack-sdk): a bot token posts to a channel and edits the message when the alert changes;
an incoming webhook, used when there is no token, can only post, so each change is a new message.

slack-sdk retries nothing but one connection error by default, and returns (not raises) a webhook's 429, so
the retry handlers are always passed explicitly: rate limits (Retry-After honoured), 5xx and connection errors.
"""

from __future__ import annotations

import http.client
import logging
from typing import Any

from slack_sdk import WebClient, WebhookClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    HttpRequest,
    HttpResponse,
    RateLimitErrorRetryHandler,
    RetryHandler,
    RetryIntervalCalculator,
    RetryState,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from perfguard.errors import ConfigError
from perfguard.notify.message import slack_message, slack_thread_reply
from perfguard.notify.port import AlertEvent, Delivery
from perfguard.notify.retry import RetryPolicy
from perfguard.notify.runbook import GuidanceSource

log = logging.getLogger(__name__)
# chat.update errors after which the alert is posted anew rather than lost (the message was deleted, too old...).
REPOST_ON = frozenset({"message_not_found", "cant_update_message", "edit_window_closed", "channel_not_found"})
_SEND_ERRORS = (SlackClientError, OSError, http.client.HTTPException)


class SlackNotifier:
    """Posts alerts to Slack; with a bot token, a later event of the alert updates its first message."""

    name = "slack"

    def __init__(
        self,
        guidance: GuidanceSource,
        *,
        bot_token: str = "",
        channel: str = "",
        webhook_url: str = "",
        api_url: str = "",
        policy: RetryPolicy | None = None,
    ) -> None:
        policy = policy or RetryPolicy()
        if not (bot_token and channel) and not webhook_url:
            raise ConfigError("Slack needs slack_bot_token with slack_channel, or slack_webhook_url")
        self._guidance = guidance
        self._channel = channel
        timeout = max(1, round(policy.timeout))
        handlers = retry_handlers(policy)
        # A token without a channel cannot post; then the webhook, if there is one, is used.
        use_bot = bool(bot_token and channel)
        self._client = (
            WebClient(bot_token, base_url=_api_base(api_url), timeout=timeout, retry_handlers=handlers)
            if use_bot
            else None
        )
        self._webhook = None if use_bot else WebhookClient(webhook_url, timeout=timeout, retry_handlers=handlers)

    def send(self, event: AlertEvent, previous: Delivery | None) -> Delivery:
        """Post the event, or update the alert's message (bot token, a later event); failures are returned."""
        try:
            return self._with_bot(event, previous) if self._client else self._with_webhook(event)
        except SlackApiError as exc:
            return self._failed(f"Slack API {exc.response.status_code}: {exc.response.get('error', 'error')}")
        except _SEND_ERRORS as exc:
            return self._failed(f"{type(exc).__name__}: {exc}")

    def _with_bot(self, event: AlertEvent, previous: Delivery | None) -> Delivery:
        target = message_reference(previous.reference) if previous else None
        if target and event.status != "open":
            updated = self._update(event, *target)
            if updated:
                return updated
        return self._post(event)

    def _post(self, event: AlertEvent) -> Delivery:
        assert self._client is not None
        message = slack_message(event, self._guidance(event))
        # An alert opened with others of its group goes into the thread of the group's first message.
        thread = message_reference(str(event.context.get("group_thread") or ""))
        channel, thread_ts = thread if thread else (self._channel, None)
        response = self._client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=message.text, blocks=message.blocks
        )
        return Delivery(self.name, True, reference=f"{response['channel']}:{response['ts']}")

    def _update(self, event: AlertEvent, channel: str, ts: str) -> Delivery | None:
        """Edit the message and reply in its thread; None when the message can no longer be edited."""
        assert self._client is not None
        message = slack_message(event, self._guidance(event))
        try:
            self._client.chat_update(channel=channel, ts=ts, text=message.text, blocks=message.blocks)
        except SlackApiError as exc:
            if exc.response.get("error") not in REPOST_ON:
                raise
            log.warning("Slack message %s:%s of alert %s is gone (%s); posting anew", channel, ts, event.id, exc)
            return None
        return Delivery(self.name, True, reference=f"{channel}:{ts}", error=self._reply(event, channel, ts))

    def _reply(self, event: AlertEvent, channel: str, ts: str) -> str:
        """Reply in the message's thread; a failed reply is noted, not failed: redelivery would edit again."""
        assert self._client is not None
        try:
            self._client.chat_postMessage(channel=channel, thread_ts=ts, text=slack_thread_reply(event))
        except SlackApiError as exc:
            return f"thread reply failed: {exc.response.get('error', 'error')}"
        except _SEND_ERRORS as exc:
            return f"thread reply failed: {type(exc).__name__}"
        return ""

    def _with_webhook(self, event: AlertEvent) -> Delivery:
        assert self._webhook is not None
        message = slack_message(event, self._guidance(event))
        response = self._webhook.send(text=message.text, blocks=message.blocks)
        if response.status_code == 200:
            return Delivery(self.name, True)
        # After the handlers' retries a webhook's 429 or 5xx comes back as a response, not an exception.
        return self._failed(f"Slack webhook HTTP {response.status_code}: {str(response.body)[:200]}")

    def _failed(self, error: str) -> Delivery:
        return Delivery(self.name, False, error=error)


def message_reference(reference: str) -> tuple[str, str] | None:
    """The (channel id, ts) of a bot delivery's reference `C123:1700000000.000100`, or None."""
    channel, _, ts = reference.partition(":")
    return (channel, ts) if channel and ts else None


def retry_handlers(policy: RetryPolicy) -> list[RetryHandler]:
    """slack-sdk's handlers for connection errors, rate limits and server errors, sized by the policy."""
    retries = max(0, policy.attempts - 1)
    interval = PolicyInterval(policy)
    return [
        ConnectionErrorRetryHandler(max_retry_count=retries, interval_calculator=interval),
        BoundedRateLimitRetryHandler(max_retry_count=retries, max_wait=policy.max_retry_after),
        ServerErrorRetryHandler(max_retry_count=retries, interval_calculator=interval),
        OtherServerErrorRetryHandler(max_retry_count=retries, interval_calculator=interval),
    ]


class PolicyInterval(RetryIntervalCalculator):
    """The policy's backoff as slack-sdk's interval calculator (its own adds up to a second of jitter)."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy

    def calculate_sleep_duration(self, current_attempt: int) -> float:
        """The wait before retry number `current_attempt + 1`."""
        return self._policy.backoff(current_attempt + 1)


class BoundedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """slack-sdk's 429 handler (sleeps Retry-After plus jitter), but only for a wait we accept: a longer one
    fails now and the bus redelivers later, so one rate limit never holds a function instance for minutes."""

    def __init__(self, max_retry_count: int, max_wait: float) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        value = _header(response.headers, "retry-after")
        # The parent parses Retry-After as whole seconds; anything else would raise inside slack-sdk.
        return value is None or (value.strip().isdigit() and int(value) <= self.max_wait)


class OtherServerErrorRetryHandler(ServerErrorRetryHandler):
    """Retries the 5xx slack-sdk's ServerErrorRetryHandler leaves out (it takes only 500 and 503)."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and 500 <= response.status_code < 600 and response.status_code not in (500, 503)


def _header(headers: dict[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) and value else value)
    return None


def _api_base(api_url: str) -> str:
    """slack-sdk joins method names onto the base URL, so it must end with a slash."""
    return api_url.rstrip("/") + "/" if api_url else WebClient.BASE_URL
