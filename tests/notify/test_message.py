"""Message content: the Slack blocks, the email and the Alertmanager v4 payload carry the facts of the event,
the last windows and the runbook's guidance, and nothing else from the alert's context."""

from __future__ import annotations

import json
from typing import Any

import pytest

from perfguard.notify.message import (
    ACTION_STATUSES,
    NOT_ENDED,
    alertmanager_payload,
    email_content,
    fingerprint,
    slack_message,
    slack_thread_reply,
    title,
)
from perfguard.notify.runbook import Guidance
from tests.notify.conftest import alert_event

LEAKS = ("alice@example.com", "203.0.113.9", "xoxp-secret", "2vxsx-fae")


def blocks_of(kind: str, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [block for block in blocks if block["type"] == kind]


def test_the_title_names_the_statistic_the_threshold_and_the_endpoint() -> None:
    assert title(alert_event()) == "P95 latency above 2 s: POST /swaps"
    assert title(alert_event(endpoint_or_operation=None)) == "P95 latency above 2 s: (all endpoints)"
    assert title(alert_event(threshold_value=850.0)) == "P95 latency above 850 ms: POST /swaps"


def test_the_slack_alert_has_header_fields_windows_optimizations_and_runbook_steps(guidance: Guidance) -> None:
    message = slack_message(alert_event(), guidance)
    [header] = blocks_of("header", message.blocks)
    assert header["text"]["text"] == ":red_circle: P95 latency above 2 s: POST /swaps"
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in message.blocks[1]["fields"]}
    assert fields == {
        "*Severity*": "high",
        "*Endpoint*": "`POST /swaps`",
        "*Current vs threshold*": "2,600 ms vs 2,000 ms",
        "*Since*": "2026-11-25 09:05 UTC",
    }
    sections = "\n".join(b["text"]["text"] for b in blocks_of("section", message.blocks) if "text" in b)
    assert "09:00   2,310 ms    120" in sections and "09:04   2,600 ms  1,204" in sections
    assert "• A deploy started it (the slow slice is one release): roll back first, then bisect." in sections
    link = "https://git.example.com/perfguard/blob/main/runbooks/p95_api_latency.md"
    assert f"*Runbook:* <{link}|p95_api_latency.md>" in sections
    assert "1. Which endpoints, since when\n2. Per-minute shape" in sections
    assert "`baseline.day_ago.p95_change` &gt; 0.5" in sections  # Slack's control characters escaped
    assert message.text.startswith("[HIGH] P95 latency above 2 s: POST /swaps — 2,600 ms vs threshold 2,000 ms")


def test_the_buttons_carry_the_alert_id_and_the_action_ids_of_the_three_statuses(guidance: Guidance) -> None:
    [actions] = blocks_of("actions", slack_message(alert_event(), guidance).blocks)
    buttons = {b["action_id"]: (b["text"]["text"], b["value"]) for b in actions["elements"]}
    assert buttons == {
        "perfguard_ack": ("Acknowledge", "alrt_0123456789abcdef0123"),
        "perfguard_resolve": ("Resolve", "alrt_0123456789abcdef0123"),
        "perfguard_false_positive": ("False positive", "alrt_0123456789abcdef0123"),
    }
    assert ACTION_STATUSES == {
        "perfguard_ack": "investigating",
        "perfguard_resolve": "resolved",
        "perfguard_false_positive": "false_positive",
    }


def test_an_acknowledged_alert_shows_who_took_it_and_drops_the_acknowledge_button(guidance: Guidance) -> None:
    message = slack_message(alert_event("investigating"), guidance)
    [actions] = blocks_of("actions", message.blocks)
    assert [b["action_id"] for b in actions["elements"]] == ["perfguard_resolve", "perfguard_false_positive"]
    status = message.blocks[1]["fields"][-1]["text"]
    assert status == "*Status*\ninvestigating (by U024BE7LH at 2026-11-25 09:22 UTC)"


