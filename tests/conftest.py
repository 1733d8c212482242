"""The harness's own tests; pytester runs generated suites on throwaway project copies.

They run on the backend the run was given (``--harness-backend``): every test sees it as
``HARNESS_BACKEND`` (and ``SPARK_REMOTE`` for ``--harness-remote``), so the suites they run
in-process or in a child process use that backend too. Tests that need the local backend
are marked ``local_only`` and skip, with one line saying why, on any other.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from project_copy import copy_project
from real_run import RealRun, real_run

from harness.backends import get_spark
from harness.pytest_options import chosen_backend, opt

pytest_plugins = ["pytester"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "local_only(why): needs the local backend (py4j plan access, or a process of its own); "
        "skipped on --harness-backend connect/databricks",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    backend = chosen_backend(config)
    if backend == "local":
        return
    for item in items:
        marker = item.get_closest_marker("local_only")
        if marker is None:
            continue
        why = marker.args[0] if marker.args else "py4j plan access"
        item.add_marker(
            pytest.mark.skip(
                reason=f"needs the local backend ({why}); run without --harness-backend {backend}"
            )
        )


@pytest.fixture(autouse=True)
def _chosen_backend_for_children(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Suites a test runs (pytester in-process, a child harness) use this run's backend."""
    monkeypatch.setenv("HARNESS_BACKEND", chosen_backend(request.config))
    remote = opt(request.config, "remote")
    if remote:
        monkeypatch.setenv("SPARK_REMOTE", remote)


@pytest.fixture(scope="session")
def spark(pytestconfig: pytest.Config):
    """This run's session on the chosen backend, for tests that hold on any backend (a test
    module's own ``spark`` fixture overrides it)."""
    return get_spark(
        chosen_backend(pytestconfig),
        remote=opt(pytestconfig, "remote"),
        profile=opt(pytestconfig, "databricks-profile"),
    )


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway copy of the adoption_rate model with its sample golden (see
    tests/project_copy.py) and a scratch folder of its own (its outputs never meet the repo's)."""
    monkeypatch.setenv("HARNESS_WORKDIR", str(tmp_path / "proj" / ".harness"))
    return copy_project(tmp_path / "proj")


@pytest.fixture(scope="session")
def real_summary_run(tmp_path_factory: pytest.TempPathFactory) -> RealRun:
    """One real, partly failing parity run (see tests/real_run.py), shared by the report
    tests. Mark tests using it ``xdist_group("real_run")`` so it runs once."""
    return real_run(tmp_path_factory.mktemp("real-run") / "proj")
