"""A real parity run on a scratch copy of the repository, for the report tests.

The report tests render what the plugin actually records, not a hand-written summary: this
copies three models, breaks them in known ways and runs them through pytest with
``--report-dir``, once per test process. What it contains:

* ``adoption_rate`` on ``sample``: code and parameter changed since its golden (values
  differ, months missing, and some region keys are now a ``<script>`` string); on ``full``
  (scale 0.001, no golden): an error per output. One model, two datasets.
* ``propensity_glm`` (an R model) on ``sample``: one output compared and passing, the other
  deselected with ``-k``, so the model is "partial".
* ``crashed_model``: its SQL names a column called ``<script>...``: the run fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from project_copy import REPO, copy_project

XSS = "<script>document.title='pwned'</script>"
K = "not propensity_coefficients and not (propensity_glm and full) and not (crashed_model and full)"


@dataclass
class RealRun:
    root: Path
    summary: dict[str, Any]
    stdout: str


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path}: '{old}' not found"
    path.write_text(text.replace(old, new))


def make_project(root: Path) -> Path:
    copy_project(root, ("adoption_rate", "propensity_glm"))
    model = root / "suites" / "adoption_rate"
    hql = model / "adoption_rate.hql"
    _edit(hql, "AVG(p.base_premium *", "AVG(1.0000001 * p.base_premium *")
    _edit(
        hql,
        "       c.region,\n",
        f"       CASE WHEN c.region = 'north' THEN \"{XSS}\" ELSE c.region END AS region,\n",
    )
    _edit(model / "model.yaml", 'start_date: "2024-01-01"', 'start_date: "2024-02-01"')
    crashed = root / "suites" / "crashed_model"
    shutil.copytree(model, crashed)
    (crashed / "adoption_rate.hql").rename(crashed / "crashed.hql")
    _edit(crashed / "crashed.hql", "JOIN customer_dedup c", f"JOIN customer_dedup c -- {XSS}")
    _edit(
        crashed / "crashed.hql",
        "date_format(k.contact_date, 'yyyy-MM') AS month",
        f"k.`{XSS}` AS month",
    )
    _edit(crashed / "model.yaml", "name: adoption_rate", "name: crashed_model")
    _edit(crashed / "model.yaml", "sql: adoption_rate.hql", "sql: crashed.hql")
    return root


def real_run(root: Path) -> RealRun:
    make_project(root)
    out = root / "reports"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "suites",
        "-p",
        "no:randomly",
        "-q",
        "--harness-dataset",
        "all",
        "--harness-scale",
        "0.001",
        "--harness-report-dir",
        str(out),
        f"--junitxml={out / 'junit.xml'}",  # as the nightly writes it
        "-o",
        "junit_family=xunit2",
        "-k",
        K,
    ]
    env = {
        **os.environ,
        "HARNESS_WORKDIR": str(root / ".harness"),
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=900)
    summary_path = out / "summary.json"
    assert summary_path.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return RealRun(root, json.loads(summary_path.read_text()), proc.stdout)
