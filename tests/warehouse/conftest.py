"""Fixtures of the warehouse tests: the local BigQuery emulator (a Python 3.13 subprocess, shared by the session)."""

from __future__ import annotations

from tests.support.bigquery_emulator import bigquery_emulator

__all__ = ["bigquery_emulator"]
