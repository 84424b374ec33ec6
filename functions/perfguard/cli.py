"""The `perfguard` command: `serve` the local stack, run the `demo` marketplace, list the `settings`,
`backtest` a threshold rule over stored history, or `test-rules` (rule unit tests)."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from perfguard.domain.rules import find_rule
from perfguard.domain.thresholds import RULE, ThresholdRule
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
    _add_backtest(commands)
    _add_test_rules(commands)
    return parser


def _add_test_rules(commands: Any) -> None:
    test = commands.add_parser(
        "test-rules", help="run rule unit tests (promtool-style series and expected alerts; docs/rules.md)"
    )
    test.add_argument("files", nargs="+", help="rule test files (YAML)")
    test.add_argument("--junit", help="also write the results as JUnit XML to this file")
    test.set_defaults(run=_test_rules)


def _test_rules(args: argparse.Namespace) -> int:
    from pathlib import Path

    from perfguard.local.rule_tests import junit, run_file

    verdicts = []
    for name in args.files:
        print(f"{name}:")
        verdicts.extend(run_file(Path(name), _print_verdict))
    failed = sum(1 for verdict in verdicts if verdict.failures)
    print(f"{len(verdicts) - failed} passed, {failed} failed")
    if args.junit:
        Path(args.junit).write_text(junit(verdicts, "perfguard rule tests"), encoding="utf-8")
    return 1 if failed else 0


def _print_verdict(verdict: Any) -> None:
    print(f"  {'FAIL' if verdict.failures else 'ok  '} {verdict.name}")
    for failure in verdict.failures:
        print(f"       {failure}")


def _add_backtest(commands: Any) -> None:
    backtest = commands.add_parser(
        "backtest", help="replay the threshold rule over stored history: when it would have fired, how long"
    )
    backtest.add_argument("--start", required=True, help="first moment of the range, RFC 3339 (inclusive)")
    backtest.add_argument("--end", required=True, help="end of the range, RFC 3339 (exclusive; at most 90 days)")
    backtest.add_argument("--rule", default=RULE, help=f"name of the rule in the rules file (default: {RULE})")
    backtest.add_argument("--threshold-ms", type=float, help="P95 threshold (default: the rule's)")
    backtest.add_argument("--windows", type=int, help="consecutive breaching minutes (default: the rule's)")
    backtest.add_argument("--min-samples", type=int, help="fewest records per minute (default: the rule's)")
    backtest.add_argument("--endpoint", help="only this endpoint_or_operation ('(all endpoints)' for the overall)")
    backtest.add_argument("--data-dir", help="directory of the DuckDB file (default: the data_dir setting)")
    backtest.add_argument("--config", help="YAML settings file (see `perfguard settings`)")
    backtest.add_argument("--json", action="store_true", help="print the episodes and summary as JSON")
    backtest.set_defaults(run=_backtest)


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    overrides = {"data_dir": args.data_dir} if args.data_dir else {}
    environ = {k: v for k, v in os.environ.items() if k != "PERFGUARD_CONFIG"}
    return load_settings(args.config or os.environ.get("PERFGUARD_CONFIG"), environ, {**overrides, **extra})


def _serve(args: argparse.Namespace) -> int:
    _run(LocalStack(_settings(args), args.host, args.port))
    return 0


def _demo_settings(settings: Settings) -> Settings:
    """The demo shows its alert at once: without a group_wait of its own it sends a new group's first
    notification without Alertmanager's 30 s wait (production keeps it; docs/rules.md)."""
    if settings.group_wait_seconds != Settings().group_wait_seconds:
        return settings
    log.info("demo: notification groups go out at once (group_wait_seconds 0; the default is 30)")
    return dataclasses.replace(settings, group_wait_seconds=0)


def _demo(args: argparse.Namespace) -> int:
    from perfguard.local.demo import DemoMarketplace

    stack = LocalStack(_demo_settings(_settings(args, environment="demo")), args.host, args.port)
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


def _backtest(args: argparse.Namespace) -> int:
    from perfguard.api.backtest import DAY, as_json, as_table, backtest_range, run_backtest, store_file
    from perfguard.runtime import make_warehouse

    start, end = backtest_range(args.start, args.end)
    settings = _settings(args)
    rule = _backtest_rule(args, settings)
    store_file(settings)
    warehouse = make_warehouse(settings)  # only queried: the backtest writes nothing
    try:
        result = run_backtest(warehouse, rule, start, end, args.endpoint, _progress if end - start > DAY else None)
    finally:
        warehouse.close()
    print(json.dumps(as_json(result), indent=2) if args.json else as_table(result))
    return 0


def _backtest_rule(args: argparse.Namespace, settings: Settings) -> ThresholdRule:
    """The rule `--rule` of the rules file (with the settings' overrides), with the flags' changes: what a
    threshold change would have done."""
    from perfguard.runtime import load_threshold_rules

    rule = find_rule(load_threshold_rules(settings), args.rule)
    changes = {"threshold": args.threshold_ms, "windows": args.windows, "min_samples": args.min_samples}
    rule = dataclasses.replace(rule, **{name: value for name, value in changes.items() if value is not None})
    if rule.windows <= 0 or rule.min_samples < 0:
        raise ConfigError("--windows must be positive and --min-samples not negative")
    return rule


def _progress(number: int, total: int, day: dt.datetime) -> None:
    print(f"backtest: day {number}/{total} ({day:%Y-%m-%d}) read", file=sys.stderr, flush=True)
