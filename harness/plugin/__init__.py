"""The pytest plugin: every ``suites/<model>/model.yaml`` becomes a parametrised suite.

For each model x dataset the plugin generates readable test ids::

    suites/adoption_rate/model.yaml::adoption_rate::sample-inputs
    suites/adoption_rate/model.yaml::adoption_rate::sample-rates-schema
    suites/adoption_rate/model.yaml::adoption_rate::sample-rates-keys
    suites/adoption_rate/model.yaml::adoption_rate::sample-rates-values
    suites/adoption_rate/model.yaml::adoption_rate::sample-determinism   (--harness-determinism)

so ``-k adoption_rate``, ``-k full`` and ``-k rates`` select the obvious tests. A model
runs once per model x dataset per session however many tests use it, and all of a
model's tests carry one ``xdist_group`` so they stay on one pytest-xdist worker.
Harness errors (missing golden, broken spec, bad data) print as one clear line.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness import api
from harness.errors import HarnessError
from harness.plugin.items import ModelFile, ModelItem
from harness.plugin.state import STARTED, STATE, HarnessState
from harness.pytest_options import (
    HarnessDeprecationWarning,
    add_options,
    apply_deprecated_options,
    chosen_backend,
    datasets_of,
    is_worker,
    worker_id,
)
from harness.pytest_options import opt as _opt
from harness.spec import SPEC_FILE

if TYPE_CHECKING:
    from harness.workflows.resume import ResumePlan


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: full-scale runs, excluded from the default run")
    config.addinivalue_line("markers", "harness: generated model parity tests")
    config.addinivalue_line("markers", "xdist_group(name): keep tests on one xdist worker")
    apply_deprecated_options(config)
    if _opt(config, "update-golden") and not _opt(config, "reason").strip():
        raise pytest.UsageError(
            "--harness-update-golden needs --harness-reason 'CR-123: why "
            "the change was approved' (it is recorded in the golden's "
            "provenance)"
        )
    state = HarnessState(config)
    config.stash[STATE] = state
    if not is_worker(config):  # the controller hears every test's report, from any worker
        config.pluginmanager.register(state, "harness-state")
    if _opt(config, "resume"):
        state.resume = resume_plan(config, state)
    wants_server = chosen_backend(config) == "connect" and not (
        _opt(config, "remote") or os.environ.get("SPARK_REMOTE")
    )
    if wants_server and not is_worker(config):
        start_server(state)


RESUME_PLAN = ".resume-plan.json"  # in the report folder: the controller's plan, for workers


def resume_plan(config: pytest.Config, state: HarnessState) -> ResumePlan:
    """The controller plans from the last run (before this run clears its parts) and leaves
    the plan for the xdist workers, which deselect what it carries over."""
    from harness.workflows.resume import ResumePlan, plan

    report_dir = _opt(config, "report-dir")
    if not report_dir:
        raise pytest.UsageError("--harness-resume needs --harness-report-dir: the run to resume")
    path = Path(report_dir) / RESUME_PLAN
    if is_worker(config):
        return ResumePlan.from_json(path.read_text())
    try:
        pairs = [
            (name, d)
            for name, spec in state.project.models.items()
            for d in datasets_of(config)
            if d in spec.datasets
        ]
        found = plan(state.project, Path(report_dir), pairs)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(found.to_json())
    for line in found.summary_lines():
        print(f"harness: {line}")
    return found


def start_server(state: HarnessState) -> None:
    """The run's own Spark Connect server, shared by every xdist worker through
    ``SPARK_REMOTE``, and its watchdog: restarted on the same URL if it dies, each death
    one line on stderr and in the events file the workers read to name the fault."""
    import sys

    from harness.backends import ConnectServer
    from harness.backends.recovery import EVENTS_ENV, record_event
    from harness.backends.watchdog import ServerWatchdog

    server = ConnectServer()
    try:
        url = server.start()
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    state.server = server
    os.environ["SPARK_REMOTE"] = url  # inherited by the xdist workers
    assert server.workdir is not None
    os.environ[EVENTS_ENV] = str(server.workdir / "events.log")

    def say(line: str) -> None:
        record_event(line)
        print(f"\nharness: {line}", file=sys.stderr, flush=True)

    state.watchdog = ServerWatchdog(server, say=say).start()


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(STATE, None)
    lines = [
        f"harness: backend {chosen_backend(config)}, datasets "
        f"{','.join(datasets_of(config))}, goldens {state.project.golden}"
        if state
        else "harness: not configured"
    ]
    if state is not None and state.server is not None:
        lines.append(
            f"harness: Spark Connect server {state.server.url} (pid {state.server.pid}) "
            "shared by all workers"
        )
    return lines


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is None:
        return
    if state.watchdog is not None:
        state.watchdog.stop()
    if state.server is not None:
        state.server.stop()
        os.environ.pop("SPARK_REMOTE", None)


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.name == SPEC_FILE and file_path.parent.parent.name == "suites":
        return ModelFile.from_parent(parent, path=file_path)
    return None


# ------------------------------------------------------------------- selection, output


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    expression = config.getoption("keyword")
    if expression and not items and not is_worker(config):
        state = config.stash[STATE]
        try:
            names = ", ".join(sorted(state.project.models))
        except HarnessError:
            names = "(suites unreadable)"
        raise pytest.UsageError(
            f"no model, dataset or output matches -k '{expression}'; models: {names}"
        )
    resume = config.stash[STATE].resume
    if resume is not None and resume.carried:
        keep: list[pytest.Item] = []
        carried: list[pytest.Item] = []
        for item in items:
            pair = (item.model, item.dataset) if isinstance(item, ModelItem) else None
            (carried if pair in resume.carried else keep).append(item)
        if carried:
            config.hook.pytest_deselected(items=carried)
            items[:] = keep


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Each process writes a model's record as each of its tests ends, so a worker that
    dies later (or a cancelled run) still leaves what it did for the summary and --resume."""
    report_dir = _opt(item.config, "report-dir")
    state = item.config.stash.get(STATE, None)
    if report_dir and state is not None and isinstance(item, ModelItem):
        from harness.report.summary import write_part

        rec = state.records.get((item.model, item.dataset))
        if rec is not None:
            write_part(Path(report_dir), rec, worker_id(item.config))


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is None:
        return
    if state.updated:
        terminalreporter.section("golden refresh")
        for line in state.updated:
            terminalreporter.write_line(line)
    notes = run_notes(config, state)
    if notes:
        terminalreporter.section("harness: faults and resume")
        for line in notes:
            terminalreporter.write_line(line)
    report_dir = _opt(config, "report-dir")
    if report_dir and not is_worker(config):
        terminalreporter.write_line(f"parity reports: {Path(report_dir).resolve()}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = config.stash.get(STATE, None)
    if state is not None and state._spark is not None:
        api.drop_scratch_database(state._spark)
    if (
        state is not None
        and state.resume is not None
        and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED
    ):
        session.exitstatus = pytest.ExitCode.OK  # everything passed last time: nothing to redo
    report_dir = _opt(config, "report-dir")
    if state is None or not report_dir:
        return
    from harness.report.summary import write_part, write_reports

    worker = worker_id(config)
    for rec in state.records.values():
        write_part(Path(report_dir), rec, worker)
    if not is_worker(config):
        engine: dict[str, str] = {}
        if state._spark is not None:
            from harness.fingerprint import engine_versions

            engine = engine_versions(state._spark)
        from harness.report.risks import migration_risks

        project = state.project
        write_reports(
            Path(report_dir),
            backend=chosen_backend(config),
            datasets=datasets_of(config),
            engine=engine,
            started=state_started(config),
            finished=time.time(),
            risks=lambda names: migration_risks(names, project.suites, project.root),
            carried=list(state.resume.carried.values()) if state.resume else [],
            pytest_failures=state.pytest_failures,
        )


def run_notes(config: pytest.Config, state: HarnessState) -> list[str]:
    """What the run met and did beyond pass/fail, from the merged summary when there is one
    (every worker's retries), else this process's own: retries, crashes, a resume."""
    from harness.report.records import RunSummary

    report_dir = _opt(config, "report-dir")
    summary = Path(report_dir) / "summary.json" if report_dir else None
    if summary is not None and summary.exists() and not is_worker(config):
        import json

        models = RunSummary.from_dict(json.loads(summary.read_text())).models
        retried = {(m.model, m.dataset): m.retried_after for m in models if m.retried_after}
    else:
        retried = dict(state.retried)
    lines = [f"{m}/{d}: retried after: {fault}" for (m, d), fault in sorted(retried.items())]
    lines += [
        f"{m}/{d}: error: pytest reported {line}"
        for (m, d), line in sorted(state.pytest_failures.items())
        if "crashed while running" in line
    ]
    if state.resume is not None:
        lines.append(state.resume.summary_lines()[0])
    return lines


def state_started(config: pytest.Config) -> float:
    return config.stash.get(STARTED, time.time())


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[STARTED] = time.time()
    report_dir = _opt(session.config, "report-dir")
    if report_dir and not is_worker(session.config):
        from harness.report.summary import clear_parts

        clear_parts(Path(report_dir))


@pytest.fixture(scope="session")
def parity(request: pytest.FixtureRequest) -> HarnessState:
    """The run's harness state, for hand-written tests beside a model's spec.

    ``parity.run(model, dataset)`` returns the (cached) model run,
    ``parity.compare(model, dataset, output)`` the cached comparison, ``parity.spark`` the
    session and ``parity.project`` the repository. Mark such tests
    ``@pytest.mark.xdist_group("<model>")`` so they share the model's worker and run.
    (Named ``parity``, not ``harness``, so it never shadows the ``harness`` package.)
    """
    return request.config.stash[STATE]


@pytest.fixture(scope="session")
def harness(parity: HarnessState) -> HarnessState:
    """Deprecated name of the ``parity`` fixture (it shadowed the ``harness`` package)."""
    import warnings

    warnings.warn(
        "the 'harness' fixture is now called 'parity'; rename it in your test",
        HarnessDeprecationWarning,
        stacklevel=2,
    )
    return parity
