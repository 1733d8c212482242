#!/usr/bin/env bash
# A local Spark standalone cluster (a master and two workers as JVMs of their own) with a
# Spark Connect server whose master it is, all on 127.0.0.1, for running the nightly the way
# a real cluster runs it.
#   scripts/local-cluster.sh up       start it; progress on stderr, the sc:// URL last on stdout
#   scripts/local-cluster.sh status   what runs (exit 3 when nothing does)
#   scripts/local-cluster.sh down     stop it; no JVM is left behind
# It stops by itself when the shell that ran `up` exits (past timeout, nice, env and $(...)
# subshells; `up` names it on stderr; `up --owner PID` names another owner, `--owner 0`
# none) and when `up` is interrupted. State and logs: .harness/cluster/
# (or $HARNESS_WORKDIR/cluster). Sizes: HARNESS_CLUSTER_WORKERS (2),
# HARNESS_CLUSTER_EXECUTOR_MEMORY (3g), HARNESS_DRIVER_MEMORY (4g). See docs/cluster.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${HARNESS_PYTHON:-$ROOT/.venv/bin/python}"
if [[ ! -x "$PY" ]]; then
  echo "[cluster] no $PY: run bash scripts/setup.sh first (or set HARNESS_PYTHON)" >&2
  exit 2
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" -m harness.backends.clusterctl "$@"
