"""The one scratch root: what HARNESS_WORKDIR moves, and the sweep of dead owners' folders."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness import fixtures, workdir


@pytest.fixture
def no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_WORKDIR", raising=False)
    monkeypatch.delenv("HARNESS_DATA_DIR", raising=False)


def test_default_root_is_the_project_or_the_checkout(no_overrides, tmp_path: Path) -> None:
    assert workdir.work_root() == workdir.CHECKOUT / ".harness"
    assert workdir.work_root(tmp_path) == tmp_path.resolve() / ".harness"
    assert workdir.outputs_dir(tmp_path) == tmp_path.resolve() / ".harness" / "outputs"
    assert workdir.spark_dir() == workdir.CHECKOUT / ".harness" / "spark"
    assert fixtures.data_dir() == workdir.CHECKOUT / ".harness" / "data"


def test_harness_workdir_moves_everything(no_overrides, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HARNESS_WORKDIR", str(tmp_path / "w"))
    root = (tmp_path / "w").resolve()
    assert workdir.work_root() == workdir.work_root(tmp_path / "project") == root
    assert workdir.spark_dir() == root / "spark"
    assert workdir.outputs_dir(tmp_path / "project") == root / "outputs"
    assert workdir.data_dir() == root / "data"
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "big-disk"))
    assert workdir.data_dir() == (tmp_path / "big-disk").resolve()


def test_sweep_removes_only_folders_of_dead_owners(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    assert not workdir.pid_alive(dead_pid)
    mine = workdir.owned_folder(tmp_path)
    server = workdir.owned_folder(tmp_path, "connect")
    assert server.name.startswith("connect-") and str(mine.name) in server.name
    doomed = [tmp_path / str(dead_pid), tmp_path / f"connect-{dead_pid}-1"]
    kept = [mine, server, tmp_path / "notes", tmp_path / "1"]  # pid 1 (init) is alive
    for folder in doomed + kept:
        folder.mkdir()
    workdir.sweep_dead_owners(tmp_path)
    assert [f.exists() for f in doomed] == [False, False]
    assert all(f.exists() for f in kept)
