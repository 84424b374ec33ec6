"""Start the local-bigquery emulator (0.3.2, Python 3.13) on a machine without internet access.

Run with the emulator venv's Python, never the project's:
    LBQ_DUCKDB_EXT_DIR=/tmp/ext python lbq_offline.py serve --host 127.0.0.1 --port P --grpc-port G --data-dir D

Two things stop the emulator as published from working offline, and this launcher fixes both before it starts:
* It opens DuckDB with `config={"TimeZone": "UTC"}`. A TimeZone in the connect config makes DuckDB autoload
  icu from disk or the network instead of using its built-in copy (duckdb/duckdb#11404), so every request
  fails. Setting TimeZone right after connecting works.
* It keeps tables in DuckLake and defines GEOGRAPHY macros with spatial; neither is built into DuckDB, and
  DuckDB would download them. The `duckdb-extension-ducklake`/`-spatial` wheels ship them, so they are
  installed from those files into an extension directory that every connection then uses.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

_EXTENSIONS = ("ducklake", "spatial")
Connect = Callable[..., duckdb.DuckDBPyConnection]


def extension_dir() -> str:
    """Where DuckDB looks for extensions: `LBQ_DUCKDB_EXT_DIR`, else a folder in the temp dir."""
    default = Path(tempfile.gettempdir()) / "lbq-duckdb-extensions"
    return os.environ.get("LBQ_DUCKDB_EXT_DIR") or str(default)


def offline_connect(real_connect: Connect, ext_dir: str) -> Connect:
    """A `duckdb.connect` that sets TimeZone after connecting and never downloads an extension."""

    @functools.wraps(real_connect)
    def connect(*args: Any, **kwargs: Any) -> duckdb.DuckDBPyConnection:
        config = dict(kwargs.pop("config", None) or {})
        timezone = config.pop("TimeZone", None)
        config.setdefault("extension_directory", ext_dir)
        config.setdefault("autoinstall_known_extensions", False)
        con = real_connect(*args, config=config, **kwargs)
        if timezone is not None:
            con.execute(f"SET TimeZone = '{timezone}'")
        return con

    return connect


def install_extensions(ext_dir: str) -> None:
    """INSTALL the extensions the emulator needs from the files its wheels ship (no network)."""
    Path(ext_dir).mkdir(parents=True, exist_ok=True)
    with duckdb.connect(config={"extension_directory": ext_dir, "autoinstall_known_extensions": False}) as con:
        version = str(con.execute("PRAGMA version").fetchall()[0][0])  # e.g. v1.5.5: the wheels' folder name
        for name in _EXTENSIONS:
            package = Path(str(importlib.import_module(f"duckdb_extension_{name}").__path__[0]))
            con.execute(f"INSTALL '{package / 'extensions' / version / f'{name}.duckdb_extension'}'")


def main(argv: list[str]) -> None:
    """Patch DuckDB, install the extensions, then run the emulator's own command line."""
    ext_dir = extension_dir()
    install_extensions(ext_dir)
    duckdb.connect = offline_connect(duckdb.connect, ext_dir)  # the emulator calls duckdb.connect at request time
    from local_bigquery import cli

    cli.main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