@pytest.mark.parametrize(
    ("status", "header", "phrase"),
    [
        ("resolved", ":white_check_mark: Resolved: P95", "Resolved at 2026-11-25 09:22 UTC by evaluator after 17 min"),
        ("false_positive", ":heavy_minus_sign: False positive: P95", "Marked a false positive at 2026-11-25 09:22"),
    ],
)
def test_a_closed_alert_is_a_short_note_without_buttons(
    guidance: Guidance, status: str, header: str, phrase: str
) -> None:
    message = slack_message(alert_event(status), guidance)
    assert blocks_of("actions", message.blocks) == [] and len(message.blocks) == 3
    assert message.blocks[0]["text"]["text"].startswith(header)
    assert phrase in message.blocks[1]["text"]["text"] and phrase in slack_thread_reply(alert_event(status))


def test_the_email_has_the_same_facts_in_plain_text(guidance: Guidance) -> None:
    content = email_content(alert_event(), guidance)
    assert content.subject == "[perfguard] FIRING [HIGH] P95 latency above 2 s: POST /swaps"
    body = content.body
    for line in (
        "Endpoint: POST /swaps",
        "Value:    2,600 ms (threshold 2,000 ms)",
        "Since:    2026-11-25 09:05 UTC",
        "Alert id: alrt_0123456789abcdef0123",
        "  09:03   2,498 ms     99",
        "  - A deploy started it (the slow slice is one release): roll back first, then bisect.",
        "Runbook: https://git.example.com/perfguard/blob/main/runbooks/p95_api_latency.md",
        "  1. Which endpoints, since when",
    ):
        assert line in body.splitlines(), line
    assert "```" not in body and "curl" not in body


def test_the_resolved_email_says_so(guidance: Guidance) -> None:
    content = email_content(alert_event("resolved"), guidance)
    assert content.subject == "[perfguard] RESOLVED [HIGH] P95 latency above 2 s: POST /swaps"
    assert "Changed:  2026-11-25 09:22 UTC by evaluator" in content.body and "First steps" not in content.body


def test_the_webhook_payload_is_alertmanager_v4(guidance: Guidance) -> None:
    payload = alertmanager_payload(alert_event(), guidance, receiver="oncall", external_url="https://pg.example.com")
    assert set(payload) == {
        "version",
        "groupKey",
        "truncatedAlerts",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    }
    assert (payload["version"], payload["status"], payload["receiver"]) == ("4", "firing", "oncall")
    assert payload["groupKey"] == '{}:{alertname="p95_api_latency", endpoint="POST /swaps"}'
    [alert] = payload["alerts"]
    assert set(alert) == {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}
    assert alert["labels"] == {
        "alertname": "p95_api_latency",
        "severity": "high",
        "endpoint": "POST /swaps",
        "metric_type": "api_latency",
    }
    assert alert["annotations"]["summary"] == "P95 latency above 2 s: POST /swaps"
    assert alert["annotations"]["runbook_url"].endswith("/runbooks/p95_api_latency.md")
    assert (alert["startsAt"], alert["endsAt"]) == ("2026-11-25T09:05:00Z", NOT_ENDED)
    assert payload["commonLabels"] == alert["labels"] and payload["commonAnnotations"] == alert["annotations"]
    assert alert["fingerprint"] == fingerprint(alert["labels"]) and len(alert["fingerprint"]) == 16


def test_a_resolved_alert_ends_when_it_resolved_and_keeps_its_fingerprint(guidance: Guidance) -> None:
    firing = alertmanager_payload(alert_event(), guidance)["alerts"][0]
    payload = alertmanager_payload(alert_event("resolved"), guidance)
    [alert] = payload["alerts"]
    assert payload["status"] == alert["status"] == "resolved"
    assert alert["endsAt"] == "2026-11-25T09:22:00Z" and alert["fingerprint"] == firing["fingerprint"]


def test_the_fingerprint_is_prometheus_label_set_fingerprint() -> None:
    # The vectors of prometheus/common's TestMetricToFingerprint (model/signature_test.go).
    assert int(fingerprint({}), 16) == 14695981039346656037
    assert int(fingerprint({"name": "garland, briggs", "fear": "love is not enough"}), 16) == 5799056148416392346


