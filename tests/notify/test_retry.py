"""The retry loop on a fake clock: attempts, backoff growth, Retry-After, the deadline; and Retry-After parsing."""

from __future__ import annotations

import datetime as dt
import email.utils

from perfguard.notify.retry import Attempt, RetryPolicy, parse_retry_after, with_retries

NOW = dt.datetime(2026, 11, 25, 9, 5, tzinfo=dt.UTC)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def run(outcomes: list[Attempt], policy: RetryPolicy) -> tuple[Attempt, int, list[float]]:
    fake, queue = FakeTime(), list(outcomes)
    outcome, tries = with_retries(lambda: queue.pop(0), policy, fake.sleep, fake.clock)
    return outcome, tries, fake.sleeps


def test_backoff_doubles_within_equal_jitter_up_to_the_cap() -> None:
    policy = RetryPolicy(attempts=6, first_backoff=1.0, max_backoff=4.0, deadline=1000)
    _, tries, sleeps = run([Attempt(False, True, "HTTP 503")] * 6, policy)
    assert tries == 6 and len(sleeps) == 5
    for wait, step in zip(sleeps, [1, 2, 4, 4, 4], strict=True):
        assert step / 2 <= wait <= step


def test_success_and_final_failures_stop_at_once() -> None:
    policy = RetryPolicy(attempts=5)
    assert run([Attempt(False, True), Attempt(True)], policy)[:2] == (Attempt(True), 2)
    assert run([Attempt(False, False, "HTTP 400")], policy)[:2] == (Attempt(False, False, "HTTP 400"), 1)


def test_retry_after_replaces_the_backoff_and_one_too_long_ends_the_retries() -> None:
    policy = RetryPolicy(attempts=5, max_retry_after=30, deadline=1000)
    outcomes = [Attempt(False, True, retry_after=7.0), Attempt(False, True, retry_after=31.0)]
    outcome, tries, sleeps = run(outcomes, policy)
    assert (tries, sleeps, outcome.retry_after) == (2, [7.0], 31.0)


def test_no_try_starts_after_the_deadline() -> None:
    policy = RetryPolicy(attempts=10, first_backoff=4.0, max_backoff=4.0, deadline=10)
    _, tries, sleeps = run([Attempt(False, True)] * 10, policy)
    assert sum(sleeps) <= 10 and tries == len(sleeps) + 1 and tries < 10


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    later = email.utils.format_datetime(NOW + dt.timedelta(seconds=90), usegmt=True)
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after(later, NOW) == 90.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", NOW) == 0.0  # in the past: retry now
    assert parse_retry_after("soon", NOW) is None and parse_retry_after(None, NOW) is None
    assert parse_retry_after("-5", NOW) is None
