"""The `perfguard` command: `serve` the local stack, run the `demo` marketplace, or list the `settings`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from perfguard.errors import ConfigError, WarehouseError
from perfguard.local.stack import LocalStack
from perfguard.settings import Settings, load_settings, settings_fields

log = logging.getLogger("perfguard")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    try:
        return int(args.run(args))
    except (ConfigError, WarehouseError) as exc:
        print(f"perfguard: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="perfguard", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run every function locally (no demo traffic)")
    demo = commands.add_parser("demo", help="run the local stack with the demo marketplace sending traffic")
    for command in (serve, demo):
        command.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
        command.add_argument("--port", type=int, default=8080, help="port to bind; 0 picks a free one (default 8080)")
        command.add_argument("--data-dir", help="directory of the DuckDB file (default: the data_dir setting)")
        command.add_argument("--config", help="YAML settings file (see `perfguard settings`)")
    serve.set_defaults(run=_serve)
    demo.add_argument(
        "--duration", type=float, default=0, help="stop after this many seconds (default: run until Ctrl-C)"
    )
    demo.set_defaults(run=_demo)
    commands.add_parser("settings", help="list every setting with its default").set_defaults(run=_list_settings)
    return parser


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    overrides = {"data_dir": args.data_dir} if args.data_dir else {}
    environ = {k: v for k, v in os.environ.items() if k != "PERFGUARD_CONFIG"}
    return load_settings(args.config or os.environ.get("PERFGUARD_CONFIG"), environ, {**overrides, **extra})


def _serve(args: argparse.Namespace) -> int:
    _run(LocalStack(_settings(args), args.host, args.port))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from perfguard.local.demo import DemoMarketplace

    stack = LocalStack(_settings(args, environment="demo"), args.host, args.port)
    demo: DemoMarketplace | None = None

    def start_demo() -> None:
        nonlocal demo
        demo = DemoMarketplace(stack.url, stack.settings.api_key)
        demo.start(duration=args.duration or None, on_finish=stack.stop_serving)

    try:
        _run(stack, start_demo)
    finally:
        if demo is not None:
            demo.stop()
    return 0


def _run(stack: LocalStack, then: Callable[[], None] | None = None) -> None:
    """Start the stack, say where it is, and serve until Ctrl-C / SIGTERM (even one that arrives early)."""
    stack.start()
    try:
        _announce(stack)
        if then is not None:
            then()
    except KeyboardInterrupt:
        stack.stop()
        return
    stack.serve_forever()


def _announce(stack: LocalStack) -> None:
    where = "generated for this run" if stack.generated_key else "from your settings"
    print(f"perfguard is serving on {stack.url}  (functions: {', '.join(stack.functions)})", flush=True)
    print(f"API key ({where}): {stack.settings.api_key}", flush=True)
    print(f"try: curl -H 'Authorization: Bearer {stack.settings.api_key}' {stack.url}/get_kpi_status", flush=True)


def _list_settings(args: argparse.Namespace) -> int:
    defaults = Settings()
    for field in settings_fields():
        default = getattr(defaults, field.name)
        print(f"{field.name:32} {field.metadata['help']} (PERFGUARD_{field.name.upper()}; default {default!r})")
    return 0
