"""The local stack's notification channel when no Slack, email or webhook is configured: a log line and a
JSON line per alert state change in `notifications.jsonl` of the data directory (DESIGN.md: "Slack via
slack-sdk when a URL/token is set, else a local sink")."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from pathlib import Path

from perfguard.notify.port import AlertEvent, Delivery
from perfguard.notify.runbook import runbook_path

log = logging.getLogger(__name__)


class LocalSinkNotifier:
    """Appends each event to a JSON-lines file and logs it."""

    name = "local"

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()

    def send(self, event: AlertEvent, previous: Delivery | None) -> Delivery:
        """Write the event; a file that cannot be written is a failed delivery, not an exception."""
        record = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dataclasses.asdict(event).items()}
        try:
            with self._lock, self._path.open("a", encoding="utf-8") as file:
                file.write(json.dumps(record) + "\n")
        except OSError as exc:
            return Delivery(self.name, False, error=f"cannot write {self._path}: {exc.strerror}")
        value = "n/a" if event.current_value is None else f"{event.current_value:.0f}"
        log.warning(
            "NOTIFY %s %s: %s on %s, value %s vs threshold %.0f (runbook: %s)",
            event.severity.upper(),
            event.status,
            event.rule,
            event.subject(),
            value,
            event.threshold_value,
            runbook_path(event.rule, event.context),
        )
        return Delivery(self.name, True, reference=str(self._path))
