"""`enforce_retention`: the embedded store's stand-in for BigQuery's partition expiration."""

from __future__ import annotations

import logging

from perfguard.domain.retention import retention_cutoff
from perfguard.runtime import Runtime, tables

log = logging.getLogger(__name__)


def enforce_retention(runtime: Runtime) -> dict[str, int]:
    """Delete every row older than the retention; how many went per table."""
    cutoff = retention_cutoff(runtime.clock(), runtime.settings.retention_days)
    schemas, _ = tables(runtime.settings)
    deleted = {name: runtime.warehouse.delete_before(name, cutoff) for name in schemas}
    log.info("retention: deleted rows before %s: %s", cutoff.isoformat(), deleted)
    return deleted
