"""perfguard.client against a real local HTTP receiver that implements the ingest contract.

The receiver stores what it is sent (idempotent on `id`, like the server) and can be told to answer
errors with Retry-After, to reject some records, to refuse large batches, or to hang.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from perfguard.client import PerfguardClient, Reply, _parse_retry_after

API_KEY = "pgk_test_key"
Answer = tuple[int, dict[str, str], dict[str, Any]]


@dataclass
class Captured:
    """One request as the receiver saw it."""

    at: float
    path: str
    headers: dict[str, str]
    metrics: list[dict[str, Any]]


@dataclass
class Receiver:
    """A capturing stand-in for `record_performance_metric`."""

    url: str = ""
    requests: list[Captured] = field(default_factory=list)
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    script: list[Answer] = field(default_factory=list)  # answered first, one per request
    reject_indexes: set[int] = field(default_factory=set)
    max_records: int = 10_000
    hang: bool = False
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> Answer:
        metrics = json.loads(body)["metrics"]
        with self.lock:
            self.requests.append(Captured(time.monotonic(), path, headers, metrics))
            scripted = self.script.pop(0) if self.script else None
        if self.hang:
            self.release.wait(10)
        if scripted is not None:
            return scripted
        if len(metrics) > self.max_records:
            return 413, {}, _error("payload_too_large", f"{len(metrics)} metrics; the limit is {self.max_records}")
        answer = self._store(metrics)
        return (400 if metrics and not answer["accepted"] else 200), {}, answer  # as the real server does

    def _store(self, metrics: list[dict[str, Any]]) -> dict[str, Any]:
        rejected = [
            {"index": i, "error": "value -1 is negative"} for i in sorted(self.reject_indexes) if i < len(metrics)
        ]
        accepted = [m for i, m in enumerate(metrics) if i not in self.reject_indexes]
        with self.lock:
            for metric in accepted:
                self.stored.setdefault(metric["id"], metric)  # idempotent on id, like the server
        return {"accepted": len(accepted), "rejected": rejected, "warnings": []}

    def all_metrics(self) -> list[dict[str, Any]]:
        with self.lock:
            return [m for request in self.requests for m in request.metrics]


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client expects
    disable_nagle_algorithm = True  # headers and body are separate writes; Nagle would add 40 ms each
    server: _ReceiverServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status, headers, answer = self.server.receiver.answer(self.path, dict(self.headers), body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        for name, value in {**headers, "Content-Type": "application/json"}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output quiet


class _ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = _ReceiverServer(("127.0.0.1", 0), _Handler)
    server.receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.receiver
    server.receiver.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def make_client() -> Iterator[Callable[..., PerfguardClient]]:
    clients: list[PerfguardClient] = []

    def make(url: str, **options: Any) -> PerfguardClient:
        clients.append(PerfguardClient(url, API_KEY, **options))
        return clients[-1]

    yield make
    for client in clients:
        client.close(timeout=5)


def _wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)


def test_records_arrive_batched_with_fields_and_auth(
    receiver: Receiver, make_client: Callable[..., PerfguardClient]
) -> None:
    client = make_client(receiver.url + "/", batch_size=10, flush_interval=30, release="1.4.2", environment="staging")
    before = time.time_ns()
    for i in range(25):
        assert client.record("api_latency", "GET /quote", 10.0 + i, "ms", tags={"route": "quote"}, percentile=95)
    _wait_until(lambda: len(receiver.requests) == 2)  # two full batches go at once, without waiting for a flush
    assert client.flush(5)
    assert [len(r.metrics) for r in receiver.requests] == [10, 10, 5]
    request = receiver.requests[0]
    assert request.path == "/record_performance_metric"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Content-Type"] == "application/json"
    metrics = receiver.all_metrics()
    assert len({m["id"] for m in metrics}) == 25
    assert [m["value"] for m in metrics] == [10.0 + i for i in range(25)]
    first = metrics[0]
    assert before <= first["timestamp"] <= time.time_ns()
    assert {k: v for k, v in first.items() if k not in ("id", "timestamp", "value")} == {
        "metric_type": "api_latency",
        "endpoint_or_operation": "GET /quote",
        "unit": "ms",
        "percentile": 95.0,
        "tags": {"route": "quote"},
        "source": "backend",
        "release": "1.4.2",
        "environment": "staging",
    }
    assert client.stats() == {"sent": 25, "dropped": 0, "rejected": 0, "failed": 0}


def test_flush_interval_sends_a_partial_batch(receiver: Receiver, make_client: Callable[..., PerfguardClient]) -> None:
    client = make_client(receiver.url, flush_interval=0.1)
    started = time.monotonic()
    for _ in range(3):
        client.record("memory_usage", "swap_canister", 1024, "bytes", timestamp_ns=1_795_687_200_000_000_000)
    _wait_until(lambda: len(receiver.requests) == 1, timeout=3)
    assert time.monotonic() - started < 2
    assert [m["timestamp"] for m in receiver.requests[0].metrics] == [1_795_687_200_000_000_000] * 3
    assert receiver.requests[0].metrics[0]["value"] == 1024  # an int stays exact


def test_retry_after_503_sends_the_same_ids_once(
    receiver: Receiver, make_client: Callable[..., PerfguardClient]
) -> None:
    receiver.script.append((503, {"Retry-After": "0"}, _error("unavailable", "warehouse busy")))
    client = make_client(receiver.url)
    for i in range(5):
        client.record("crash_rate", "checkout", i, "count")
    assert client.flush(5)
    first, retry = receiver.requests
    assert [m["id"] for m in first.metrics] == [m["id"] for m in retry.metrics]
    assert len(receiver.stored) == 5
    assert client.stats() == {"sent": 5, "dropped": 0, "rejected": 0, "failed": 0}


def test_retry_after_is_honoured(receiver: Receiver, make_client: Callable[..., PerfguardClient]) -> None:
    receiver.script.append((429, {"Retry-After": "1"}, _error("rate_limited", "slow down")))
    client = make_client(receiver.url)
    client.record("api_latency", "GET /", 1.0, "ms")
    assert client.flush(10)
    gap = receiver.requests[1].at - receiver.requests[0].at
    assert 1.0 <= gap < 3.0
    assert client.stats()["sent"] == 1


def test_a_full_queue_drops_and_counts_without_blocking(
    receiver: Receiver, make_client: Callable[..., PerfguardClient]
) -> None:
    receiver.hang = True
    client = make_client(receiver.url, max_queue=10, flush_interval=0.01, timeout=5)
    client.record("api_latency", "GET /", 1.0, "ms")
    _wait_until(lambda: len(receiver.requests) == 1)  # the worker is now stuck in a POST
    started = time.monotonic()
    queued = [client.record("api_latency", "GET /", 1.0, "ms") for _ in range(50)]
    assert time.monotonic() - started < 0.5
    assert queued == [True] * 10 + [False] * 40
    assert client.stats()["dropped"] == 40
    receiver.release.set()
    assert client.flush(5)
    assert client.stats() == {"sent": 11, "dropped": 40, "rejected": 0, "failed": 0}


def test_a_401_is_logged_once_counted_and_not_retried(
    receiver: Receiver, make_client: Callable[..., PerfguardClient], caplog: pytest.LogCaptureFixture
) -> None:
    receiver.script += [(401, {}, _error("unauthenticated", "unknown API key"))] * 2
    client = make_client(receiver.url)
    for _ in range(2):
        for _ in range(3):
            client.record("api_latency", "GET /", 1.0, "ms")
        assert client.flush(5)
    assert len(receiver.requests) == 2
    assert client.stats() == {"sent": 0, "dropped": 0, "rejected": 6, "failed": 0}
    warned = [r for r in caplog.records if r.levelno == logging.WARNING and "unknown API key" in r.getMessage()]
    assert len(warned) == 1
    assert "HTTP 401" in warned[0].getMessage()


def test_records_rejected_by_the_server_are_counted_and_logged_at_debug(
    receiver: Receiver, make_client: Callable[..., PerfguardClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="perfguard.client")
    receiver.reject_indexes = {1}
    client = make_client(receiver.url)
    for value in (1.0, 2.0, 3.0):
        client.record("api_latency", "GET /", value, "ms")
    assert client.flush(5)
    assert client.stats() == {"sent": 2, "dropped": 0, "rejected": 1, "failed": 0}
    bad_id = receiver.requests[0].metrics[1]["id"]
    assert any(bad_id in r.getMessage() and "value -1 is negative" in r.getMessage() for r in caplog.records)
    receiver.reject_indexes = {0}
    client.record("api_latency", "GET /", 4.0, "ms")  # a batch with every record rejected: HTTP 400, same body
    assert client.flush(5)
    assert client.stats() == {"sent": 2, "dropped": 0, "rejected": 2, "failed": 0}


def test_a_batch_too_large_for_the_server_is_split(
    receiver: Receiver, make_client: Callable[..., PerfguardClient]
) -> None:
    receiver.max_records = 4
    client = make_client(receiver.url, batch_size=10, flush_interval=30)
    for i in range(10):
        client.record("api_latency", "GET /", float(i), "ms")
    assert client.flush(5)
    assert len(receiver.stored) == 10
    assert client.stats()["sent"] == 10


def test_close_sends_pending_records_and_later_records_return_false(
    receiver: Receiver, make_client: Callable[..., PerfguardClient]
) -> None:
    client = make_client(receiver.url, flush_interval=30)
    for _ in range(5):
        client.record("user_journey", "swap_completed", 1200.0, "ms")
    client.close(timeout=5)
    assert len(receiver.stored) == 5
    assert client.record("user_journey", "swap_completed", 1200.0, "ms") is False
    assert client.stats()["dropped"] == 1
    client.close()  # a second close is harmless


def test_close_is_bounded_when_the_server_hangs(
    receiver: Receiver, make_client: Callable[..., PerfguardClient]
) -> None:
    receiver.hang = True
    client = make_client(receiver.url, flush_interval=0.01, timeout=5)
    client.record("api_latency", "GET /", 1.0, "ms")
    _wait_until(lambda: len(receiver.requests) == 1)
    client.record("api_latency", "GET /", 2.0, "ms")
    started = time.monotonic()
    client.close(timeout=0.3)
    assert time.monotonic() - started < 1.0
    receiver.release.set()
    _wait_until(lambda: len(receiver.stored) == 2)  # the worker finishes its work after close() gave up waiting


def test_pending_records_are_sent_at_interpreter_exit(receiver: Receiver) -> None:
    script = (
        "from perfguard.client import PerfguardClient\n"
        f"client = PerfguardClient({receiver.url!r}, 'key', flush_interval=30)\n"
        "for i in range(3):\n"
        "    client.record('api_latency', 'exit', float(i), 'ms')\n"
    )  # no flush(), no close(): the atexit hook sends them
    subprocess.run([sys.executable, "-c", script], check=True, timeout=20)
    assert len(receiver.stored) == 3


def test_the_client_survives_the_server_being_down(make_client: Callable[..., PerfguardClient]) -> None:
    with socket.socket() as probe:  # a port that nothing listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(f"http://127.0.0.1:{port}", max_retries=1, timeout=1)
    started = time.monotonic()
    assert all(client.record("api_latency", "GET /", 1.0, "ms") for _ in range(5))
    assert client.flush(5)
    assert time.monotonic() - started < 3
    assert client.stats() == {"sent": 0, "dropped": 0, "rejected": 0, "failed": 5}
    assert client.record("api_latency", "GET /", 1.0, "ms")  # and it carries on


def test_records_from_many_threads_all_arrive_once(
    receiver: Receiver, make_client: Callable[..., PerfguardClient]
) -> None:
    client = make_client(receiver.url, batch_size=500, flush_interval=0.05)

    def record_many() -> None:
        for i in range(2000):
            client.record("api_latency", "GET /", float(i), "ms")

    threads = [threading.Thread(target=record_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.flush(10)
    assert len(receiver.all_metrics()) == len(receiver.stored) == 8000  # every id unique, none sent twice
    assert client.stats() == {"sent": 8000, "dropped": 0, "rejected": 0, "failed": 0}


class _FlakyTransport:
    """Returns garbage once (a bug in a custom transport), then works."""

    def __init__(self) -> None:
        self.calls = 0

    def post(self, url: str, body: bytes, headers: Any, timeout: float) -> Reply:
        self.calls += 1
        if self.calls == 1:
            return None  # type: ignore[return-value]
        return Reply(200, json.dumps({"accepted": len(json.loads(body)["metrics"]), "rejected": []}).encode())

    def close(self) -> None:
        pass


def test_the_worker_survives_internal_errors(
    make_client: Callable[..., PerfguardClient], caplog: pytest.LogCaptureFixture
) -> None:
    transport = _FlakyTransport()
    client = make_client("http://127.0.0.1:9", transport=transport)
    client.record("api_latency", "GET /", 1.0, "ms")
    assert client.flush(5)
    client.record("api_latency", "GET /", 2.0, "ms")
    assert client.flush(5)
    assert transport.calls == 2
    assert client.stats() == {"sent": 1, "dropped": 0, "rejected": 0, "failed": 1}
    assert any("internal error in the sending thread" in r.getMessage() for r in caplog.records)


def test_invalid_input_is_skipped_never_raised(make_client: Callable[..., PerfguardClient]) -> None:
    client = make_client("http://127.0.0.1:9")
    assert client.record("api_latency", "GET /", float("nan"), "ms") is False
    assert client.record("api_latency", "GET /", 1.0, "seconds") is False
    assert client.record("latency", "GET /", 1.0, "ms") is False
    assert client.record("api_latency", "GET /", 1.0, "ms", percentile=float("inf")) is False
    assert client.record("api_latency", "GET /", 1.0, "ms", tags=[1, 2]) is False  # type: ignore[arg-type]
    assert client.stats()["rejected"] == 5


def test_time_records_latency_with_status(receiver: Receiver, make_client: Callable[..., PerfguardClient]) -> None:
    client = make_client(receiver.url)
    with client.time("GET /quote", route="quote"):
        time.sleep(0.01)
    with pytest.raises(ValueError, match="boom"), client.time("POST /swap"):
        raise ValueError("boom")

    @client.time("quote")
    def quote(pair: str) -> str:
        return pair

    @client.time("fetch")
    async def fetch() -> int:
        await asyncio.sleep(0.01)
        return 7

    assert quote("ICP/USD") == "ICP/USD"
    assert asyncio.run(fetch()) == 7
    assert client.flush(5)
    by_name = {m["endpoint_or_operation"]: m for m in receiver.all_metrics()}
    assert by_name["GET /quote"]["tags"] == {"route": "quote", "status": "ok"}
    assert by_name["GET /quote"]["value"] >= 10
    assert by_name["POST /swap"]["tags"] == {"status": "error"}
    assert by_name["quote"]["tags"] == {"status": "ok"}
    assert by_name["fetch"]["value"] >= 10
    assert {m["metric_type"] for m in by_name.values()} == {"api_latency"}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_sends_with_its_own_worker_and_ids(
    receiver: Receiver, make_client: Callable[..., PerfguardClient]
) -> None:
    client = make_client(receiver.url)
    client.record("api_latency", "parent", 1.0, "ms")
    assert client.flush(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+ warns about forking with threads
        pid = os.fork()
    if pid == 0:  # the child: report through the exit code, and never return into pytest
        ok = client.record("api_latency", "child", 2.0, "ms") and client.flush(5)
        os._exit(0 if ok and client.stats()["sent"] == 1 else 1)
    assert os.waitpid(pid, 0)[1] == 0
    ids = {m["endpoint_or_operation"]: m["id"] for m in receiver.all_metrics()}
    assert ids["parent"].split("-")[0] != ids["child"].split("-")[0]


def test_bad_arguments_fail_at_construction() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        PerfguardClient("http://127.0.0.1:9", API_KEY, batch_size=10_001)
    with pytest.raises(ValueError, match="base_url"):
        PerfguardClient("127.0.0.1:9", API_KEY)


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert _parse_retry_after("2") == 2.0
    assert _parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: retry now
    assert _parse_retry_after("soon") is None
    assert _parse_retry_after(None) is None
