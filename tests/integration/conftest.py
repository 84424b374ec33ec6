"""The real local stack in a subprocess (`python -m perfguard serve --port 0`), spoken to over HTTP."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.stack_process import launch

ADMIN_KEY = "test-admin-key-0123456789"
INGEST_KEY = "test-ingest-key-0123456789"
READ_KEY = "test-read-key-0123456789"
KEYS_FILE = f"""
- {{name: ingest-only, key: {INGEST_KEY}, scopes: [ingest]}}
- {{name: read-only, key: {READ_KEY}, scopes: [read]}}
"""


@dataclass
class RunningStack:
    """A local stack process, its URL and everything it has printed so far."""

    process: subprocess.Popen[str]
    url: str
    data_dir: Path
    lines: list[str] = field(default_factory=list)
    session: requests.Session = field(default_factory=requests.Session)

    def call(self, function: str, key: str | None = ADMIN_KEY, **kwargs: Any) -> requests.Response:
        """POST JSON (json=...) or GET with params (params=...) to a function."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        if "json" in kwargs:  # our own encoding: requests refuses NaN/Infinity, which some tests send
            kwargs["data"] = json.dumps(kwargs.pop("json"))
        method = "POST" if "data" in kwargs else "GET"
        return self.session.request(method, f"{self.url}/{function}", headers=headers, timeout=60, **kwargs)

    def output(self) -> str:
        """What the process printed (stdout and stderr together)."""
        return "\n".join(self.lines)

    def wait_for_output(self, text: str, timeout: float) -> bool:
        """Whether `text` appears in the output within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return True
            time.sleep(0.1)
        return False


def start_stack(data_dir: Path, extra_env: dict[str, str] | None = None) -> RunningStack:
    """Start `perfguard serve` on a free port and wait until it says where it listens."""
    keys = data_dir / "keys.yaml"
    keys.write_text(KEYS_FILE, encoding="utf-8")
    env = {"PERFGUARD_API_KEY": ADMIN_KEY, "PERFGUARD_API_KEYS_FILE": str(keys), **(extra_env or {})}
    process, url, lines = launch(data_dir, env)
    return RunningStack(process, url, data_dir, lines)


def stop_stack(stack: RunningStack, sig: int = signal.SIGINT, timeout: float = 30) -> int:
    """Stop the process with `sig` and return its exit code."""
    if stack.process.poll() is None:
        stack.process.send_signal(sig)
        try:
            stack.process.wait(timeout)
        except subprocess.TimeoutExpired:
            stack.process.kill()
            stack.process.wait(10)
    stack.session.close()
    if stack.process.stdout is not None:
        stack.process.stdout.close()
    return stack.process.returncode


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """One local stack shared by the tests of a session (each test uses its own endpoints and hours)."""
    running = start_stack(tmp_path_factory.mktemp("stack"))
    yield running
    stop_stack(running)
