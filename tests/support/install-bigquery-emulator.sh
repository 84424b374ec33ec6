#!/usr/bin/env bash
# Build the local BigQuery emulator's Python 3.13 venv (.venv-bqemu, or $PERFGUARD_BQEMU_VENV) before pytest runs,
# so the emulator tests do not spend their time in pip. Reuses the venv when its pins are current.
# Exits 0 with a message when the machine has no Python 3.13 (those tests then skip with that reason);
# exits 1 when pip fails, with pip's first error line.
set -euo pipefail
cd "$(dirname "$0")/../.."
python="${PYTHON:-.venv/bin/python}"
if [ ! -x "$python" ]; then
  echo "install-bigquery-emulator: $python not found; create the project venv first (make .venv/.installed)" >&2
  exit 1
fi
exec "$python" -m tests.support.bigquery_emulator install
