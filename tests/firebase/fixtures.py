"""The fixture rows of shared/reference/firebase-exports.md section 6 (synthetic, exact column names), kept
verbatim in fixtures.json; TIMESTAMP strings become aware datetimes, as the BigQuery client returns them."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

_ISO = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z")


def _timestamps(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _timestamps(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_timestamps(item) for item in value]
    if isinstance(value, str) and _ISO.fullmatch(value):
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


_DATA = _timestamps(json.loads((Path(__file__).parent / "fixtures.json").read_text(encoding="utf-8")))
CRASH_FIXTURE: list[dict[str, Any]] = _DATA["crash"]
SESSION_FIXTURE: list[dict[str, Any]] = _DATA["sessions"]
PERFORMANCE_FIXTURE: list[dict[str, Any]] = _DATA["performance"]
GA4_FIXTURE: list[dict[str, Any]] = _DATA["ga4"]
