"""Retries of one delivery: exponential backoff with jitter, Retry-After honoured, a bounded total time.

A channel retries what may pass on a second try (429, 5xx, 4xx SMTP replies, connection errors) and gives up
at once on the rest. When the attempts or the time budget run out it reports a failed delivery; the notify
function then raises so the bus redelivers the event later (and dead-letters it at the end): an alert is
never lost, and one slow channel never holds a function instance for long.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one channel tries one delivery; tests pass small delays."""

    attempts: int = 4  # first try included
    first_backoff: float = 1.0  # seconds before the second try; doubles each time
    max_backoff: float = 20.0
    max_retry_after: float = 10.0  # a longer Retry-After fails now: the bus redelivers later
    deadline: float = 60.0  # seconds from the first try after which no new try starts
    timeout: float = 10.0  # seconds for one request

    def backoff(self, failures: int) -> float:
        """The wait after the `failures`-th failure: "equal jitter" around an exponential step.

        >>> 0.5 <= RetryPolicy(first_backoff=1.0).backoff(1) <= 1.0
        True
        """
        step = min(self.max_backoff, self.first_backoff * 2.0 ** (failures - 1))
        return step / 2 + random.uniform(0, step / 2)


@dataclass(frozen=True)
class Attempt:
    """How one try went: ok, worth another try, and the server's Retry-After in seconds if it sent one."""

    ok: bool
    retryable: bool = False
    error: str = ""
    retry_after: float | None = None
    reference: str = ""


def with_retries(
    attempt: Callable[[], Attempt],
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[Attempt, int]:
    """Try until success, a final failure, the last attempt or the deadline; the outcome and the tries made."""
    started = clock()
    tries, outcome = 1, attempt()
    while not outcome.ok and outcome.retryable and tries < policy.attempts:
        wait = _wait(outcome, policy, tries)
        if wait is None or clock() - started + wait > policy.deadline:
            break
        sleep(wait)
        tries, outcome = tries + 1, attempt()
    return outcome, tries


def _wait(outcome: Attempt, policy: RetryPolicy, failures: int) -> float | None:
    """The server's Retry-After when it sent one, else the backoff; None when it asks for longer than we wait."""
    if outcome.retry_after is None:
        return policy.backoff(failures)
    return outcome.retry_after if outcome.retry_after <= policy.max_retry_after else None


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Retry-After in seconds from delay-seconds or an HTTP date (RFC 9110 10.2.3); None if absent or unreadable.

    >>> parse_retry_after("3", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    3.0
    """
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return max(0.0, (moment - now).total_seconds())


def attempts_note(outcome: Attempt, tries: int) -> str:
    """The error with the number of tries, as a Delivery error says it."""
    return f"{outcome.error} (after {tries} attempt{'s' if tries != 1 else ''})"
