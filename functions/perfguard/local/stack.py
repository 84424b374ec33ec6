"""The local stack: every function in one process under waitress, with the in-process bus, the local
scheduler and a DuckDB file, sharing one runtime (the embedded default of DESIGN.md)."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import threading
from dataclasses import replace
from pathlib import Path
from types import FrameType

import waitress

from perfguard import runtime as rt
from perfguard.bus.inprocess import InProcessBus
from perfguard.errors import ConfigError
from perfguard.local.scheduler import LocalScheduler
from perfguard.local.wsgi import build_app
from perfguard.settings import Settings
from perfguard.topology import load_topology

log = logging.getLogger(__name__)


class LocalStack:
    """Start with `start()`, serve with `serve_forever()`, stop with `stop()` (also on Ctrl-C / SIGTERM)."""

    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int = 8080) -> None:
        self.generated_key = "" if settings.api_key or settings.api_keys_file else secrets.token_urlsafe(24)
        self.settings = replace(settings, api_key=settings.api_key or self.generated_key)
        self._host, self._port = host, port
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        """The base URL the functions are served under."""
        return f"http://{self._host}:{self._server.effective_port}"

    def start(self) -> None:
        """Open the store, build the runtime, bind the port and start the bus and the scheduler."""
        # From here on SIGTERM stops the stack as Ctrl-C does (installed before anything can announce the URL).
        self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)
        if self.settings.bus != "inprocess":
            raise ConfigError("the local stack runs the in-process bus; unset PERFGUARD_BUS or set it to inprocess")
        data = Path(self.settings.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        self.warehouse = rt.make_warehouse(self.settings)
        self.warehouse.ensure_tables()
        topology = load_topology()
        self.bus = InProcessBus(topology, data)
        self.runtime = rt.Runtime(self.settings, self.warehouse, self.bus, rt.key_ring(self.settings))
        rt.install(self.runtime)
        app, self.functions = build_app()
        self._server = waitress.create_server(app, host=self._host, port=self._port, threads=8, ident="perfguard")
        self.bus.start(self.url)
        self.scheduler = LocalScheduler(list(topology.schedules), self.bus)
        self.scheduler.start()
        where = (
            data / rt.DB_FILE if self.settings.warehouse == "duckdb" else f"BigQuery {self.settings.bigquery_dataset}"
        )
        log.info("perfguard serving %d functions on %s (data in %s)", len(self.functions), self.url, where)

    def serve_forever(self) -> None:
        """Serve until Ctrl-C or SIGTERM, then stop cleanly."""
        try:
            self._server.run()  # returns on KeyboardInterrupt (waitress handles it)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop_serving(self) -> None:
        """Ask `serve_forever` (in the main thread) to return, as Ctrl-C does."""
        os.kill(os.getpid(), signal.SIGINT)

    def stop(self) -> None:
        """Stop the scheduler, drain the bus, close the server and checkpoint the store (idempotent)."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        log.info("shutting down")
        if threading.current_thread() is threading.main_thread():  # only the main thread may set handlers
            signal.signal(signal.SIGTERM, self._previous_sigterm)
        self.scheduler.stop()
        self.bus.close()
        self._server.close()
        self.warehouse.close()
        rt.install(None)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
