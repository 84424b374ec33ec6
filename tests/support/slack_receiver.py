"""A local Slack on 127.0.0.1:0: the Web API's chat.postMessage and chat.update, and incoming webhooks.

It keeps the messages it was sent (so a test sees an update land on the message it edits), records every
request with its arrival time, and answers from a script first: `fail(429, times=1, retry_after="1")`.
Any POST outside /api/ is an incoming webhook (answered `ok`), so it also serves as a generic webhook receiver
that can send Retry-After.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.support.http_server import QuietHandler, serving

HOOK_PATH = "/hooks/T000/B000/XXXX"
CHANNEL_IDS = {"#alerts": "C0ALERTS"}  # Slack answers with the channel id even when posted to by name


@dataclass
class Call:
    """One request: path, headers, body and when it arrived (time.monotonic)."""

    path: str
    headers: dict[str, str]
    body: bytes
    arrived: float

    @property
    def method(self) -> str:
        """The Web API method (`chat.postMessage`), or `webhook`."""
        return self.path.removeprefix("/api/") if self.path.startswith("/api/") else "webhook"

    def payload(self) -> dict[str, Any]:
        """The body as a dict, whether slack-sdk sent JSON or a form."""
        if self.headers.get("Content-Type", "").startswith("application/json"):
            loaded: dict[str, Any] = json.loads(self.body)
            return loaded
        return dict(urllib.parse.parse_qsl(self.body.decode()))


@dataclass(frozen=True)
class Scripted:
    """An answer to give instead of the normal one."""

    status: int
    retry_after: str | None = None


@dataclass
class SlackReceiver:
    """What the local Slack saw and holds; `script` answers first, then the normal behaviour."""

    url: str
    token: str = "xoxb-test-token"
    calls: list[Call] = field(default_factory=list)
    script: list[Scripted] = field(default_factory=list)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def api_url(self) -> str:
        """The base URL to give slack-sdk's WebClient."""
        return f"{self.url}/api/"

    @property
    def webhook_url(self) -> str:
        """An incoming webhook URL."""
        return f"{self.url}{HOOK_PATH}"

    def fail(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next `times` requests with `status` (and Retry-After)."""
        with self.arrived:
            self.script += [Scripted(status, retry_after)] * times

    def wait_for(self, count: int, timeout: float) -> bool:
        """Whether `count` requests arrived within `timeout` seconds."""
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.calls) >= count, timeout)

    def of(self, method: str) -> list[Call]:
        """The calls of one method (`chat.update`, `webhook`...)."""
        return [call for call in self.calls if call.method == method]

    def answer(self, call: Call) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for a call (under the lock)."""
        if self.script:
            return _scripted(self.script.pop(0), call)
        if call.method == "webhook":
            return 200, {"Content-Type": "text/html"}, b"ok"
        if call.headers.get("Authorization") != f"Bearer {self.token}":
            return _api({"ok": False, "error": "invalid_auth"})
        return _api(self._api(call.method, call.payload()))

    def _api(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "chat.postMessage":
            return self._post(args)
        if method == "chat.update":
            return self._update(args)
        return {"ok": False, "error": "unknown_method"}

    def _post(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = CHANNEL_IDS.get(str(args.get("channel")), str(args.get("channel")))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not (args.get("text") or args.get("blocks")):
            return {"ok": False, "error": "no_text"}
        ts = f"{int(time.time())}.{len(self.calls):06d}"
        self.messages[(channel, ts)] = dict(args)
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": args.get("text"), "ts": ts}}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        key = (str(args.get("channel")), str(args.get("ts")))
        if key not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        self.messages[key] = {**self.messages[key], **args}
        return {"ok": True, "channel": key[0], "ts": key[1], "text": args.get("text")}


def _scripted(scripted: Scripted, call: Call) -> tuple[int, dict[str, str], bytes]:
    headers = {"Retry-After": scripted.retry_after} if scripted.retry_after is not None else {}
    if call.method == "webhook" or scripted.status >= 500:
        return scripted.status, {**headers, "Content-Type": "text/plain"}, b"scripted failure"
    error = "ratelimited" if scripted.status == 429 else "scripted"
    return (
        scripted.status,
        {**headers, "Content-Type": "application/json"},
        json.dumps({"ok": False, "error": error}).encode(),
    )


def _api(answer: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(answer).encode()


@contextmanager
def slack_receiver() -> Iterator[SlackReceiver]:
    """A running local Slack, shut down on exit."""
    state = SlackReceiver(url="")

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            call = Call(self.path, dict(self.headers.items()), body, time.monotonic())
            with state.arrived:  # recorded and answered in arrival order
                state.calls.append(call)
                status, headers, content = state.answer(call)
                state.arrived.notify_all()
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(content))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(content)

    with serving(Handler) as url:
        state.url = url
        yield state
