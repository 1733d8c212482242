#!/usr/bin/env bash
# Sets up everything the harness needs on a fresh Debian 12 machine, idempotently:
#   Java 17 and R (Debian packages, --no-install-recommends), optionally Chromium for the
#   HTML report's browser test, and the Python packages in a virtualenv at .venv/.
# Usage: bash scripts/setup.sh [--browser]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
say() { printf '[setup] %s\n' "$*"; }

want_browser=0
[[ "${1:-}" == "--browser" ]] && want_browser=1

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
apt_updated=0
apt_install() {
  if [[ $apt_updated -eq 0 ]]; then
    say "apt-get update"
    $SUDO apt-get update -qq
    apt_updated=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }
if ! command -v java >/dev/null || [[ "$(java_major)" != "17" ]]; then
  apt_install openjdk-17-jre-headless
else
  say "Java 17 present"
fi

if ! command -v R >/dev/null; then
  # r-base-dev brings R's headers so rpy2 builds in API mode; --no-install-recommends
  # keeps it from pulling ~1.4 GB of recommended packages.
  apt_install r-base-core r-base-dev
else
  say "R present: $(R --version | head -1)"
fi

if ! command -v shellcheck >/dev/null; then
  # checks the generated Databricks init script (tests/test_deploy.py)
  apt_install shellcheck
fi

if [[ $want_browser -eq 1 ]] && ! command -v chromium >/dev/null; then
  apt_install chromium
fi

PY="${PYTHON:-python3}"
stamp=".venv/.harness-installed"
fingerprint="$(sha256sum pyproject.toml | cut -c1-16)"
if [[ ! -x .venv/bin/python ]]; then
  say "creating virtualenv .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$fingerprint" ]]; then
  say "installing Python packages into .venv (pyproject.toml changed or first run)"
  .venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
  .venv/bin/pip install -q -e ".[dev]" 2>&1 | grep -v -E "^(WARNING: Location|  )" || true
  .venv/bin/python -c "import pyspark, rpy2, chispa, syrupy, xdist, mypy" \
    || { echo "[setup] Python packages failed to install" >&2; exit 1; }
  echo "$fingerprint" > "$stamp"
else
  say "Python packages up to date"
fi
export R_HOME="${R_HOME:-$(R RHOME)}"
say "ready: Java $(java_major), $(R --version | head -1 | cut -d' ' -f1-3), $(.venv/bin/python -c 'import pyspark; print("pyspark", pyspark.__version__)')"
