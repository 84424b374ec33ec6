"""The gcloud Pub/Sub emulator on a free loopback port, for tests; skips with the reason where it cannot run.

Use `running_emulator` from a session fixture; build clients with `subscriber_client` and
`perfguard.bus.pubsub_bus.create_publisher`, both given the host explicitly.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc  # type: ignore[import-untyped]  # no stubs in requirements-dev.txt
import pytest
from google.cloud.pubsub_v1 import SubscriberClient
from google.pubsub_v1.services.subscriber.transports.grpc import SubscriberGrpcTransport

PROJECT = "perfguard-test"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
LOG_TAIL_LINES = 25


@contextlib.contextmanager
def running_emulator(workdir: Path, project: str = PROJECT) -> Iterator[str]:
    """Start the emulator, yield its host:port once it answers, and stop its whole process group afterwards."""
    _require_tools()
    host = f"127.0.0.1:{_free_port()}"
    log_path = workdir / "pubsub-emulator.log"
    process = _spawn(host, project, workdir, log_path)
    try:
        _wait_until_ready(process, host, log_path)
        yield host
    finally:
        _stop(process, host)


def subscriber_client(host: str) -> SubscriberClient:
    """A SubscriberClient talking plaintext gRPC to the emulator at host:port."""
    channel = grpc.insecure_channel(host, options=[("grpc.enable_http_proxy", 0)])
    transport = SubscriberGrpcTransport(host=host, channel=channel)
    return SubscriberClient(transport=transport)


def _require_tools() -> None:
    for tool in ("gcloud", "java"):
        if shutil.which(tool) is None:
            pytest.skip(
                f"the Pub/Sub emulator needs `{tool}` on PATH (Google Cloud CLI with its pubsub-emulator, Java)"
            )


def _free_port() -> int:
    # Another process may take the port before the emulator binds it; that start then fails and skips with the log.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _spawn(host: str, project: str, workdir: Path, log_path: Path) -> subprocess.Popen[bytes]:
    command = ["gcloud", "beta", "emulators", "pubsub", "start", f"--host-port={host}", f"--project={project}"]
    # A private gcloud config keeps the user's settings out and never prompts (a prompt would hang the start).
    env = {**os.environ, "CLOUDSDK_CONFIG": str(workdir / "gcloud-config"), "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"}
    with log_path.open("wb") as log:
        # A new session makes gcloud and its java child one process group, so both can be stopped together.
        return subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


def _wait_until_ready(process: subprocess.Popen[bytes], host: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _skip_with_log(f"the Pub/Sub emulator exited with status {process.returncode}", log_path)
        if _answers(host):
            return
        time.sleep(0.2)
    _skip_with_log(f"the Pub/Sub emulator did not answer on {host} within {START_TIMEOUT_S:g} s", log_path)


def _answers(host: str) -> bool:
    # The emulator answers `GET /` with 200 "Ok" once its server is listening. No proxy: it is on loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://{host}/", timeout=1) as response:
            status: int = response.status
            return status == 200
    except (urllib.error.URLError, OSError):
        return False


def _skip_with_log(reason: str, log_path: Path) -> None:
    tail = log_path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    pytest.skip(f"{reason}; log tail ({log_path}):\n" + "\n".join(tail))


def _stop(process: subprocess.Popen[bytes], host: str) -> None:
    """Stop gcloud and the java server it spawned; the JVM would otherwise outlive gcloud and keep the port."""
    _signal_group(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_TIMEOUT_S)
    if not _port_closed(host, STOP_TIMEOUT_S) or process.poll() is None:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)
        if not _port_closed(host, STOP_TIMEOUT_S):
            raise RuntimeError(f"the Pub/Sub emulator still listens on {host} after SIGKILL")


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def _port_closed(host: str, timeout: float) -> bool:
    address, port = host.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((address, int(port)), timeout=0.5).close()
        except OSError:
            return True
        time.sleep(0.1)
    return False
