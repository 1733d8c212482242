"""The same suites on every backend, for real: a Spark Connect server started by the
plugin and shared by two xdist workers (and stopped, also when the run is interrupted),
and Databricks Connect (in its own environment) against a local Spark Connect server."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from project_copy import REPO, copy_project

from harness.backends.config import CLIENT_ONLY_ENV

DATABRICKS_PY = REPO / ".venv-databricks" / "bin" / "python"
pytestmark = [pytest.mark.backends, pytest.mark.xdist_group("backends")]


@pytest.fixture
def two_models(tmp_path: Path) -> Path:
    """A project copy with two models (adoption_rate and a renamed twin) and goldens."""
    root = copy_project(tmp_path / "proj")
    twin = root / "suites" / "adoption_twin"
    shutil.copytree(root / "suites" / "adoption_rate", twin)
    spec = twin / "model.yaml"
    spec.write_text(spec.read_text().replace("name: adoption_rate", "name: adoption_twin"))
    shutil.copytree(
        root / "golden" / "adoption_rate" / "sample", root / "golden" / "adoption_twin" / "sample"
    )
    return root


def pytest_cmd(python: Path | str, *args: str) -> list[str]:
    return [str(python), "-m", "pytest", "suites", "-p", "no:randomly", "-v", *args]


def env_for(root: Path) -> dict[str, str]:
    """Our environment for a child pytest run on ``root``: nothing of this process's own
    Connect client (the outer run may itself use one) or pytest state."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in CLIENT_ONLY_ENV and not k.startswith("PYTEST_")
    }
    env["HARNESS_WORKDIR"] = str(root / ".harness")
    return env


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def wait_gone(pid: int, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.5)
    return False


def test_connect_server_is_shared_by_two_workers_and_stopped(two_models):
    proc = subprocess.run(
        pytest_cmd(sys.executable, "--harness-backend", "connect", "-n", "2"),
        cwd=two_models,
        env=env_for(two_models),
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-2000:]
    servers = re.findall(r"Spark Connect server sc://127\.0\.0\.1:(\d+) \(pid (\d+)\)", out)
    assert len(servers) == 1, out[:2000]  # one JVM for the whole run
    workers = {w: set() for w in ("gw0", "gw1")}
    for worker, model in re.findall(r"\[(gw\d)\].*model\.yaml::(\w+)::", out):
        workers[worker].add(model)
    assert workers["gw0"] and workers["gw1"], out[-3000:]  # both workers used it
    assert not workers["gw0"] & workers["gw1"]  # each model's tests on one worker
    assert "8 passed" in out
    pid = int(servers[0][1])
    assert wait_gone(pid), f"Spark Connect server pid {pid} still running after the run"
    leftovers = list((two_models / ".harness").glob("connect*/*"))
    assert not [p for p in leftovers if p.is_dir() and any(p.iterdir())], leftovers


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_run_leaves_no_server(two_models, how):
    proc = subprocess.Popen(
        pytest_cmd(sys.executable, "--harness-backend", "connect", "-n", "2"),
        cwd=two_models,
        env=env_for(two_models),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    pid = None
    deadline = time.monotonic() + 300
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        match = re.search(r"Spark Connect server sc://127\.0\.0\.1:\d+ \(pid (\d+)\)", line)
        if match:
            pid = int(match.group(1))
            break
        if not line and proc.poll() is not None:
            break
    assert pid is not None, "".join(lines)[-3000:]
    time.sleep(5)  # let the workers start using it
    proc.send_signal(how)
    try:
        proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
    assert wait_gone(pid), f"orphaned Spark Connect JVM {pid} after {how.name}"


@pytest.mark.skipif(
    not DATABRICKS_PY.exists(),
    reason="no .venv-databricks: bash scripts/setup-databricks-env.sh creates it",
)
def test_databricks_connect_backend_against_local_server(two_models):
    from harness.backends import ConnectServer

    server = ConnectServer(workdir=two_models / ".harness" / "dbx-server")
    url = server.start()
    try:
        proc = subprocess.run(
            pytest_cmd(
                DATABRICKS_PY,
                "-k",
                "adoption_rate",
                "--harness-backend",
                "databricks",
                "--harness-remote",
                url,
                "-p",
                "no:xdist",
                "-o",
                "addopts=",
            ),
            cwd=two_models,
            env=env_for(two_models),
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        server.stop()
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-2000:]
    summary = out.strip().splitlines()[-1]
    assert "passed" in summary and "failed" not in summary and "error" not in summary, summary
    assert "backend databricks" in out
    assert "dapi" not in out and "token=" not in out  # never print credentials
