"""The generic webhook channel: each event as Alertmanager's webhook v4 JSON, so PagerDuty, Teams or any
receiver written for Alertmanager takes it as is."""

from __future__ import annotations

import datetime as dt
import json

import urllib3

from perfguard.notify.message import alertmanager_payload
from perfguard.notify.port import AlertEvent, Delivery
from perfguard.notify.retry import Attempt, RetryPolicy, attempts_note, parse_retry_after, with_retries
from perfguard.notify.runbook import GuidanceSource

RETRYABLE_STATUSES = frozenset({408, 425, 429})  # plus every 5xx, as Alertmanager's webhook retries


class WebhookNotifier:
    """Posts every event to one URL; retries 429 and 5xx with backoff, honouring Retry-After."""

    def __init__(
        self,
        url: str,
        guidance: GuidanceSource,
        name: str = "webhook",
        policy: RetryPolicy | None = None,
        receiver: str = "perfguard",
        external_url: str = "",
        pool: urllib3.PoolManager | None = None,
    ) -> None:
        self.name = name
        self._url = url
        self._guidance = guidance
        self._policy = policy or RetryPolicy()
        self._receiver = receiver
        self._external_url = external_url
        self._pool = pool or urllib3.PoolManager(headers={"User-Agent": "perfguard-notifier"})

    def send(self, event: AlertEvent, previous: Delivery | None) -> Delivery:
        """Post the event; a receiver keeps its own state, so a resolved event is a new post like any other."""
        payload = alertmanager_payload(event, self._guidance(event), self._receiver, self._external_url)
        body = json.dumps(payload).encode()
        outcome, tries = with_retries(lambda: self._post(body), self._policy)
        if outcome.ok:
            return Delivery(self.name, True)
        return Delivery(self.name, False, error=attempts_note(outcome, tries))

    def _post(self, body: bytes) -> Attempt:
        try:
            response = self._pool.request(
                "POST",
                self._url,
                body=body,
                headers={"Content-Type": "application/json"},
                timeout=urllib3.Timeout(total=self._policy.timeout),
                retries=False,  # the policy retries, so Retry-After and the deadline are ours to honour
                redirect=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            # The type only: the message names the URL, and webhook URLs often carry a secret.
            return Attempt(False, retryable=True, error=f"connection failed ({type(exc).__name__})")
        return _outcome(response.status, response.headers.get("Retry-After"))


def _outcome(status: int, retry_after: str | None) -> Attempt:
    if 200 <= status < 300:
        return Attempt(True)
    retryable = status in RETRYABLE_STATUSES or status >= 500
    return Attempt(False, retryable, f"HTTP {status}", parse_retry_after(retry_after, dt.datetime.now(dt.UTC)))