def test_no_context_key_beyond_the_windows_reaches_any_channel(guidance: Guidance) -> None:
    event = alert_event()
    leaky = alert_event(
        context={
            **event.context,
            "worst_tags": {"user_email": LEAKS[0], "ip": LEAKS[1]},
            "note": f"token {LEAKS[2]} principal {LEAKS[3]}",
        }
    )
    outputs = [
        json.dumps(slack_message(leaky, guidance).blocks) + slack_message(leaky, guidance).text,
        email_content(leaky, guidance).body + email_content(leaky, guidance).subject,
        json.dumps(alertmanager_payload(leaky, guidance)),
        slack_thread_reply(alert_event("resolved", context=leaky.context)),
    ]
    for output in outputs:
        assert not [leak for leak in LEAKS if leak in output]
    assert slack_message(leaky, guidance) == slack_message(event, guidance)


def test_event_text_cannot_form_slack_links_or_mentions(guidance: Guidance) -> None:
    event = alert_event(endpoint_or_operation="GET /x?<!channel>&<http://evil|y>")
    fields = slack_message(event, guidance).blocks[1]["fields"]
    assert "`GET /x?&lt;!channel&gt;&amp;&lt;http://evil|y&gt;`" in fields[1]["text"]


def test_a_header_longer_than_slack_allows_is_cut() -> None:
    message = slack_message(alert_event(endpoint_or_operation="GET /" + "a" * 300), Guidance("runbooks/x.md"))
    assert len(message.blocks[0]["text"]["text"]) == 150
    assert "`runbooks/x.md`" in json.dumps(message.blocks)  # no base URL: the path, not a link


INVESTIGATED = {
    "worst_slices": {
        "release": [{"value": "1.4.2", "count": 50, "share": 0.2174, "mean": 4000.0, "max": 4000.0, "failures": 5},
                    {"value": "1.4.1", "count": 180, "share": 0.7826, "mean": 300.0, "max": 300.0, "failures": 0}],
    },
    "deploys": [{"release": "1.4.2", "first_seen": "2026-11-25T08:55:00+00:00", "count": 50}],
    "related_alerts": [{"id": "alrt_x", "rule": "canister_cycles_runway", "endpoint_or_operation": "ledger",
                        "severity": "high", "status": "open", "triggered_at": "2026-11-25T08:00:00+00:00"}],
    "recommendations": ["swap_quote is an update call that only reads: make it a query (p95 1.9 s -> ~0.2 s)"],
    "user_email": "alice@example.com",
}  # fmt: skip


def test_the_investigation_and_a_detectors_recommendations_are_shown(guidance: Guidance) -> None:
    event = alert_event(context={**alert_event().context, **INVESTIGATED})
    text = json.dumps(slack_message(event, guidance).blocks, ensure_ascii=False)
    assert "Worst release: 1.4.2 — mean 4,000 ms over 50 records (22 %), 5 failed" in text
    assert "Deploys in the window: 1.4.2 (first seen 2026-11-25 08:55 UTC)" in text
    assert "Related open alerts (1): canister_cycles_runway on ledger (high)" in text
    advice = text.index("Suggested optimizations")
    assert text.index("make it a query", advice) < text.index(guidance.optimizations[0].split()[0], advice)
    body = email_content(event, guidance).body
    assert "  - Worst release: 1.4.2" in body and "  - swap_quote is an update call" in body
    assert "alice@example.com" not in text + body  # other context keys never reach a channel


def test_a_canister_spike_shows_its_methods_new_module_and_advice(guidance: Guidance) -> None:
    spike = {
        "methods": [{"method": "swap", "share": 0.93, "recent_calls_per_day": 9e3}, {"method": "quote", "share": 0.07}],
        "deploys": [{"at": "2026-11-25T08:58:00+00:00", "module_hash": "a1b2c3d4e5f6a7b8c9d0"}],
        "recommendations": [{"rule": "update_only_reads", "severity": "medium",
                             "message": "quote is an update call that reads only: make it a query", "evidence": {}}],
    }  # fmt: skip
    event = alert_event(rule="canister_cycles_spike", context={**alert_event().context, **spike})
    text = json.dumps(slack_message(event, guidance).blocks, ensure_ascii=False)
    assert "Methods behind it: swap (93% of the increase), quote (7% of the increase)" in text
    assert "Deploys in the window: module a1b2c3d4e5f6 (installed by 2026-11-25 08:58 UTC)" in text
    assert "quote is an update call that reads only: make it a query" in text
