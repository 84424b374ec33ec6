"""The seed's scenario end to end, over real HTTP with the real slack-sdk talking to a local Slack:

Given the marketplace sends its API latencies to perfguard
When the P95 of an endpoint stays above 2 seconds for 5 consecutive minutes
Then an alert is raised with the endpoint, the value against the threshold and the runbook's first steps,
 And the developers get it on Slack (even when Slack is failing for a while), with buttons to act on it,
 And acknowledging it in Slack marks it `investigating`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import RunningStack, start_stack, stop_stack
from tests.integration.test_thresholds import backfill_until_now
from tests.integration.traffic import unique
from tests.support.slack_receiver import SlackReceiver, slack_receiver

pytestmark = pytest.mark.stack
SIGNING_SECRET = "test-signing-secret"
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def slack() -> Iterator[SlackReceiver]:
    with slack_receiver() as receiver:
        yield receiver


@pytest.fixture
def stack_with_slack(tmp_path: Path, slack: SlackReceiver) -> Iterator[RunningStack]:
    settings = {
        "PERFGUARD_SLACK_BOT_TOKEN": slack.token,
        "PERFGUARD_SLACK_CHANNEL": "#alerts",
        "PERFGUARD_SLACK_API_URL": slack.api_url,
        "PERFGUARD_SLACK_SIGNING_SECRET": SIGNING_SECRET,
        # Every change goes out at once: the group timers are tested with a clock in tests/api/test_grouping.py.
        "PERFGUARD_GROUP_WAIT_SECONDS": "0",
        "PERFGUARD_GROUP_INTERVAL_SECONDS": "0",
    }
    running = start_stack(tmp_path, settings)
    yield running
    stop_stack(running)


def posted_alerts(slack: SlackReceiver, endpoint: str) -> list[dict[str, Any]]:
    return [c.payload() for c in slack.of("chat.postMessage") if endpoint in json.dumps(c.payload())]


def wait_for_post(slack: SlackReceiver, endpoint: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        posts = posted_alerts(slack, endpoint)
        if posts:
            return posts[0]
        time.sleep(0.2)
    raise AssertionError(f"no Slack message about {endpoint} in {timeout} s; calls: {[c.path for c in slack.calls]}")


def signed_click(action_id: str, alert_id: str) -> tuple[bytes, dict[str, str]]:
    payload = {
        "type": "block_actions",
        "user": {"id": "U0ONCALL"},
        "actions": [{"action_id": action_id, "value": alert_id}],
    }
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    headers = {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return body, headers


def test_a_slow_endpoint_reaches_slack_with_its_runbook_and_is_acknowledged_there(
    stack_with_slack: RunningStack, slack: SlackReceiver
) -> None:
    endpoint = unique("POST /swaps")
    slack.fail(503, times=2)  # Slack is down for a moment: the alert must still arrive
    backfill_until_now(stack_with_slack, endpoint, 6)

    message = wait_for_post(slack, endpoint, timeout=60)
    text = json.dumps(message)
    assert message["channel"] == "#alerts" and "2,500 ms vs threshold 2,000" in text
    assert "p95_api_latency.md" in text and "Which endpoints, since when" in text  # the runbook and its first step
    buttons = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {b["action_id"] for b in buttons} == {"perfguard_ack", "perfguard_resolve", "perfguard_false_positive"}

    alert_id = buttons[0]["value"]
    body, headers = signed_click("perfguard_ack", alert_id)
    clicked = stack_with_slack.session.post(f"{stack_with_slack.url}/slack_actions", data=body, headers=headers)
    assert clicked.status_code == 200, clicked.text
    alerts = stack_with_slack.call("get_alerts", params={"status": "investigating"}).json()
    assert [(a["id"], a["changed_by"]) for a in alerts["alerts"] if a["id"] == alert_id] == [
        (alert_id, "slack:U0ONCALL")
    ]


def test_a_forged_click_changes_nothing(stack_with_slack: RunningStack) -> None:
    body, headers = signed_click("perfguard_resolve", "alrt_anything")
    headers["X-Slack-Signature"] = "v0=" + "0" * 64
    response = stack_with_slack.session.post(f"{stack_with_slack.url}/slack_actions", data=body, headers=headers)
    assert response.status_code == 401
