"""The bus port: publish a JSON message to a topic."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Bus(Protocol):
    """Topics that deliver each message to the functions subscribed to them."""

    def publish(self, topic: str, data: Mapping[str, Any], attributes: Mapping[str, str] | None = None) -> str:
        """Publish a JSON-serialisable message; returns its message id. Raises BusError when it cannot."""

    def close(self) -> None:
        """Deliver or persist what is pending, then stop."""
