"""Production on Databricks, as far as this machine can show it: on a (simulated) Databricks
Runtime the job's nightly runs on the cluster's own session with no token and no Databricks
Connect; a missing golden in production stops the run with one line and writes nothing; the
local demo asks for emulated capture explicitly, and its report says the goldens are emulated.

The runtime is simulated as the issue asks: ``DATABRICKS_RUNTIME_VERSION`` set around a real
local session that the process made before the harness ran (the runtime's ``spark``), with
any import of ``databricks.*`` refused, so a Connect attempt could not go unnoticed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from project_copy import REPO, copy_project

from harness.backends.databricks import DATABRICKS, DATABRICKS_HINT, RUNTIME_ENV
from harness.cli import main as cli
from harness.errors import BackendError
from harness.workflows.goldens import CAPTURE_MODES, RUNBOOK


@pytest.mark.local_only("adopts this process's classic session")
def test_on_the_runtime_the_backend_adopts_the_active_session(spark, monkeypatch):
    monkeypatch.delenv("DATABRICKS_TOKEN", raising=False)
    monkeypatch.delenv(RUNTIME_ENV, raising=False)
    with pytest.raises(BackendError) as off_runtime:  # a laptop: Databricks Connect
        DATABRICKS.start(None, None)
    assert str(off_runtime.value) == DATABRICKS_HINT
    monkeypatch.setenv(RUNTIME_ENV, "17.3")
    assert DATABRICKS.adopts(None, None)
    assert not DATABRICKS.adopts("sc://workspace:443", None)  # an explicit URL still connects
    assert not DATABRICKS.adopts(None, "prod")
    session = DATABRICKS.start(None, None)
    assert session.spark is spark and session.adopted
    DATABRICKS.stop(session)  # the cluster's session is not the harness's to stop
    assert spark.range(3).count() == 3


def test_missing_golden_in_production_fails_in_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_project(tmp_path / "proj")
    golden = root / "golden" / "adoption_rate" / "sample" / "adoption_rates"
    for path in sorted(golden.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    out = tmp_path / "reports"
    argv = ["--root", str(root), "nightly", "--dataset", "sample", "--out", str(out)]
    assert cli(argv) == 2
    assert CAPTURE_MODES[0] == "never"  # production is the default
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "no golden for adoption_rate/sample/adoption_rates" in err
    assert "harness golden import adoption_rate adoption_rates EXPORT_FOLDER" in err
    assert "harness legacy export-script adoption_rate" in err and RUNBOOK in err
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    assert not out.exists()
    assert RUNBOOK.split(", ")[1].strip('"') in (REPO / "docs" / "cluster.md").read_text()


def test_the_demo_asks_for_emulated_capture() -> None:
    script = (REPO / "scripts" / "run-parity.sh").read_text()
    assert "harness nightly --capture emulated" in script


@pytest.mark.local_only("a child process with a local session of its own")
def test_demo_nightly_captures_emulated_goldens_and_its_report_says_so(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "proj")
    golden = root / "golden" / "adoption_rate" / "sample"
    for path in sorted(golden.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    out = tmp_path / "reports"
    env = {
        **os.environ,
        "HARNESS_WORKDIR": str(root / ".harness"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "harness.cli", "--root", str(root), "nightly"),
            *("--capture", "emulated", "--dataset", "sample", "--workers", "0"),
            *("--out", str(out)),
        ],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "adoption_rate/sample: captured adoption_rates" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    (model,) = summary["models"]
    assert model["status"] == "passed"
    (output,) = model["outputs"]
    source = output["golden_source"]
    assert source["kind"] == "emulated" and source["version"] == "v0001"
    assert source["steps"] == [
        {"step": "sql:adoption_rate.hql", "kind": "sql", "semantics": "SQL text rewritten for Hive"}
    ]
    assert "emulated" in (out / "report.html").read_text()


RUNTIME_CHILD = """
import importlib.abc, importlib.util, json, os, sys

class NoDatabricksConnect(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "databricks" or name.startswith("databricks."):
            raise ImportError("Databricks Connect must not be used on the cluster itself")
        return None

sys.meta_path.insert(0, NoDatabricksConnect())
from pyspark.sql import SparkSession

# The session the Databricks Runtime creates before the job's task runs.
spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
spark.sparkContext.setLogLevel("ERROR")
os.environ["DATABRICKS_RUNTIME_VERSION"] = "17.3"
for name in ("DATABRICKS_TOKEN", "DATABRICKS_HOST", "DATABRICKS_CLUSTER_ID", "SPARK_REMOTE",
             "HARNESS_BACKEND"):
    os.environ.pop(name, None)
entry = importlib.util.spec_from_file_location("entry", sys.argv[1])
module = importlib.util.module_from_spec(entry)
entry.loader.exec_module(module)
code = module.main(sys.argv[2:])
from harness.backends import get_spark
print("RESULT " + json.dumps({
    "code": code,
    "same_session": get_spark("databricks") is spark,
    "still_active": SparkSession.getActiveSession() is spark,
    "connect_imported": any(m.startswith("databricks") for m in sys.modules),
}))
"""


@pytest.mark.local_only("a child process with a local session of its own")
def test_the_jobs_nightly_on_a_simulated_runtime_uses_the_clusters_session(
    tmp_path: Path,
) -> None:
    """The bundle's task as the job runs it (deploy/databricks_nightly.py with the bundle's
    parameters, a local golden root and the sample data in place of the Volume and full)."""
    root = copy_project(tmp_path / "proj")
    (root / "deploy").mkdir()
    entry = root / "deploy" / "databricks_nightly.py"
    entry.write_text((REPO / "deploy" / "databricks_nightly.py").read_text())
    child = tmp_path / "runtime_child.py"
    child.write_text(textwrap.dedent(RUNTIME_CHILD))
    out = tmp_path / "reports"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "PYTEST_"))}
    env.update(
        HARNESS_WORKDIR=str(root / ".harness"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    params = ["--golden-root", str(root / "golden"), "--dataset", "sample", "--scale", "1.0"]
    params += ["--out", str(out), "--workers", "0"]
    proc = subprocess.run(
        [sys.executable, str(child), str(entry), *params],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT ") :])
    assert result == {
        "code": 0,
        "same_session": True,
        "still_active": True,
        "connect_imported": False,
    }, proc.stdout[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["run"]["backend"] == "databricks"
    assert [m["status"] for m in summary["models"]] == ["passed"]
    assert (out / "junit.xml").is_file() and (out / "report.html").is_file()
