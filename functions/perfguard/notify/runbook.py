"""What a notification quotes from an alert's runbook: its link, first diagnosis steps and optimizations.

The parsing functions are pure (Markdown text in, one-line items out); `RunbookLibrary` is the small edge that
reads `runbooks/<name>.md` and builds the link from the `runbook_base_url` setting.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfguard.errors import ConfigError
from perfguard.notify.port import AlertEvent

_HEADING = re.compile(r"^##\s+(.*?)\s*$")
_TOP_ITEM = re.compile(r"^(?:\d+[.)]|[-*+])\s+(.*)$")
_NESTED_ITEM = re.compile(r"^(?:\d+[.)]|[-*+])\s+")
_FENCE = ("```", "~~~")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
MAX_ITEM_CHARS = 300  # a quoted step is a pointer to the runbook, not a copy of it


@dataclass(frozen=True)
class Guidance:
    """What the runbook adds to a message: where it is, and its first steps and optimizations."""

    link: str
    first_steps: tuple[str, ...] = ()
    optimizations: tuple[str, ...] = ()

    @classmethod
    def from_runbook(cls, markdown: str | None, link: str, limit: int = 3) -> Guidance:
        """The guidance of a runbook's text; a missing runbook still gives its link."""
        if markdown is None:
            return cls(link)
        return cls(link, tuple(first_steps(markdown, limit)), tuple(optimizations(markdown, limit)))


GuidanceSource = Callable[[AlertEvent], Guidance]  # how a channel gets the guidance of an event's runbook


def first_steps(markdown: str, limit: int = 3) -> list[str]:
    """The first list items of `## Diagnose`, one line each, code blocks left out.

    >>> first_steps("## Diagnose\\n1. Look:\\n   ```\\n   curl x\\n   ```\\n2. Compare\\n## Optimize\\n- A")
    ['Look', 'Compare']
    """
    return _items(section(markdown, "Diagnose"))[:limit]


def optimizations(markdown: str, limit: int = 3) -> list[str]:
    """The first list items of `## Optimize`, one line each."""
    return _items(section(markdown, "Optimize"))[:limit]


def section(markdown: str, title: str) -> list[str]:
    """The lines under the first `## <title>...` heading, up to the next `## ` heading."""
    lines: list[str] = []
    inside = False
    for line in markdown.splitlines():
        heading = _HEADING.match(line)
        if heading:
            if inside:
                break
            inside = heading.group(1).lower().startswith(title.lower())
        elif inside:
            lines.append(line)
    return lines


def _items(lines: list[str]) -> list[str]:
    """Top-level list items with their indented continuation lines; code and nested lists are skipped."""
    items: list[list[str]] = []
    in_code = continues = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(_FENCE):
            in_code, continues = not in_code, False
        elif in_code:
            continue
        elif top := _TOP_ITEM.match(line):
            items.append([top.group(1)])
            continues = True
        elif continues and stripped and line[0].isspace() and not _NESTED_ITEM.match(stripped):
            items[-1].append(stripped)
        else:
            continues = False
    return [_compact(" ".join(parts)) for parts in items]


def _compact(text: str) -> str:
    """One plain line: whitespace collapsed, bold markers dropped, the colon that led into code removed."""
    line = " ".join(text.replace("**", "").split()).rstrip(":").strip()
    return line if len(line) <= MAX_ITEM_CHARS else line[: MAX_ITEM_CHARS - 1].rstrip() + "…"


def runbook_path(rule: str, context: dict[str, Any]) -> str:
    """The runbook's path in the repository: the one the alert's context names, else `runbooks/<rule>.md`."""
    named = context.get("runbook")
    return named if isinstance(named, str) and named else f"runbooks/{rule}.md"


def runbook_link(path: str, base_url: str) -> str:
    """A browsable URL when `runbook_base_url` is set (it points at the repository root), else the path."""
    return f"{base_url.rstrip('/')}/{path.lstrip('/')}" if base_url else path


def default_runbooks_dir() -> Path:
    """`runbooks/` beside `functions/` in a checkout, or copied into the deployed source."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package.parent.parent / "runbooks", package.parent / "runbooks"):
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"no runbooks/ folder near {package}")


def load_runbook(rule: str, runbooks_dir: Path) -> str | None:
    """The text of `<runbooks_dir>/<rule>.md`, or None when there is none (a name with a path is refused)."""
    if not _SAFE_NAME.match(rule):
        return None
    try:
        return (runbooks_dir / f"{rule}.md").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


class RunbookLibrary:
    """The guidance of each alert's runbook, read once per runbook and kept (runbooks change with deploys)."""

    def __init__(self, runbooks_dir: Path | None, base_url: str = "", limit: int = 3) -> None:
        self._dir = runbooks_dir
        self._base_url = base_url
        self._limit = limit
        self._cache: dict[str, Guidance] = {}
        self._lock = threading.Lock()

    def for_event(self, event: AlertEvent) -> Guidance:
        """The guidance of the event's runbook (a GuidanceSource)."""
        return self.guidance(event.rule, event.context)

    def guidance(self, rule: str, context: dict[str, Any]) -> Guidance:
        """The link, first steps and optimizations of the runbook this alert names."""
        path = runbook_path(rule, context)
        with self._lock:
            if path not in self._cache:
                text = load_runbook(Path(path).stem, self._dir) if self._dir else None
                self._cache[path] = Guidance.from_runbook(text, runbook_link(path, self._base_url), self._limit)
            return self._cache[path]
