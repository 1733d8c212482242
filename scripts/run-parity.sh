#!/usr/bin/env bash
# Sets up and runs the nightly parity job on the embedded local Spark: generates the full
# datasets, captures missing full goldens from the emulated legacy platform (the demo asks
# for that explicitly: --capture emulated; production never emulates), runs every
# model suite on full data in parallel, and writes reports (JUnit XML, summary.json,
# report.html). Options: --out DIR (default reports/nightly), --scale F (1.0 = 1M customers),
# --workers N, --dataset sample|full; anything after -- goes to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/harness nightly --capture emulated "$@"
