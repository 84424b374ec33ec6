"""Our own crash clustering: Crashlytics' `issue_id` refined by a fingerprint of the in-app frames.

Crashlytics groups by the blamed thread's stack, which lumps different Dart errors reported through the
generic `FlutterError` type (and `recordError`) into one issue. The fingerprint (crash-sessions.md 3.3) takes
the error type, the exception type and the first in-app (`owner = DEVELOPER`) frames as file basename plus
normalised symbol, never line numbers, so one issue splits where its in-app stacks differ and a rebuild that
only moves lines does not.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

IN_APP_OWNER = "DEVELOPER"
DEPTH = 3  # in-app frames hashed: enough to split lumped Flutter errors, few enough to survive refactors
_CLOSURE = re.compile(r"(\.<anonymous closure>)+")
_LAMBDA = re.compile(r"\$\$?Lambda\$[\w$/]*|lambda\$\w+\$\d+")
_NUMBERS = re.compile(r"(:\d+)+$")


@dataclass(frozen=True)
class Frame:
    """One stack frame as the fingerprint sees it."""

    file: str
    symbol: str
    owner: str = ""

    def key(self) -> str:
        """`file symbol` without line numbers, lambdas or repeated closures."""
        return f"{_basename(self.file)} {normalise_symbol(self.symbol)}"


def normalise_symbol(symbol: str) -> str:
    """Collapse repeated `<anonymous closure>` and Java lambda names; drop trailing `:line:column`."""
    return _NUMBERS.sub("", _LAMBDA.sub("<lambda>", _CLOSURE.sub(".<anonymous closure>", symbol.strip())))


def frames_from_rows(rows: Sequence[Mapping[str, Any]] | None) -> list[Frame]:
    """Frames from export rows ({file, symbol, owner, ...}); missing fields become empty strings."""
    return [Frame(str(r.get("file") or ""), str(r.get("symbol") or ""), str(r.get("owner") or "")) for r in rows or ()]


def in_app(frames: Sequence[Frame]) -> list[Frame]:
    """The in-app frames, innermost first, consecutive repeats (recursion) collapsed."""
    kept: list[Frame] = []
    for frame in frames:
        if frame.owner == IN_APP_OWNER and (not kept or kept[-1].key() != frame.key()):
            kept.append(frame)
    return kept


def cluster_id(issue_id: str | None, error_type: str, exception_type: str, frames: Sequence[Frame]) -> str:
    """A stable id: the issue refined by error type, exception type and the first DEPTH in-app frames."""
    keys = [frame.key() for frame in in_app(frames)[:DEPTH]]
    text = "|".join([issue_id or "", error_type or "", exception_type or "", *keys])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def top_frames(frames: Sequence[Frame], limit: int = 5) -> list[str]:
    """The first in-app frames as `file symbol` (all frames when none is in-app), for alerts and clusters."""
    chosen = in_app(frames) or list(frames)
    return [frame.key() for frame in chosen[:limit]]


def _basename(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1].lower()
