"""The email channel: one plain-text message per alert event over SMTP (STARTTLS and login when configured).

A later event of the same alert replies to the first message (In-Reply-To), so mail clients thread them.
"""

from __future__ import annotations

import email.utils
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from perfguard.notify.message import email_content, escalation_note
from perfguard.notify.port import AlertEvent, Delivery
from perfguard.notify.retry import Attempt, RetryPolicy, attempts_note, with_retries
from perfguard.notify.runbook import GuidanceSource

IMPLICIT_TLS_PORT = 465  # SMTPS: TLS from the first byte, no STARTTLS (as Alertmanager's email does)


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send alert email."""

    host: str
    port: int = 587
    starttls: bool = True
    username: str = ""
    password: str = ""
    sender: str = "perfguard@localhost"
    recipients: tuple[str, ...] = ()
    escalation_recipients: tuple[str, ...] = ()  # added to `recipients` for an escalation (escalation_email_to)
    local_hostname: str | None = None  # the EHLO name; None asks the system for its FQDN


class EmailNotifier:
    """Sends each event as one email to every recipient; retries 4xx replies and connection errors."""

    name = "email"

    def __init__(
        self,
        config: SmtpConfig,
        guidance: GuidanceSource,
        policy: RetryPolicy | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._config = config
        self._guidance = guidance
        self._policy = policy or RetryPolicy()
        self._tls = tls_context or ssl.create_default_context()

    def send(self, event: AlertEvent, previous: Delivery | None) -> Delivery:
        """Send the event's email; its Message-ID is the delivery's reference."""
        message = self.compose(event, previous)
        recipients = self.recipients(event)
        outcome, tries = with_retries(lambda: self._deliver(message, recipients), self._policy)
        if outcome.ok:
            return Delivery(self.name, True, reference=str(message["Message-ID"]), error=outcome.error)
        return Delivery(self.name, False, error=attempts_note(outcome, tries))

    def compose(self, event: AlertEvent, previous: Delivery | None) -> EmailMessage:
        """The message for the event, threaded under the previous one when there is one."""
        content = email_content(event, self._guidance(event))
        message = EmailMessage()
        message["Subject"] = content.subject
        message["From"] = self._config.sender
        message["To"] = ", ".join(self.recipients(event))
        message["Date"] = email.utils.formatdate(usegmt=True)
        message["Message-ID"] = email.utils.make_msgid("perfguard", domain=_domain(self._config.sender))
        message["X-Perfguard-Alert-Id"] = event.id
        if previous and previous.reference.startswith("<"):
            message["In-Reply-To"] = previous.reference
            message["References"] = previous.reference
        message.set_content(content.body)
        return message

    def recipients(self, event: AlertEvent) -> list[str]:
        """smtp_to, plus escalation_email_to when the event is an escalation (each address once)."""
        extra = self._config.escalation_recipients if escalation_note(event) else ()
        return list(dict.fromkeys((*self._config.recipients, *extra)))

    def _deliver(self, message: EmailMessage, recipients: list[str]) -> Attempt:
        try:
            refused = self._transmit(message, recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            return Attempt(False, all(_temporary(c) for c in codes), f"every recipient refused: {_codes(exc)}")
        except smtplib.SMTPResponseException as exc:
            return Attempt(False, _temporary(exc.smtp_code), f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}")
        except smtplib.SMTPServerDisconnected as exc:
            return Attempt(False, True, f"connection lost: {exc}")
        except (smtplib.SMTPException, ssl.SSLError) as exc:  # e.g. no STARTTLS or AUTH offered, a bad certificate
            return Attempt(False, False, f"{type(exc).__name__}: {exc}")
        except OSError as exc:  # connection refused, reset or timed out
            return Attempt(False, True, f"connection failed: {type(exc).__name__}: {exc}")
        # Some recipients got it: a retry would send them a duplicate, so it is a success that says who not.
        return Attempt(True, error=f"refused: {', '.join(sorted(refused))}" if refused else "")

    def _transmit(self, message: EmailMessage, recipients: list[str]) -> dict[str, tuple[int, bytes]]:
        config, timeout = self._config, self._policy.timeout
        if config.port == IMPLICIT_TLS_PORT:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                config.host, config.port, config.local_hostname, timeout=timeout, context=self._tls
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, config.local_hostname, timeout=timeout)
        with smtp:
            if config.starttls and config.port != IMPLICIT_TLS_PORT:
                smtp.starttls(context=self._tls)
            if config.username:
                smtp.login(config.username, config.password)
            return smtp.send_message(message, config.sender, recipients)


def _temporary(code: int) -> bool:
    """SMTP's transient negative replies (RFC 5321 4.2.1) are worth another try; 5xx are not."""
    return 400 <= code < 500


def _codes(exc: smtplib.SMTPRecipientsRefused) -> str:
    return ", ".join(f"{address} ({code})" for address, (code, _) in sorted(exc.recipients.items()))


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "perfguard.local"
