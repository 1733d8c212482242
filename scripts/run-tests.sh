#!/usr/bin/env bash
# Sets up (Java, R, Chromium, .venv), runs the checks (ruff format --check, ruff check, mypy,
# lint-imports: the layers contract; configured in pyproject.toml) and the test suite: the
# harness's own tests and every model suite on its committed sample data, two xdist workers,
# slow tests excluded. A failed check fails the script, but the tests still run so their
# results show too.
# tests/test_session.py and tests/test_code_rules.py run first, each in a process of its own:
# they switch a process between local and Connect sessions (pyspark cannot mix them in one
# process), which would stop the session the other tests of that process hold.
# Extra arguments go to the main pytest run (e.g. -k adoption_rate).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser || exit 1
export HARNESS_REQUIRE_BROWSER=1
if [[ ! -x .venv-databricks/bin/python && "${HARNESS_SKIP_DATABRICKS:-0}" != "1" ]]; then
  # The Databricks Connect environment is separate (databricks-connect replaces pyspark);
  # the backend tests use it against a local Spark Connect server when it exists.
  bash scripts/setup-databricks-env.sh || echo "[tests] Databricks Connect env not created; its test will skip"
fi
gate_rc=0
check() {
  echo "[tests] .venv/bin/$*"
  ".venv/bin/$1" "${@:2}" || { gate_rc=1; echo "[tests] check failed: $*"; }
}
check ruff format --check .
check ruff check .
check mypy
check lint-imports --no-cache
session_rc=0
if [[ $# -eq 0 ]]; then
  # test_code_rules.py switches its process between a classic and a Connect session (the
  # Python rules' demos on both), which stops a session other tests in that process hold.
  for own in tests/test_session.py tests/test_code_rules.py; do
    echo "[tests] .venv/bin/pytest $own -n 0"
    .venv/bin/pytest "$own" -n 0 -q || session_rc=$?
  done
fi
echo "[tests] .venv/bin/pytest -m 'not slow' -n 2 --ignore=tests/test_session.py --ignore=tests/test_code_rules.py $*"
.venv/bin/pytest -m "not slow" -n 2 --ignore=tests/test_session.py --ignore=tests/test_code_rules.py "$@"
main_rc=$?
if [[ $session_rc -ne 0 ]]; then
  echo "[tests] tests/test_session.py or tests/test_code_rules.py failed (exit $session_rc)"
  exit $session_rc
fi
if [[ $main_rc -eq 0 && $gate_rc -ne 0 ]]; then
  echo "[tests] the tests passed but a check failed (see above)"
  exit $gate_rc
fi
exit $main_rc
