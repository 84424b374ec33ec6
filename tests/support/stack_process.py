"""Start `python -m perfguard serve --port 0` as a subprocess and learn its URL (tests and benchmarks)."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

SERVING = "perfguard is serving on "


def launch(data_dir: Path, env: Mapping[str, str], timeout: float = 60) -> tuple[subprocess.Popen[str], str, list[str]]:
    """The process, its base URL and the (growing) list of lines it prints; PERFGUARD_* come only from `env`."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PERFGUARD_")} | dict(env)
    command = [sys.executable, "-m", "perfguard", "serve", "--port", "0", "--data-dir", str(data_dir)]
    process = subprocess.Popen(command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    found: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_pump, args=(process, lines, found), daemon=True).start()
    try:
        return process, found.get(timeout=timeout), lines
    except queue.Empty:
        process.kill()
        process.wait(10)
        raise RuntimeError(f"the local stack did not start in {timeout:g} s:\n" + "\n".join(lines[-30:])) from None


def _pump(process: subprocess.Popen[str], lines: list[str], found: queue.Queue[str]) -> None:
    # Keep reading so the server never blocks on a full pipe; remember lines for assertions and error reports.
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith(SERVING):
            found.put(line.split()[4])
