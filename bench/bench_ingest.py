"""Ingest throughput of the local stack: batches of 1,000 api_latency records POSTed over keep-alive HTTP.

Run: .venv/bin/python -m bench.bench_ingest [--batches 200] [--seconds 60] [--clients 1,2]

For each client count, a fresh stack (`perfguard serve`) on a temp data dir receives the same kind of
load: bodies are JSON-encoded before the clock starts, so the figures are the server's, not the client's
encoder. The run stops after `--batches` batches or `--seconds`, whichever comes first; at the end the
stored count is read back through get_performance_summary and compared with what was acknowledged.
No assertions: the figures are for reading.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import requests

from bench.common import Stack, as_records, auth_headers, generate, machine, now_ns, quantile, rfc3339, running_stack
from bench.common import temp_dir as make_temp_dir

COMMAND = ".venv/bin/python -m bench.bench_ingest"
TARGET_PER_S = 50_000
WARMUP_BATCHES = 2  # the first requests pay for imports and query translation; not timed (but stored)
WINDOW_NS = 300 * 10**9  # records are from the last five minutes...
BATCH_SPREAD_NS = 30 * 10**9  # ...and each batch holds about 30 s of one sender's records


@dataclass(frozen=True)
class Request:
    """One timed POST."""

    started: float
    finished: float
    records: int
    stored: int
    status: int


@dataclass(frozen=True)
class Load:
    """Pre-encoded bodies and the time range their records cover."""

    bodies: list[bytes]
    batch_size: int
    first_ns: int
    last_ns: int


def build_load(batches: int, batch_size: int, seed: int = 7) -> Load:
    """`batches` JSON bodies of `batch_size` unique records each, with timestamps ending now."""
    rng = np.random.default_rng(seed)
    end = now_ns()
    bodies, first, last = [], end, 0
    for i in range(batches):
        # Batches arrive in time order, each covering the 30 s before its sender flushed it.
        sent = end - WINDOW_NS + (i + 1) * WINDOW_NS // batches
        columns = generate(batch_size, sent - BATCH_SPREAD_NS, sent, rng, f"ing{seed}", i * batch_size)
        bodies.append(json.dumps({"metrics": as_records(columns)}, separators=(",", ":")).encode())
        first, last = min(first, int(columns.timestamp_ns[0])), max(last, int(columns.timestamp_ns[-1]))
    return Load(bodies, batch_size, first, last)


def _send(session: requests.Session, url: str, body: bytes) -> Request:
    started = time.perf_counter()
    response = session.post(url, data=body, headers=_HEADERS, timeout=120)
    finished = time.perf_counter()
    stored = int(response.json().get("stored", 0)) if response.status_code == 200 else 0
    return Request(started, finished, body.count(b'"id":'), stored, response.status_code)


_HEADERS = {**auth_headers(), "Content-Type": "application/json"}


class _Feeder:
    """Hands out body indices to the client threads until the bodies or the time run out."""

    def __init__(self, count: int, start: int, deadline: float) -> None:
        self._next, self._count, self._deadline = start, count, deadline
        self._lock = threading.Lock()

    def take(self) -> int | None:
        with self._lock:
            if self._next >= self._count or time.perf_counter() >= self._deadline:
                return None
            self._next += 1
            return self._next - 1


def _client(url: str, load: Load, feeder: _Feeder, results: list[Request]) -> None:
    with requests.Session() as session:
        while (index := feeder.take()) is not None:
            results.append(_send(session, url, load.bodies[index]))


def drive(stack: Stack, load: Load, clients: int, seconds: float) -> tuple[list[Request], float]:
    """Warm up, then POST from `clients` threads until done; the timed requests and the wall time."""
    url = f"{stack.url}/record_performance_metric"
    warmup: list[Request] = []
    with requests.Session() as session:
        warmup.extend(_send(session, url, body) for body in load.bodies[:WARMUP_BATCHES])
    results: list[Request] = []
    feeder = _Feeder(len(load.bodies), WARMUP_BATCHES, time.perf_counter() + seconds)
    threads = [threading.Thread(target=_client, args=(url, load, feeder, results)) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return warmup + results, time.perf_counter() - started


def stored_count(stack: Stack, load: Load) -> int:
    """Sum of the per-endpoint counts of get_performance_summary over the load's time range."""
    params = {"metric_type": "api_latency", "start": rfc3339(load.first_ns), "end": rfc3339(load.last_ns + 1000)}
    body = stack.get("get_performance_summary", params)
    return sum(int(group["count"]) for group in body["groups"])


