"""CloudEvent handling shared by the Pub/Sub-triggered functions."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from perfguard.bus.cloudevent import Message, decode
from perfguard.errors import InvalidRequest

log = logging.getLogger(__name__)


def handle_event(data: Mapping[str, Any] | None, handler: Callable[[Message], object]) -> None:
    """Decode the message and run `handler`; a malformed message is logged and acknowledged, never retried.

    Any other error propagates, so the function answers 500 and Pub/Sub (or the local bus) retries.
    """
    try:
        message = decode(data)
    except InvalidRequest as exc:
        log.error("dropping a malformed message: %s", exc)
        return
    handler(message)
