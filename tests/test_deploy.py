"""The Databricks deployment, checked as far as this machine can: the bundle's structure
(databricks.yml), the init script generated from the specs' packages (its syntax with
``bash -n`` and shellcheck, that the committed copy is current, what the dry run lists),
and the script's installers run for real where nothing needs downloading."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from project_copy import REPO, copy_project

from harness import api, deploy
from harness.cli import build_parser
from harness.cli import main as cli
from harness.cli.nightly import cmd_nightly
from harness.errors import SpecError

BUNDLE = REPO / "databricks.yml"
INIT_SCRIPT = REPO / "deploy" / "databricks-init.sh"


@pytest.fixture(scope="module")
def bundle() -> dict:
    return yaml.safe_load(BUNDLE.read_text())


def resolve(value: str, bundle: dict) -> str:
    """``${var.x}`` replaced by the variable's default (what a deploy without overrides uses)."""
    return re.sub(
        r"\$\{var\.(\w+)\}", lambda m: str(bundle["variables"][m.group(1)]["default"]), value
    )


def test_bundle_defines_the_nightly_job_on_a_job_cluster(bundle):
    assert bundle["bundle"]["name"]
    assert any(t.get("default") for t in bundle["targets"].values())
    for name in ("spark_version", "node_type_id"):
        assert bundle["variables"][name]["default"], name
    (job,) = bundle["resources"]["jobs"].values()
    clusters = {c["job_cluster_key"]: c["new_cluster"] for c in job["job_clusters"]}
    for cluster in clusters.values():
        assert cluster["spark_version"] == "${var.spark_version}"
        assert cluster["node_type_id"] == "${var.node_type_id}"
        (init,) = cluster["init_scripts"]
        destination = init["workspace"]["destination"]
        assert destination.startswith("${workspace.file_path}/")
        assert (REPO / destination.split("/", 1)[1]).resolve() == INIT_SCRIPT
    (task,) = job["tasks"]
    assert task["job_cluster_key"] in clusters
    entry = REPO / task["spark_python_task"]["python_file"]
    assert entry.is_file()


