"""The `cycles_top_up` remediation action: send cycles from a funding wallet to a canister whose runway is short.

remediate_alert (perfguard.api.remediation) hands each verdict of this action type here. The canister is the
alert's endpoint (its configured name, resolved through `canisters_file`); the wallet is
`topup_wallet_canister`, whose `wallet_send128` moves `topup_amount_cycles` (the agent's identity,
`icp_identity_pem`, must be a custodian of the wallet). Before acting, the caps and the unknown-outcome
block of perfguard.domain.canister_topup are checked against 24 h of the action's audit rows.

Outcomes: ok (the wallet replied Ok), failed with `refused: …` (the wallet said no: nothing moved) or failed
with `unknown outcome: …` (no answer: the cycles may have moved), which blocks further top-ups of the
canister until a person checks. Each one returns the audit row and posts a Slack notice (bot token and
channel, or the webhook, when set; a failed notice is logged, never raised).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from slack_sdk import WebClient, WebhookClient
from slack_sdk.errors import SlackApiError

from perfguard.api.canisters import load_canisters
from perfguard.domain import remediation as domain
from perfguard.domain.canister_topup import UNKNOWN, WINDOW, PastTopUp, refusal
from perfguard.icp.agent import close_agent, make_agent, top_up
from perfguard.notify.port import AlertEvent
from perfguard.notify.retry import RetryPolicy
from perfguard.notify.slack import retry_handlers
from perfguard.runtime import Runtime
from perfguard.settings import Settings
from perfguard.warehouse.sql import load_query

log = logging.getLogger(__name__)
ACTION_TYPE = "cycles_top_up"
ACTED_BY = "remediation"
TOPUP_TIMEOUT = 60.0  # seconds for the update call; past it the outcome is unknown, never retried
NOTICE_POLICY = RetryPolicy(attempts=2, first_backoff=1.0, max_backoff=2.0, max_retry_after=5.0, deadline=10.0)


def available(settings: Settings) -> bool:
    """Whether top-ups can run: a funding wallet is configured."""
    return bool(settings.topup_wallet_canister)


def carry_out(runtime: Runtime, verdict: domain.Verdict, event: AlertEvent, now: dt.datetime) -> dict[str, Any]:
    """Check the caps, then execute or dry-run the top-up; the audit row (a Slack notice for every act)."""
    settings = runtime.settings
    canister_id = _canister_id(settings, event.endpoint_or_operation)
    mode, outcome, detail = verdict.mode, "skipped", verdict.reason or None
    if verdict.mode != domain.SKIPPED:
        if canister_id is None:
            mode, detail = domain.SKIPPED, f"canister {event.endpoint_or_operation!r} is not in canisters_file"
        else:
            mode, outcome, detail = _act(runtime, verdict.mode, canister_id, event, now)
    row = {
        "alert_id": event.id,
        "action": verdict.action.name,
        "rule": event.rule,
        "endpoint_or_operation": event.endpoint_or_operation,
        "mode": mode,
        "outcome": outcome,
        "detail": detail,
        "acted_at": now,
        "acted_by": ACTED_BY,
    }
    level = logging.ERROR if outcome == "failed" else logging.INFO
    log.log(level, "remediation %s for alert %s: %s %s", verdict.action.name, event.id, mode, detail or outcome)
    if mode != domain.SKIPPED:
        notice(settings, f"Cycles top-up of {event.subject()} ({mode}): {detail or outcome}")
    return row


def _act(runtime: Runtime, mode: str, canister_id: str, event: AlertEvent, now: dt.datetime) -> tuple[str, str, str]:
    """(mode, outcome, detail) of the top-up, once the caps allow it."""
    s = runtime.settings
    amount = s.topup_amount_cycles
    rows = runtime.warehouse.query(load_query("topup_history"), {"action": ACTION_TYPE, "since": now - WINDOW})
    past = [PastTopUp(str(r["endpoint_or_operation"]), r["mode"], r["detail"], r["acted_at"]) for r in rows]
    name = str(event.endpoint_or_operation)
    reason = refusal(name, past, amount, s.topup_max_per_canister_per_day, s.topup_max_cycles_per_day, now)
    if reason:
        return domain.SKIPPED, "skipped", reason
    plan = f"{amount} cycles from wallet {s.topup_wallet_canister} to {canister_id}"
    if mode == domain.DRY_RUN:
        return domain.DRY_RUN, "skipped", f"would send {plan}"
    agent = make_agent(s.icp_replica_url, s.icp_identity_pem, connections=1)
    try:
        result = top_up(agent, s.topup_wallet_canister, canister_id, amount, TOPUP_TIMEOUT)
    finally:
        close_agent(agent)
    if result.outcome == "ok":
        return domain.EXECUTED, "ok", f"sent {plan}"
    if result.outcome == "refused":
        return domain.EXECUTED, "failed", f"refused: {result.detail}"
    return domain.EXECUTED, "failed", f"{UNKNOWN}: {result.detail} (check the balance; not retried)"


def _canister_id(settings: Settings, name: str | None) -> str | None:
    for config in load_canisters(settings.canisters_file):
        if name in (config.name, config.canister_id):
            return config.canister_id
    return None


def notice(settings: Settings, text: str) -> None:
    """Post a one-line notice to Slack when it is configured; log a failure, never raise."""
    handlers = retry_handlers(NOTICE_POLICY)
    timeout = max(1, round(NOTICE_POLICY.timeout))
    try:
        if settings.slack_bot_token and settings.slack_channel:
            base = settings.slack_api_url.rstrip("/") + "/" if settings.slack_api_url else WebClient.BASE_URL
            client = WebClient(settings.slack_bot_token, base_url=base, timeout=timeout, retry_handlers=handlers)
            client.chat_postMessage(channel=settings.slack_channel, text=text)
        elif settings.slack_webhook_url:
            response = WebhookClient(settings.slack_webhook_url, timeout=timeout, retry_handlers=handlers).send(
                text=text
            )
            if response.status_code != 200:
                log.warning("top-up notice: Slack webhook answered %d", response.status_code)
    except (SlackApiError, OSError) as exc:
        log.warning("top-up notice not posted: %s", type(exc).__name__)
