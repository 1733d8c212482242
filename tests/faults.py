"""Real faults for the fault-injection tests: a project copy whose model causes one.

One job: build a throwaway project holding ``adoption_rate`` plus ``faulty_rate``, a copy of
it with one more Python step that, the first time it runs, does the fault named by
``$HARNESS_FAULT`` for real (kills the Spark Connect server, its own pytest-xdist worker,
or an executor JVM of a local cluster) and then makes Spark work, so the fault strikes a model in
flight. A marker file makes the fault happen once: the model's retry runs clean. Also:
running pytest on the copy in a child process with a bound, and the golden files' digests
to show no golden was lost or changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from project_copy import REPO, copy_project

FAULT_STEP = '''"""Does the fault $HARNESS_FAULT names, once (marker in $HARNESS_FAULT_DIR)."""
import os
import signal
from pathlib import Path


def _pids(needle):
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().replace(b"\\0", b" ").decode()
            except OSError:
                continue
            if needle in cmd and "java" in cmd:
                yield int(proc.name)


def run(spark, adoption_rates):
    fault = os.environ.get("HARNESS_FAULT", "")
    marker = Path(os.environ.get("HARNESS_FAULT_DIR", ".")) / "fault-done"
    if fault and not marker.exists():
        marker.write_text(fault)
        if fault == "kill-connect-server":
            url = os.environ.get("HARNESS_FAULT_URL") or os.environ["SPARK_REMOTE"]
            port = url.rsplit(":", 1)[1].strip("/")
            for pid in _pids(f"spark.connect.grpc.binding.port={port}"):
                os.kill(pid, signal.SIGKILL)
        elif fault == "kill-xdist-worker":
            os.kill(os.getpid(), signal.SIGKILL)
        elif fault == "kill-cluster-executor":
            pid = next(_pids("org.apache.spark.executor.CoarseGrainedExecutorBackend"))
            os.kill(pid, signal.SIGKILL)
    rows = adoption_rates.count()  # Spark work after the fault
    return spark.createDataFrame([(rows,)], "rows BIGINT")
'''


def faulty_project(root: Path) -> Path:
    """A project with ``adoption_rate`` and ``faulty_rate`` (its copy with the fault step)."""
    copy_project(root, ["adoption_rate"])
    model = root / "suites" / "faulty_rate"
    shutil.copytree(root / "suites" / "adoption_rate", model)
    spec = (model / "model.yaml").read_text().replace("name: adoption_rate", "name: faulty_rate")
    spec = spec.replace(
        "    produces: [adoption_rates]\n",
        "    produces: [adoption_rates]\n"
        "  - python: fault.py:run\n    inputs: [adoption_rates]\n    produces: [fault_rows]\n",
    )
    (model / "model.yaml").write_text(spec)
    (model / "fault.py").write_text(FAULT_STEP)
    shutil.copytree(root / "golden" / "adoption_rate", root / "golden" / "faulty_rate")
    return root


def golden_digests(root: Path) -> dict[str, str]:
    """sha256 of every file under the project's golden/ (what a fault must not change)."""
    golden = root / "golden"
    return {
        str(p.relative_to(golden)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(golden.rglob("*"))
        if p.is_file()
    }


def data_lost(before: dict[str, str], after: dict[str, str]) -> str:
    """ "none", or which golden files went missing or changed."""
    lost = [f for f in before if f not in after]
    changed = [f for f in before if f in after and before[f] != after[f]]
    if not lost and not changed:
        return "none"
    return f"lost {lost[:3]} changed {changed[:3]}"


def record_fault(record_property: Any, fault: str, outcome: str, lost: str) -> None:
    """A test's row of the fault table (scripts/fault-table.sh reads these JUnit
    properties): the fault, what happened (one line), what golden data was lost."""
    record_property("fault", fault)
    record_property("outcome", outcome.replace("\n", " ")[:400])
    record_property("data_lost", lost)


def run_pytest(
    root: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """``pytest suites ARGS`` in the copy, in a child process of its own group, killed (with
    everything it started) if it outlives ``timeout``."""
    cmd = [sys.executable, "-m", "pytest", "suites", "-p", "no:randomly", "-q", *args]
    full_env = {**os.environ, "HARNESS_WORKDIR": str(root / ".harness"), **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), full_env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        cmd,
        cwd=root,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        out += f"\n[faults] killed after {timeout:.0f}s"
    return subprocess.CompletedProcess(cmd, proc.returncode, out)


def summary(report_dir: Path) -> dict[str, Any]:
    return json.loads((report_dir / "summary.json").read_text())


def model(summary_data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for m in summary_data["models"] if m["model"] == name)
