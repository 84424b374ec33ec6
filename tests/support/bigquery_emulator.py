"""The local-bigquery emulator in its own Python 3.13 process, for tests; skips with the reason where it cannot run.

local-bigquery 0.3.2 needs Python 3.13 and this project runs on 3.11, so the emulator gets its own venv
(`.venv-bqemu`, or `PERFGUARD_BQEMU_VENV`) with the pins of `bigquery-emulator-requirements.txt`, and runs
through `lbq_offline.py`. Tests use the session fixture `bigquery_emulator`, which yields (endpoint, project).

`python -m tests.support.bigquery_emulator install` builds the venv ahead of pytest (install-bigquery-emulator.sh).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "bigquery-emulator-requirements.txt"
LAUNCHER = HERE / "lbq_offline.py"
DEFAULT_VENV = HERE.parent.parent / ".venv-bqemu"
PINS_STAMP = "perfguard-pins.txt"  # a copy of the requirements the venv was built from
PROJECT = "perfguard-test"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
INSTALL_TIMEOUT_S = 900.0
LOG_TAIL_LINES = 15


class EmulatorUnavailable(Exception):
    """The emulator cannot run on this machine; the message is the reason to skip with."""


class NoPython313(EmulatorUnavailable):
    """No Python 3.13 interpreter was found (an expected state of a machine, not a failure)."""


def venv_dir() -> Path:
    """Where the emulator's venv lives (`PERFGUARD_BQEMU_VENV` or `.venv-bqemu` in the checkout)."""
    return Path(os.environ.get("PERFGUARD_BQEMU_VENV") or DEFAULT_VENV)


def find_python313() -> str | None:
    """A Python 3.13 interpreter that really runs (a pyenv shim for an inactive version does not)."""
    for candidate in _python_candidates():
        if _is_python313(candidate):
            return candidate
    return None


def ensure_venv(venv: Path, progress: bool = True) -> Path:
    """The emulator venv's python, creating or refreshing the venv when its pins differ from the requirements."""
    python = venv / "bin" / "python"
    pins = REQUIREMENTS.read_text(encoding="utf-8")
    stamp = venv / PINS_STAMP
    if python.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == pins:
        return python
    interpreter = find_python313()
    if interpreter is None:
        raise NoPython313("no Python 3.13 on this machine")
    started = time.monotonic()
    _say(progress, f"creating {venv} with {interpreter} (once; about 30 s to a few minutes)")
    _run([interpreter, "-m", "venv", "--clear", str(venv)], "python3.13 could not create a venv")
    _say(progress, "installing local-bigquery and its pins with pip")
    pip = [str(python), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)]
    _run(pip, "pip could not install local-bigquery")
    stamp.write_text(pins, encoding="utf-8")
    _say(progress, f"emulator venv ready in {time.monotonic() - started:.0f} s")
    return python


@contextlib.contextmanager
def running_emulator(python: Path, workdir: Path, project: str = PROJECT) -> Iterator[str]:
    """Start the emulator on free loopback ports, yield its endpoint once it answers, then stop its process group."""
    endpoint = f"http://127.0.0.1:{_free_port()}"
    log_path = workdir / "bigquery-emulator.log"
    process = _spawn(python, endpoint, project, workdir, log_path)
    try:
        _wait_until_ready(process, endpoint, project, log_path)
        yield endpoint
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def bigquery_emulator(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(endpoint, project) of an emulator shared by the session; skips with the reason where it cannot run."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    # Show the venv progress even under output capture: a first install takes a while.
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        try:
            python = ensure_venv(venv_dir())
        except EmulatorUnavailable as exc:
            pytest.skip(str(exc))
    with running_emulator(python, tmp_path_factory.mktemp("bigquery-emulator")) as endpoint:
        yield endpoint, PROJECT


def _python_candidates() -> list[str]:
    found = [os.environ.get("PERFGUARD_PYTHON313", ""), shutil.which("python3.13") or ""]
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found += sorted(glob.glob(str(pyenv / "versions" / "3.13.*" / "bin" / "python3.13")), reverse=True)
    found.append(shutil.which("python3") or "")
    return [candidate for candidate in dict.fromkeys(found) if candidate]


def _is_python313(candidate: str) -> bool:
    check = "import sys; sys.exit(sys.version_info[:2] != (3, 13))"
    try:
        return subprocess.run([candidate, "-c", check], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _run(command: list[str], failure: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EmulatorUnavailable(f"{failure}: {exc}") from exc
    if done.returncode != 0:
        raise EmulatorUnavailable(f"{failure}: {_first_error(done.stderr or done.stdout)}")


def _first_error(output: str) -> str:
    # pip prints warnings (e.g. about unused index locations) before the line that says what went wrong.
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or ["(no output)"])[0]


def _say(enabled: bool, message: str) -> None:
    if enabled:
        print(f"[bigquery emulator] {message}", file=sys.stderr, flush=True)


def _free_port() -> int:
    # Another process may take the port before the emulator binds it; that start then fails and skips with the log.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _spawn(python: Path, endpoint: str, project: str, workdir: Path, log_path: Path) -> subprocess.Popen[bytes]:
    port = endpoint.rsplit(":", 1)[1]
    command = [str(python), str(LAUNCHER), "serve", "--host", "127.0.0.1", "--port", port]
    command += ["--grpc-port", str(_free_port()), "--data-dir", str(workdir / "data"), "--project", project]
    # PYTHONPATH of the 3.11 project must not leak into the 3.13 interpreter.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["LBQ_DUCKDB_EXT_DIR"] = str(workdir / "duckdb-extensions")
    with log_path.open("wb") as log:
        # A new session makes the emulator a process group of its own, so all of it stops together.
        return subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


def _wait_until_ready(process: subprocess.Popen[bytes], endpoint: str, project: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _skip_with_log(f"emulator exited with status {process.returncode} before answering", log_path)
        if _answers(f"{endpoint}/bigquery/v2/projects/{project}/datasets"):
            return
        time.sleep(0.2)
    _skip_with_log(f"emulator did not start in {START_TIMEOUT_S:g} s", log_path)


def _answers(url: str) -> bool:
    # No proxy: the emulator is on loopback. A 200 means its DuckDB catalog opened, not just that uvicorn listens.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            status: int = response.status
            return status == 200
    except (urllib.error.URLError, OSError):
        return False


def _skip_with_log(reason: str, log_path: Path) -> None:
    tail = log_path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    pytest.skip(f"{reason}: " + "\n".join(tail))


def _stop(process: subprocess.Popen[bytes]) -> None:
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def main(argv: list[str]) -> int:
    """`install`: build the emulator venv now; exit 0 with a message when this machine has no Python 3.13."""
    if argv != ["install"]:
        print("usage: python -m tests.support.bigquery_emulator install", file=sys.stderr)
        return 2
    try:
        python = ensure_venv(venv_dir())
    except EmulatorUnavailable as exc:
        print(f"[bigquery emulator] {exc}; the BigQuery emulator tests will be skipped", file=sys.stderr)
        return 0 if isinstance(exc, NoPython313) else 1
    print(f"[bigquery emulator] ready: {python}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
