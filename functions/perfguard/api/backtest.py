"""The I/O side of the backtest: read per-minute P95s of a range from the warehouse and replay the rule.

The same `window_stats` query as the evaluator, one query per day of the range so a 90-day backtest never
holds more than a day of rows at once; only breaching windows are kept between chunks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from perfguard.domain.backtest import Backtest, Episode, backtest, breaching_rows, complete_minutes, group_label
from perfguard.domain.thresholds import ThresholdRule, covers_group
from perfguard.domain.timestamps import format_rfc3339, ns_to_datetime, parse_timestamp_ns
from perfguard.errors import ConfigError, ValidationError
from perfguard.runtime import DB_FILE
from perfguard.settings import Settings
from perfguard.warehouse.port import Warehouse
from perfguard.warehouse.window_stats import window_stats_query

DAY = dt.timedelta(days=1)
MAX_RANGE = dt.timedelta(days=90)  # the retention: older data is gone anyway


def run_backtest(
    warehouse: Warehouse,
    rule: ThresholdRule,
    start: dt.datetime,
    end: dt.datetime,
    endpoint: str | None = None,
    progress: Callable[[int, int, dt.datetime], None] | None = None,
) -> Backtest:
    """Replay `rule` over [start, end) (whole minutes); `endpoint` keeps one group (its label for overall)."""
    if rule.kind != "threshold":
        raise ConfigError(f"the backtest replays threshold rules; {rule.name} is of kind {rule.kind}")
    kept: list[Mapping[str, Any]] = []
    chunks = list(day_chunks(start, end))
    for number, (chunk_start, chunk_end) in enumerate(chunks, 1):
        sql, params = window_stats_query(rule, chunk_start, chunk_end)
        rows = warehouse.query(sql, params)
        kept.extend(row for row in breaching_rows(rule, rows) if _wanted(rule, row, endpoint))
        if progress is not None:
            progress(number, len(chunks), chunk_start)
    return backtest(rule, kept, start, end)


def day_chunks(start: dt.datetime, end: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """[start, end) cut into consecutive pieces of at most a day (minute boundaries stay inside one piece)."""
    while start < end:
        yield start, min(start + DAY, end)
        start += DAY


def _wanted(rule: ThresholdRule, row: Mapping[str, Any], endpoint: str | None) -> bool:
    """Whether the row is of a group the rule judges and, with `endpoint`, the one asked for."""
    return covers_group(rule, row["endpoint_or_operation"]) and (endpoint is None or _label(row) == endpoint)


def _label(row: Mapping[str, Any]) -> str:
    group: str | None = row["endpoint_or_operation"]
    return group_label(group)


def backtest_range(start_text: str, end_text: str) -> tuple[dt.datetime, dt.datetime]:
    """The range of the command line, checked and narrowed to whole minutes; ConfigError says what is wrong."""
    start, end = _moment("--start", start_text), _moment("--end", end_text)
    if end <= start:
        raise ConfigError(f"--end ({end_text}) must be after --start ({start_text})")
    if end - start > MAX_RANGE:
        raise ConfigError(f"the range is {_days(end - start)} long; a backtest covers at most 90 days")
    first, last = complete_minutes(start, end)
    if last <= first:
        raise ConfigError(f"the range {start_text} .. {end_text} holds no whole minute to replay")
    return first, last


def store_file(settings: Settings) -> Path | None:
    """The DuckDB file a backtest reads (None for BigQuery); ConfigError if it is not there, since opening a
    missing file would create an empty store and report that nothing ever fired."""
    if settings.warehouse != "duckdb":
        return None
    path = Path(settings.data_dir) / DB_FILE
    if not path.is_file():
        raise ConfigError(f"no store to backtest: expected the DuckDB file {path} (set --data-dir or data_dir)")
    return path


def as_json(result: Backtest) -> dict[str, Any]:
    """The backtest as a JSON document."""
    rule, summary = result.rule, result.summary
    return {
        "rule": {
            "name": rule.name,
            "metric_type": rule.metric_type,
            "threshold_ms": rule.threshold,
            "windows": rule.windows,
            "min_samples": rule.min_samples,
        },
        "start": format_rfc3339(result.start),
        "end": format_rfc3339(result.end),
        "episodes": [_episode_json(episode) for episode in result.episodes],
        "summary": {
            "episodes": summary.episodes,
            "groups": summary.groups,
            "firing_seconds": summary.firing_time.total_seconds(),
            "firing_fraction": summary.firing_fraction,
            "per_group": {group_label(group): count for group, count in summary.per_group.items()},
        },
    }


def as_table(result: Backtest) -> str:
    """The backtest as a table of episodes and a summary line."""
    if not result.episodes:
        return summary_line(result)
    header = ("group", "fired at", "resolved at", "duration", "peak p95 (ms)")
    lines = [header] + [_episode_cells(episode) for episode in result.episodes]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in lines]
    return "\n".join([*text, "", summary_line(result)])


def summary_line(result: Backtest) -> str:
    """One sentence: how often, on how many groups, how much of the time."""
    s = result.summary
    times = "time" if s.episodes == 1 else "times"
    endpoints = "endpoint" if s.groups == 1 else "endpoints"
    return (f"would have fired {s.episodes} {times} on {s.groups} {endpoints}, firing {s.firing_fraction:.1%} of "
            f"the time ({format_rfc3339(result.start)} .. {format_rfc3339(result.end)}; total firing "
            f"{_duration(s.firing_time)})")  # fmt: skip


def _episode_json(episode: Episode) -> dict[str, Any]:
    return {
        "endpoint_or_operation": episode.group,
        "group": group_label(episode.group),
        "fired_at": format_rfc3339(episode.fired_at),
        "resolved_at": None if episode.resolved_at is None else format_rfc3339(episode.resolved_at),
        "duration_seconds": episode.duration.total_seconds(),
        "peak_p95": episode.peak_p95,
        "windows_breached": episode.windows_breached,
    }


def _episode_cells(episode: Episode) -> tuple[str, str, str, str, str]:
    resolved = "still firing" if episode.resolved_at is None else format_rfc3339(episode.resolved_at)
    return (group_label(episode.group), format_rfc3339(episode.fired_at), resolved, _duration(episode.duration),
            f"{episode.peak_p95:.1f}")  # fmt: skip


def _duration(span: dt.timedelta) -> str:
    minutes = int(span.total_seconds()) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return f"{days}d {hours}h {minutes:02d}m" if days else f"{hours}h {minutes:02d}m"


def _days(span: dt.timedelta) -> str:
    return f"{span.total_seconds() / 86_400:.1f} days"


def _moment(flag: str, text: str) -> dt.datetime:
    try:
        return ns_to_datetime(parse_timestamp_ns(text))
    except ValidationError as exc:
        raise ConfigError(f"{flag}: {exc} (e.g. 2026-11-25T08:00:00Z)") from exc
