"""A capturing HTTP receiver on 127.0.0.1:0: records every request and answers from a script."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.support.http_server import QuietHandler, serving


@dataclass
class Captured:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Requests seen so far, and the statuses to answer next (200 once the script runs out)."""

    url: str
    requests: list[Captured] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float) -> bool:
        """Whether `count` requests arrived within `timeout` seconds."""
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)


@contextmanager
def receiver() -> Iterator[Receiver]:
    """A running receiver, shut down on exit."""
    state = Receiver(url="")

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.arrived:  # record before answering, so the order is the order of delivery
                status = state.script.pop(0) if state.script else 200
                state.requests.append(Captured(self.path, dict(self.headers.items()), body))
                state.arrived.notify_all()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serving(Handler) as url:
        state.url = url
        yield state