def test_the_jobs_task_runs_harness_nightly(bundle, monkeypatch):
    """The entry file hands the task's parameters to ``harness nightly``, and the harness's
    own parser accepts them."""
    (job,) = bundle["resources"]["jobs"].values()
    (task,) = job["tasks"]
    params = [resolve(str(p), bundle) for p in task["spark_python_task"]["parameters"]]
    spec = importlib.util.spec_from_file_location(
        "databricks_nightly", REPO / task["spark_python_task"]["python_file"]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    seen: list[list[str]] = []
    monkeypatch.setattr("harness.cli.main", lambda argv: seen.append(argv) or 0)
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert module.main(params) == 0
    (argv,) = seen
    args = build_parser().parse_args(argv)
    assert args.command == "nightly" and args.run is cmd_nightly
    assert args.backend == "databricks" and args.dataset == "full" and args.workers == "0"
    assert args.capture == "never" and not args.pytest_args  # production never emulates
    assert args.golden_root == bundle["variables"]["golden_root"]["default"]
    assert Path(args.root) == REPO
    assert module.main([*params, "--capture", "emulated"]) == 2  # refused, nothing run
    assert len(seen) == 1


def test_bundle_keeps_goldens_in_a_volume_and_needs_no_token(bundle):
    """The job's goldens are at a Unity Catalog Volume the cluster reads and writes (Spark
    does every read and write), its reports in a Volume; no secret, host or token anywhere:
    the task uses the cluster's own session."""
    from harness.golden import storage_for
    from harness.golden.cluster import ClusterStorage

    root = bundle["variables"]["golden_root"]["default"]
    assert re.fullmatch(r"dbfs:/Volumes/\w+/\w+/\w+/golden", root), root
    assert isinstance(storage_for(root), ClusterStorage)
    assert bundle["variables"]["reports_dir"]["default"].startswith("/Volumes/")
    text = BUNDLE.read_text()
    assert "DATABRICKS_TOKEN" not in text and "secrets/" not in text and "secret_scope" not in text
    (job,) = bundle["resources"]["jobs"].values()
    (cluster,) = [c["new_cluster"] for c in job["job_clusters"]]
    assert cluster["driver_node_type_id"] == "${var.driver_node_type_id}"
    assert bundle["variables"]["driver_node_type_id"]["default"]
    assert not any(k.startswith("DATABRICKS_") for k in cluster["spark_env_vars"])


def generated(root: Path = REPO) -> list[deploy.Package]:
    project = api.Project.find(root)
    return deploy.declared_packages(
        project.models, deploy.harness_requirements(root / "pyproject.toml")
    )


def test_committed_init_script_is_current():
    assert INIT_SCRIPT.read_text() == deploy.init_script(generated()), (
        "deploy/databricks-init.sh is out of date: run "
        "harness databricks init-script --out deploy/databricks-init.sh"
    )


def test_dry_run_lists_every_declared_package(capsys):
    assert cli(["--root", str(REPO), "databricks", "init-script", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {(ln.split()[0], ln.split()[1].split("[")[0]): ln for ln in lines}
    project = api.Project.find(REPO)
    for name, spec in project.models.items():
        for language, packages in spec.packages.items():
            for package in packages:
                row = rows[(language, package)]
                assert name in row, row
    assert "skip (base R" in rows[("r", "stats")]
    assert "skip (the Databricks Runtime" in rows[("python", "pyspark")]
    assert "install >=0.14" in rows[("python", "statsmodels")]
    assert "install >=2.2,<3" in rows[("python", "pandas")]  # the harness's pin, merged


def pinned_project(tmp_path: Path) -> Path:
    """A project whose model pins Python and R packages (the repo's models pin no R package)."""
    root = copy_project(tmp_path / "proj")
    spec = root / "suites" / "adoption_rate" / "model.yaml"
    text = re.sub(r"(?m)^packages:\n(  .*\n)*", "", spec.read_text())
    spec.write_text(
        text + "packages:\n  python: {numpy: '>=1.26', 'scikit-learn': '==1.5.2'}\n"
        "  r: {data.table: '>= 1.14.8', glmnet: '== 4.1-8', stats: '*', forecast: '*'}\n"
    )
    return root


def test_generated_script_installs_pinned_python_and_r_packages(tmp_path):
    script = deploy.init_script(generated(pinned_project(tmp_path)))
    assert script.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in script
    assert "  scikit-learn==1.5.2\n" in script and "'numpy>=1.26'" in script
    assert "r_install data.table '>= 1.14.8'" in script
    assert "r_install glmnet '== 4.1-8'" in script
    assert "r_install forecast '*'" in script
    assert "# stats: skipped (base R" in script and "r_install stats" not in script
    commands = [ln for ln in script.splitlines() if not ln.lstrip().startswith("#")]
    assert not any("pyspark" in ln for ln in commands)


@pytest.mark.parametrize("which", ["committed", "pinned"])
def test_script_syntax_bash_and_shellcheck(which, tmp_path):
    path = INIT_SCRIPT
    if which == "pinned":
        path = tmp_path / "init.sh"
        path.write_text(deploy.init_script(generated(pinned_project(tmp_path))))
    proc = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (bash scripts/setup.sh installs it)")
    proc = subprocess.run(["shellcheck", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_script_runs_and_is_idempotent_where_everything_is_installed(tmp_path):
    """The committed script with this environment's pip (every package already satisfied,
    so nothing is downloaded), twice; and its R installer on base R's own packages."""
    env = {"PATH": "/usr/bin:/bin", "PIP": str(Path(sys.executable).with_name("pip"))}
    for _ in range(2):
        proc = subprocess.run(["bash", str(INIT_SCRIPT)], env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "packages installed" in proc.stdout
    if shutil.which("Rscript") is None:
        pytest.skip("R is not installed (bash scripts/setup.sh installs it)")
    r_part = tmp_path / "r.sh"
    r_part.write_text(
        "set -euo pipefail\n" + deploy.R_INSTALLER + "r_install stats '>= 4.0, < 99.0'\n"
        "r_install utils '*'\n"
    )
    proc = subprocess.run(["bash", str(r_part)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "R stats" in proc.stderr and "present" in proc.stderr


def test_bad_version_spec_is_one_line_naming_the_field(tmp_path):
    root = copy_project(tmp_path / "proj")
    spec = root / "suites" / "adoption_rate" / "model.yaml"
    spec.write_text(
        re.sub(r"(?m)^packages:\n(  .*\n)*", "", spec.read_text())
        + "packages:\n  r: {glmnet: 'latest; rm -rf /'}\n"
    )
    with pytest.raises(SpecError, match=r"adoption_rate/model.yaml: packages.r.glmnet: version"):
        generated(root)
