"""The local stack: every function in one process under waitress, with the in-process bus, the local
scheduler and a DuckDB file, sharing one runtime (the embedded default of DESIGN.md)."""

from __future__ import annotations

import _thread
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
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class LocalStack:
    """Start with `start()`, serve with `serve_forever()`, stop with `stop()` (also on Ctrl-C / SIGTERM)."""

    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int = 8080) -> None:
        self.generated_key = "" if settings.api_key or settings.api_keys_file else secrets.token_urlsafe(24)
        self.settings = replace(settings, api_key=settings.api_key or self.generated_key)
        self._host, self._port = host, port
        self._stopped = threading.Event()
        self._draining = threading.Event()

    @property
    def url(self) -> str:
        """The base URL the functions are served under."""
        return f"http://{self._host}:{self._server.effective_port}"

    def start(self) -> None:
        """Open the store, build the runtime, bind the port and start the bus and the scheduler."""
        if self.settings.bus != "inprocess":
            raise ConfigError("the local stack runs the in-process bus; unset PERFGUARD_BUS or set it to inprocess")
        rules = rt.checked_files(self.settings)  # a bad rules file or catalog stops here, before anything opens
        # From here on Ctrl-C and SIGTERM stop the stack gracefully (installed before the URL is announced).
        self._previous_handlers = {sig: signal.signal(sig, self._on_stop_signal) for sig in STOP_SIGNALS}
        data = Path(self.settings.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        self.warehouse = rt.make_warehouse(self.settings)
        self.warehouse.ensure_tables()
        topology = load_topology()
        self.bus = InProcessBus(topology, data)
        self.runtime = rt.Runtime(self.settings, self.warehouse, self.bus, rt.key_ring(self.settings), rules=rules)
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

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        # The bus delivers to this very server, so drain it while the server still answers, then interrupt
        # the main thread's serving loop. A handler must not block that loop, hence the thread. A second
        # signal while draining stops at once (what is still queued is kept for the next start).
        if self._draining.is_set():
            raise KeyboardInterrupt
        self._draining.set()
        threading.Thread(target=self._drain_then_interrupt, name="shutdown", daemon=True).start()

    def _drain_then_interrupt(self) -> None:
        log.info("stopping: finishing the deliveries in flight")
        self.scheduler.stop()
        self.bus.close()
        _thread.interrupt_main()

    def stop(self) -> None:
        """Stop the scheduler, drain the bus, close the server and checkpoint the store (idempotent)."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        log.info("shutting down")
        if threading.current_thread() is threading.main_thread():  # only the main thread may set handlers
            for sig, previous in self._previous_handlers.items():
                signal.signal(sig, previous)
        self.scheduler.stop()
        self.bus.close()
        self._server.close()
        self.warehouse.close()
        rt.install(None)
