"""A bus that keeps what is published, for tests of the handlers (like httpx's MockTransport)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class MemoryBus:
    """Records every published message; delivers nothing."""

    messages: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def publish(self, topic: str, data: Mapping[str, Any], attributes: Mapping[str, str] | None = None) -> str:
        """Keep the message; return a sequential id."""
        self.messages.append((topic, dict(data), dict(attributes or {})))
        return str(next(self._ids))

    def on(self, topic: str) -> list[dict[str, Any]]:
        """The data of the messages published to a topic."""
        return [data for name, data, _ in self.messages if name == topic]

    def close(self) -> None:
        """Nothing to release."""
