#!/usr/bin/env bash
# Sets up (Java, R, Chromium, .venv) and runs the test suite: the harness's own tests and
# every model suite on its committed sample data, two xdist workers, slow tests excluded.
# Extra arguments go to pytest (e.g. -k adoption_rate).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
export HARNESS_REQUIRE_BROWSER=1
if [[ ! -x .venv-databricks/bin/python && "${HARNESS_SKIP_DATABRICKS:-0}" != "1" ]]; then
  # The Databricks Connect environment is separate (databricks-connect replaces pyspark);
  # the backend tests use it against a local Spark Connect server when it exists.
  bash scripts/setup-databricks-env.sh || echo "[tests] Databricks Connect env not created; its test will skip"
fi
echo "[tests] .venv/bin/pytest -m 'not slow' -n 2 $*"
exec .venv/bin/pytest -m "not slow" -n 2 "$@"
