"""Throwaway copies of this repository's models, for tests that run real suites on them.

One job: build the copy (the models' suites, their ``sample`` goldens, every fixture, the
project's conftest.py and pytest.ini) and run pytest on it, so a test can break the copy
without touching the repository.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def copy_project(root: Path, models: Iterable[str] = ("adoption_rate",)) -> Path:
    """A project at ``root`` holding ``models`` with their sample goldens; returns ``root``."""
    (root / "suites").mkdir(parents=True)
    for model in models:
        shutil.copytree(REPO / "suites" / model, root / "suites" / model)
        shutil.copytree(REPO / "golden" / model / "sample", root / "golden" / model / "sample")
    shutil.copytree(REPO / "fixtures", root / "fixtures")
    for name in ("conftest.py", "pytest.ini"):
        shutil.copy(REPO / name, root / name)
    return root


def run_suites(pytester: pytest.Pytester, root: Path, *args: str) -> pytest.RunResult:
    """Run the copy's suites in this process (as ``pytest suites`` from ``root``)."""
    pytester.chdir()
    os.chdir(root)
    return pytester.runpytest_inprocess(
        "-p", "no:randomly", "--rootdir", str(root), str(root / "suites"), *args
    )
