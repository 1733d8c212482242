#!/usr/bin/env bash
# Create .venv-databricks: the environment for `--backend databricks`.
#
# databricks-connect ships its own `pyspark` package and replaces the real one, so it cannot
# live in the main .venv (which needs pyspark 4.3 for the local and connect backends). This
# environment gets databricks-connect, the test tools, and this repo installed with --no-deps.
#
# Idempotent: re-running reuses the environment and only installs what is missing.
#
# Environment:
#   PYTHON                   interpreter to build the venv from (default: python3); use the
#                            same minor version as the main .venv so applyInPandas works
#                            against a local Spark Connect server
#   DATABRICKS_CONNECT_SPEC  pip requirement for databricks-connect (default: databricks-connect;
#                            e.g. 'databricks-connect==15.4.*' to match an older cluster's DBR)
#   HARNESS_DATABRICKS_VENV  where to create it (default: <repo>/.venv-databricks)
#
# Then run:  .venv-databricks/bin/pytest --harness-backend databricks ...
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${HARNESS_DATABRICKS_VENV:-$REPO/.venv-databricks}"
PYTHON="${PYTHON:-python3}"
SPEC="${DATABRICKS_CONNECT_SPEC:-databricks-connect}"

say() { printf '[setup-databricks-env] %s\n' "$*"; }
started=$(date +%s)

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    say "error: $PYTHON not found; set PYTHON=/path/to/python3.11 (or newer)" >&2
    exit 1
fi

if [ -x "$VENV/bin/python" ]; then
    say "reusing $VENV ($("$VENV/bin/python" --version 2>&1))"
else
    say "creating $VENV with $("$PYTHON" --version 2>&1) ($(command -v "$PYTHON"))"
    "$PYTHON" -m venv "$VENV"
fi

PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

say "upgrading pip"
"${PIP[@]}" install --quiet --upgrade pip

# A real pyspark (e.g. from an earlier 'pip install -e .' with deps) shadows the one inside
# databricks-connect; remove it and reinstall databricks-connect over it.
reinstall=()
if "${PIP[@]}" show pyspark >/dev/null 2>&1; then
    say "removing pyspark from $VENV (databricks-connect brings its own)"
    "${PIP[@]}" uninstall --quiet --yes pyspark
    reinstall=(--force-reinstall --no-deps "$SPEC")
fi

say "installing $SPEC with pyarrow<18 and pandas<3, plus the test tools"
"${PIP[@]}" install --quiet \
    "$SPEC" 'pyarrow<18' 'pandas<3' \
    pytest pytest-xdist pyyaml filelock chispa syrupy sqlglot greenery 'ruamel.yaml'
if [ ${#reinstall[@]} -gt 0 ]; then
    "${PIP[@]}" install --quiet "${reinstall[@]}"
fi

say "installing this repo in editable mode without dependencies (they would pull pyspark)"
PYTHONWARNINGS=ignore "${PIP[@]}" install --quiet --no-deps -e "$REPO"

say "checking the install"
"$VENV/bin/python" - <<'EOF'
from importlib.metadata import version

from databricks.connect import DatabricksSession  # noqa: F401

import harness.backends  # noqa: F401

print(
    "[setup-databricks-env] databricks-connect", version("databricks-connect"),
    "| pandas", version("pandas"), "| pyarrow", version("pyarrow"),
)
EOF

say "done in $(( $(date +%s) - started ))s; run the databricks backend with: ${VENV#"$REPO"/}/bin/pytest --harness-backend databricks ..."
