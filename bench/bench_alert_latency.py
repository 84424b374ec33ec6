"""From the ingest of the record that completes the 5th breaching minute to the Slack message reaching a
local Slack: the seed's alert path (ingest -> bus -> evaluate_thresholds -> bus -> notify_alert -> slack-sdk).

Each trial uses its own endpoint: 4 complete minutes at P95 2.5 s, a 5th minute with 9 records (one short
of the 10-sample minimum), then the 10th record of that minute is sent and the clock starts. Prints the
median and the worst of the trials. Reproduce: `.venv/bin/python -m bench.bench_alert_latency [--trials N]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.integration.conftest import RunningStack, start_stack, stop_stack
from tests.support.slack_receiver import SlackReceiver, slack_receiver

MINUTE = dt.timedelta(minutes=1)
TARGET_S = 5.0


def _record(endpoint: str, at: dt.datetime) -> dict[str, Any]:
    stamp = int(at.timestamp()) * 1_000_000_000 + at.microsecond * 1000
    return {
        "id": uuid.uuid4().hex,
        "metric_type": "api_latency",
        "endpoint_or_operation": endpoint,
        "value": 2500.0,
        "unit": "ms",
        "timestamp": stamp,
    }


def _trial(stack: RunningStack, slack: SlackReceiver, n: int) -> float:
    endpoint = f"POST /swaps [bench {n}]"
    now = dt.datetime.now(dt.UTC)
    if now.second > 45:  # the 5th minute must still be the last complete one when the last record arrives
        time.sleep(61 - now.second)
    first = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - 5 * MINUTE
    minutes = [[first + m * MINUTE + dt.timedelta(seconds=i * 4) for i in range(12 if m < 4 else 9)] for m in range(5)]
    records = [_record(endpoint, at) for minute in minutes for at in minute]
    assert stack.call("record_performance_metric", json={"metrics": records}).json()["stored"] == len(records)
    time.sleep(1.0)  # let the evaluation that batch triggers finish: it must not fire yet
    last = _record(endpoint, first + 4 * MINUTE + dt.timedelta(seconds=50))
    started = time.perf_counter()
    stack.call("record_performance_metric", json={"metrics": [last]})
    while time.perf_counter() - started < 60:
        if any(endpoint in json.dumps(call.payload()) for call in slack.of("chat.postMessage")):
            return time.perf_counter() - started
        time.sleep(0.01)
    raise RuntimeError(f"no Slack message for {endpoint} within 60 s")


def run(trials: int) -> list[float]:
    """Start a stack wired to a local Slack and time `trials` alerts."""
    with slack_receiver() as slack, tempfile.TemporaryDirectory(prefix="perfguard-bench-alert-") as data:
        env = {
            "PERFGUARD_SLACK_BOT_TOKEN": slack.token,
            "PERFGUARD_SLACK_CHANNEL": "#alerts",
            "PERFGUARD_SLACK_API_URL": slack.api_url,
            # The path itself, without Alertmanager's timers: group_wait (30 s by default, ended by the next
            # tick) and group_interval (5 min; every trial's alert is of the same rule, so of one group).
            "PERFGUARD_GROUP_WAIT_SECONDS": "0",
            "PERFGUARD_GROUP_INTERVAL_SECONDS": "0",
        }
        stack = start_stack(Path(data), env)
        try:
            return [_trial(stack, slack, n) for n in range(trials)]
        finally:
            stop_stack(stack)


def main(argv: list[str] | None = None) -> None:
    """Run the trials and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args(argv)
    seconds = run(args.trials)
    median, worst = statistics.median(seconds), max(seconds)
    print(
        f"ingest of the 5th breaching minute's last record -> Slack message: median {median:.2f} s, "
        f"worst {worst:.2f} s over {len(seconds)} trials (target <= {TARGET_S:.0f} s)"
    )
    print("reproduce: .venv/bin/python -m bench.bench_alert_latency --trials", args.trials)


if __name__ == "__main__":
    main()
