"""`remediate_alert`: run the allowlisted remediation actions an alert that opens calls for.

perfguard.domain.remediation chooses the catalog actions bound to the alert and decides, from the audit rows
of queries/remediation_history.sql and the clock, whether each is executed, dry-run or skipped (cooldown,
rate limit, unavailable). Every action considered gets one row in `remediation_actions` and one log line;
with remediation_mode off nothing is queried or recorded.

An action that fails is recorded as failed and never raised: the bus would redeliver the event, and a
remediation is not retried behind people's backs (an executed action, ok or failed, is never repeated for
the same alert). The webhook action posts with the notifiers' retries, within a bounded time.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import urllib3

from perfguard.api import topup
from perfguard.bus.cloudevent import Message
from perfguard.domain import remediation as domain
from perfguard.errors import ConfigError
from perfguard.notify.port import AlertEvent
from perfguard.notify.retry import Attempt, RetryPolicy, attempts_note, parse_retry_after, with_retries
from perfguard.notify.webhook import RETRYABLE_STATUSES
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from perfguard.warehouse.sql import load_query

log = logging.getLogger(__name__)
TABLE = "remediation_actions"
ACTED_BY = "remediation"
# Shorter than a notification's: an action that cannot be delivered in ~20 s is recorded as failed, not chased.
POLICY = RetryPolicy(attempts=3, first_backoff=1.0, max_backoff=5.0, max_retry_after=5.0, deadline=20.0, timeout=5.0)


def remediate_alert(runtime: Runtime, message: Message, policy: RetryPolicy = POLICY) -> list[dict[str, Any]]:
    """Decide and run the actions the alert calls for; the remediation_actions rows appended."""
    settings = runtime.settings
    if settings.remediation_mode == domain.OFF:
        return []
    event = AlertEvent.from_message(message.data)
    alert = _facts(event)
    catalog = load_catalog(settings.remediation_catalog_file)
    actions = domain.chosen_actions(catalog, alert)
    if not actions:
        return []
    now = runtime.clock()
    since = domain.history_start(catalog, event.triggered_at, now)
    history = [
        domain.acted_from_row(r) for r in runtime.warehouse.query(load_query("remediation_history"), {"since": since})
    ]
    verdicts = domain.decide(
        actions, alert, history, settings.remediation_mode, _available(settings), settings.remediation_max_per_hour, now
    )
    rows = [
        topup.carry_out(runtime, verdict, event, now)
        if verdict.action.type == topup.ACTION_TYPE
        else _carry_out(verdict, event, settings, policy, now)
        for verdict in verdicts
    ]
    if rows:
        runtime.warehouse.append_rows(TABLE, rows)
    return rows


@functools.cache
def load_catalog(path: str) -> tuple[domain.Action, ...]:
    """The catalog at `path`, or the packaged one; read once per process (a bad one is a ConfigError)."""
    if not path:
        text = resources.files("perfguard").joinpath("remediation.yaml").read_text(encoding="utf-8")
        return domain.parse_catalog(text, "perfguard/remediation.yaml")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read remediation catalog {path}: {exc}") from exc
    return domain.parse_catalog(text, path)


def _facts(event: AlertEvent) -> domain.AlertFacts:
    return domain.AlertFacts(
        event.id, event.alert_type, event.rule, event.endpoint_or_operation, event.severity, event.status
    )


def _available(settings: Settings) -> frozenset[str]:
    """The action types that can run with these settings."""
    webhook = {"webhook"} if settings.remediation_webhook_url else set()
    return frozenset(webhook | ({topup.ACTION_TYPE} if topup.available(settings) else set()))


def _carry_out(
    verdict: domain.Verdict, event: AlertEvent, settings: Settings, policy: RetryPolicy, now: dt.datetime
) -> dict[str, Any]:
    """Execute the action if the verdict says so, log it, and return its audit row."""
    name = verdict.action.name
    outcome, detail = "skipped", verdict.reason or None
    if verdict.mode == domain.EXECUTED:
        error = _post(settings.remediation_webhook_url, _payload(verdict.action, event), policy)
        outcome, detail = ("failed", error) if error else ("ok", None)
    level = logging.ERROR if outcome == "failed" else logging.INFO
    log.log(level, "remediation %s for alert %s: %s %s", name, event.id, verdict.mode, detail or outcome)
    return {
        "alert_id": event.id,
        "action": name,
        "rule": event.rule,
        "endpoint_or_operation": event.endpoint_or_operation,
        "mode": verdict.mode,
        "outcome": outcome,
        "detail": detail,
        "acted_at": now,
        "acted_by": ACTED_BY,
    }


def _payload(action: domain.Action, event: AlertEvent) -> dict[str, Any]:
    """What the webhook action posts: the action and the alert, so the receiver can decide for itself."""
    alert = {
        "id": event.id,
        "alert_type": event.alert_type,
        "rule": event.rule,
        "metric_type": event.metric_type,
        "endpoint_or_operation": event.endpoint_or_operation,
        "current_value": event.current_value,
        "threshold_value": event.threshold_value,
        "severity": event.severity,
        "status": event.status,
        "triggered_at": event.triggered_at.isoformat(),
        "changed_at": event.changed_at.isoformat(),
        "context": event.context,
    }
    return {"action": action.name, "description": action.description, "alert": alert}


def _post(url: str, payload: Mapping[str, Any], policy: RetryPolicy) -> str:
    """POST the payload with retries; the error ("" when it was taken). Never raises."""
    body = json.dumps(payload, default=str).encode()
    pool = urllib3.PoolManager(headers={"User-Agent": "perfguard-remediation"})
    outcome, tries = with_retries(lambda: _attempt(pool, url, body, policy), policy)
    return "" if outcome.ok else attempts_note(outcome, tries)


def _attempt(pool: urllib3.PoolManager, url: str, body: bytes, policy: RetryPolicy) -> Attempt:
    try:
        response = pool.request(
            "POST",
            url,
            body=body,
            headers={"Content-Type": "application/json"},
            timeout=urllib3.Timeout(total=policy.timeout),
            retries=False,  # the policy retries, honouring Retry-After within its deadline
            redirect=False,
        )
    except urllib3.exceptions.HTTPError as exc:
        # The type only: the message names the URL, which may carry a token.
        return Attempt(False, retryable=True, error=f"connection failed ({type(exc).__name__})")
    if 200 <= response.status < 300:
        return Attempt(True)
    retryable = response.status in RETRYABLE_STATUSES or response.status >= 500
    retry_after = parse_retry_after(response.headers.get("Retry-After"), dt.datetime.now(dt.UTC))
    return Attempt(False, retryable, f"HTTP {response.status}", retry_after)
