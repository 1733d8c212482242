"""The harness's own tests; pytester runs generated suites on throwaway project copies."""

from __future__ import annotations

import pytest
from real_run import RealRun, real_run

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def real_summary_run(tmp_path_factory: pytest.TempPathFactory) -> RealRun:
    """One real, partly failing parity run (see tests/real_run.py), shared by the report
    tests. Mark tests using it ``xdist_group("real_run")`` so it runs once."""
    return real_run(tmp_path_factory.mktemp("real-run") / "proj")
