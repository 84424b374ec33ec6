"""The investigation an alert message shows: the worst slices, deploys and related alerts its context holds (and
a crash cluster's top frames and breakdown, a canister spike's methods), and a detector's recommendations
ahead of the runbook's optimizations. Only these named keys are read, each
value cut short (see perfguard.notify.message)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from perfguard.notify.formatting import amount, unit_of, when
from perfguard.notify.port import AlertEvent
from perfguard.notify.runbook import Guidance

MAX_LINE = 160  # an investigation line points at the evidence; the alert's context holds the rest
MAX_SUGGESTIONS = 5
# A crash cluster's breakdown (perfguard.firebase.clusters): its keys and how a message names them.
BREAKDOWN = (("device_model", "devices"), ("os_version", "OS"), ("memory", "memory"), ("process_state", "state"))


def investigation(event: AlertEvent) -> list[str]:
    """The investigation context as lines: worst slices, deploys in the window, related open alerts."""
    context = event.context
    lines = [_slice_line(name, rows, unit_of(event)) for name, rows in _mapping(context.get("worst_slices")).items()]
    size = context.get("group_size")
    if isinstance(size, int) and size > 1:
        place = "the others in this message's thread" if context.get("group_thread") is None else "all in this thread"
        lines.insert(0, f"{size} alerts of {event.rule} opened together ({place} on Slack)")
    frames = [str(frame) for frame in _list(context.get("top_frames"))][:3]
    if frames:
        lines.append("Stack (first in-app frames): " + " <- ".join(frames))
    where = [_top_share(label, _mapping(_mapping(context.get("breakdown")).get(key))) for key, label in BREAKDOWN]
    if any(where):
        lines.append("Where: " + "; ".join(share for share in where if share))
    methods = [m for m in _list(context.get("methods")) if isinstance(m, Mapping) and m.get("method")]
    if methods:
        lines.append("Methods behind it: " + ", ".join(_method(m) for m in methods[:3]))
    deploys = [d for d in _list(context.get("deploys")) if isinstance(d, Mapping)]
    if deploys:
        lines.append("Deploys in the window: " + ", ".join(_deploy(d) for d in deploys))
    related = [a for a in _list(context.get("related_alerts")) if isinstance(a, Mapping)]
    if related:
        shown = ", ".join(f"{a.get('rule')} on {a.get('endpoint_or_operation') or 'all'} ({a.get('severity')})"
                          for a in related[:3])  # fmt: skip
        lines.append(f"Related open alerts ({len(related)}): {shown}")
    return [_cut(line) for line in lines if line]


def suggestions(event: AlertEvent, guidance: Guidance) -> list[str]:
    """A detector's own recommendations (with their numbers) first, then the runbook's optimizations."""
    own = [_advice(item) for item in _list(event.context.get("recommendations"))]
    own = [item for item in own if item.strip()]
    merged = list(dict.fromkeys([*own, *guidance.optimizations]))
    return [_cut(item) for item in merged[:MAX_SUGGESTIONS]]


def _slice_line(attribute: str, rows: object, unit: str) -> str:
    worst = next((row for row in _list(rows) if isinstance(row, Mapping)), None)
    if worst is None:
        return ""
    share = float(worst.get("share") or 0) * 100
    failures = int(worst.get("failures") or 0)
    tail = f", {failures} failed" if failures else ""
    return (f"Worst {attribute}: {worst.get('value')} — mean {amount(_number(worst.get('mean')), unit)} over "
            f"{worst.get('count')} records ({share:.0f} %){tail}")  # fmt: skip


def _deploy(deploy: Mapping[str, Any]) -> str:
    """A release first seen (incident context) or a canister's new module hash (the canister poller)."""
    try:
        first = when(dt.datetime.fromisoformat(str(deploy.get("first_seen") or deploy.get("at"))))
    except ValueError:
        first = "?"
    if deploy.get("release"):
        return f"{deploy.get('release')} (first seen {first})"
    return f"module {str(deploy.get('module_hash') or '?')[:12]} (installed by {first})"


def _top_share(label: str, counts: Mapping[str, Any]) -> str:
    """`devices Pixel 7 60%, SM-A515F 25%`: the two largest values of one breakdown."""
    numbers = {str(k): v for k, v in counts.items() if isinstance(v, int | float) and v > 0}
    total = sum(numbers.values())
    if not total:
        return ""
    top = sorted(numbers.items(), key=lambda item: -item[1])[:2]
    return f"{label} " + ", ".join(f"{value} {count / total:.0%}" for value, count in top)


def _method(method: Mapping[str, Any]) -> str:
    share = method.get("share")
    if isinstance(share, int | float):
        return f"{method.get('method')} ({share:.0%} of the increase)"
    return str(method.get("method"))


def _advice(item: object) -> str:
    """A recommendation: text, or a detector's {message, ...} (its numbers are in the message)."""
    if isinstance(item, Mapping):
        return str(item.get("message") or "")
    return str(item)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _cut(text: str) -> str:
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 1] + "…"
