#!/usr/bin/env bash
# The fault-injection suite (tests marked `faults`: real servers, workers and cluster JVMs
# killed, failing and concurrent golden writes, a cancelled run resumed), one at a time,
# then the table of what each fault did and whether any data was lost.
# Usage: bash scripts/fault-table.sh [--out DIR] [extra pytest args]
set -uo pipefail
cd "$(dirname "$0")/.."
out=reports/faults
if [[ "${1:-}" == "--out" ]]; then out="$2"; shift 2; fi
bash scripts/setup.sh >/dev/null || exit 1
mkdir -p "$out"
echo "[faults] .venv/bin/pytest tests -m faults -n 0 --junitxml=$out/junit.xml $*"
.venv/bin/pytest tests -m faults -n 0 -q -p no:randomly --junitxml="$out/junit.xml" "$@"
.venv/bin/python scripts/fault_table.py "$out/junit.xml" | tee "$out/fault-table.md"
