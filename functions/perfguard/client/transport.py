"""How a batch reaches the server: the `Transport` protocol, its `Reply`, and the default urllib3 transport."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import urllib3


@dataclass(frozen=True)
class Reply:
    """What a transport got back: the HTTP status, the body, and the Retry-After header if any."""

    status: int
    body: bytes
    retry_after: str | None = None


class Transport(Protocol):
    """Posts one body; raises on connection errors (the client retries those)."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Reply:
        """Send `body` and return the server's reply, whatever its status."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class Urllib3Transport:
    """The default transport: one urllib3 PoolManager, so consecutive batches reuse a keep-alive connection."""

    def __init__(self) -> None:
        # retries=False: the client retries itself, with the same ids and honouring Retry-After.
        self._pool = urllib3.PoolManager(num_pools=2, maxsize=1, retries=False)

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Reply:
        """POST without retries or redirects."""
        response = self._pool.request(
            "POST", url, body=body, headers=dict(headers), timeout=timeout, retries=False, redirect=False
        )
        return Reply(response.status, response.data, response.headers.get("Retry-After"))

    def close(self) -> None:
        """Close the pooled connections."""
        self._pool.clear()
