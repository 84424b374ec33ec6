"""A real SMTP server on 127.0.0.1:0 (aiosmtpd on its own event loop thread) that captures what it receives.

`script` holds replies to give to DATA instead of accepting (e.g. "451 4.3.0 Try again later"); `users`
turns on AUTH (PLAIN/LOGIN, allowed without TLS here) and records each login.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Received:
    """One message as the server got it."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    def message(self) -> EmailMessage:
        """The parsed message."""
        parsed = email.message_from_bytes(self.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def text(self) -> str:
        """The decoded plain-text body."""
        body = self.message().get_body(("plain",))
        assert body is not None
        content: str = body.get_content()
        return content


@dataclass
class SmtpServer:
    """What the server received, and how it will answer."""

    host: str = "127.0.0.1"
    port: int = 0
    users: dict[str, str] = field(default_factory=dict)
    messages: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    script: list[str] = field(default_factory=list)
    data_commands: int = 0
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float) -> bool:
        """Whether `count` messages arrived within `timeout` seconds."""
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.messages) >= count, timeout)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """aiosmtpd's hook: answer from the script, else keep the message."""
        with self.arrived:
            self.data_commands += 1
            if self.script:
                return self.script.pop(0)
            content = envelope.original_content or b""
            self.messages.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), content))
            self.arrived.notify_all()
        return "250 2.0.0 Message accepted"

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        """aiosmtpd's authenticator: the configured users and passwords."""
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = data.login.decode(), data.password.decode()
        ok = self.users.get(user) == password
        if ok:
            self.logins.append(user)
        return AuthResult(success=ok, handled=False)


@contextmanager
def smtp_server(users: dict[str, str] | None = None) -> Iterator[SmtpServer]:
    """A running SMTP server, closed on exit."""
    state = SmtpServer(users=dict(users or {}))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def protocol() -> SMTP:
        authenticator = state.authenticate if state.users else None
        return SMTP(state, hostname="localhost", auth_require_tls=False, authenticator=authenticator, loop=loop)

    server = asyncio.run_coroutine_threadsafe(loop.create_server(protocol, state.host, 0), loop).result(10)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        asyncio.run_coroutine_threadsafe(_shutdown(server), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


async def _shutdown(server: asyncio.Server) -> None:
    """Close the server and end the sessions still open, on the loop's own thread (asyncio is not thread-safe)."""
    server.close()
    await server.wait_closed()
    sessions = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in sessions:
        task.cancel()
    await asyncio.gather(*sessions, return_exceptions=True)