def per_second_rates(timed: Sequence[Request]) -> list[int]:
    """Metrics acknowledged in each whole second of the run (the last, partial second left out)."""
    if not timed:
        return []
    origin = min(r.started for r in timed)
    per_second = Counter[int]()
    for r in timed:
        per_second[int(r.finished - origin)] += r.stored
    last = max(per_second)
    return [per_second[s] for s in range(last)] or [per_second[last]]


def report(clients: int, requests_: list[Request], wall: float, stored: int) -> None:
    """Print the figure lines of one client count."""
    timed = requests_[WARMUP_BATCHES:]
    sent = sum(r.records for r in requests_)
    acknowledged = sum(r.stored for r in requests_)
    failed = sum(1 for r in requests_ if r.status != 200)
    latencies = sorted((r.finished - r.started) * 1000 for r in timed)
    overall = sum(r.stored for r in timed) / wall if wall else 0.0
    rates = per_second_rates(timed)
    median_rate = statistics.median(rates) if rates else 0.0
    met = "met" if overall >= TARGET_PER_S else "NOT met"
    print(f"ingest, {clients} client thread(s): {len(timed)} timed batches of {timed[0].records if timed else 0}")
    print(
        f"  RESULT ingest clients={clients}: {overall:,.0f} metrics/s overall, {median_rate:,.0f} metrics/s "
        f"median per second over {wall:.1f} s (target >= {TARGET_PER_S:,}: {met})"
    )
    print(
        f"  per request: p50 {quantile(latencies, 0.5):.1f} ms, p90 {quantile(latencies, 0.9):.1f} ms, "
        f"p99 {quantile(latencies, 0.99):.1f} ms, max {latencies[-1]:.1f} ms"
    )
    verdict = "OK" if stored == sent == acknowledged and not failed else "MISMATCH"
    print(
        f"  verify: sent {sent:,}, acknowledged {acknowledged:,}, counted by get_performance_summary {stored:,}, "
        f"failed requests {failed}: {verdict}"
    )


def run(batches: int, batch_size: int, seconds: float, client_counts: Sequence[int]) -> None:
    """One fresh stack per client count; print the figures of each."""
    print(f"bench_ingest on {machine()}")
    print(f"  encoding {batches} bodies of {batch_size} records before timing ...", flush=True)
    load = build_load(batches + WARMUP_BATCHES, batch_size)
    print(f"  {len(load.bodies)} bodies, {sum(map(len, load.bodies)) / len(load.bodies) / 1024:.0f} KiB each")
    for clients in client_counts:
        with make_temp_dir("perfguard-bench-ingest-") as data, running_stack(data) as stack:
            requests_, wall = drive(stack, load, clients, seconds)
            report(clients, requests_, wall, stored_count(stack, load))
    print(f"reproduce: {COMMAND} --batches {batches} --seconds {seconds:g} --clients {','.join(map(str, client_counts))}")


def main(argv: Sequence[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--batches", type=int, default=200, help="timed batches per client count (default 200)")
    parser.add_argument("--batch-size", type=int, default=1000, help="records per batch (default 1000)")
    parser.add_argument("--seconds", type=float, default=60.0, help="stop after this long (default 60)")
    parser.add_argument("--clients", default="1,2", help="client thread counts to run, e.g. 1,2 (default)")
    args = parser.parse_args(argv)
    run(args.batches, args.batch_size, args.seconds, [int(n) for n in args.clients.split(",")])


if __name__ == "__main__":
    main()
