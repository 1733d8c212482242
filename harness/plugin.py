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
from harness.errors import GoldenError, HarnessError
from harness.golden import GoldenRef
from harness.pytest_options import (
    HarnessDeprecationWarning,
    add_options,
    apply_deprecated_options,
    chosen_backend,
    golden_root,
    is_worker,
    worker_id,
)
from harness.pytest_options import opt as _opt
from harness.report.records import ModelRecord
from harness.spec import DATASETS, SPEC_FILE, ModelSpec, load_spec

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from harness.backends import ConnectServer

ASPECTS = ("schema", "keys", "values")  # what each output is tested on, one test each


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def datasets_of(config: pytest.Config) -> list[str]:
    wanted = _opt(config, "dataset") or ["sample"]
    return list(DATASETS) if "all" in wanted else wanted


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
    wants_server = chosen_backend(config) == "connect" and not (
        _opt(config, "remote") or os.environ.get("SPARK_REMOTE")
    )
    if wants_server and not is_worker(config):
        from harness.backends import ConnectServer

        server = ConnectServer()
        try:
            url = server.start()
        except HarnessError as exc:
            raise pytest.UsageError(str(exc)) from None
        state.server = server
        os.environ["SPARK_REMOTE"] = url  # inherited by the xdist workers


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
    if state.server is not None:
        state.server.stop()
        os.environ.pop("SPARK_REMOTE", None)


class HarnessState:
    """Per-process cache: one Spark session, one run per model x dataset, one compare
    per output."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.server: ConnectServer | None = None
        self.project = api.Project.find(config.rootpath, golden=golden_root(config))
        self._spark: SparkSession | None = None
        self.runs: dict[tuple[str, str], api.ModelRun | HarnessError] = {}
        self.comparisons: dict[tuple[str, str, str], api.OutputComparison | HarnessError] = {}
        self.records: dict[tuple[str, str], ModelRecord] = {}
        self.updated: list[str] = []

    @property
    def spark(self) -> SparkSession:
        if self._spark is None:
            from harness.backends import get_spark

            self._spark = get_spark(
                chosen_backend(self.config),
                remote=_opt(self.config, "remote"),
                profile=_opt(self.config, "databricks-profile"),
            )
        return self._spark

    def scale(self) -> float:
        value = _opt(self.config, "scale")
        return value if value is not None else float(os.environ.get("HARNESS_SCALE", "1.0"))

    def record(self, model: str, dataset: str) -> ModelRecord:
        """The model x dataset's record, listing every declared output (not checked yet)."""
        key = (model, dataset)
        if key not in self.records:
            try:
                outputs = list(self.project.model(model).outputs)
            except HarnessError:  # the run reports the spec problem itself
                outputs = []
            self.records[key] = ModelRecord.start(model, dataset, outputs)
        return self.records[key]

    def run(self, model: str, dataset: str) -> api.ModelRun:
        key = (model, dataset)
        if key not in self.runs:
            rec = self.record(model, dataset)
            try:
                spec = self.project.model(model)
                run = api.run_model(self.spark, self.project, spec, dataset, scale=self.scale())
                self.runs[key] = run
                from harness.fingerprint import engine_versions

                rec.record_run(run, engine_versions(self.spark, r=spec.uses_r))
            except HarnessError as exc:
                self.runs[key] = exc
                rec.record_error(str(exc))
        found = self.runs[key]
        if isinstance(found, HarnessError):
            raise found
        return found

    def compare(self, model: str, dataset: str, output: str) -> api.OutputComparison:
        key = (model, dataset, output)
        if key not in self.comparisons:
            rec = self.record(model, dataset)
            try:
                run = self.run(model, dataset)
                store = self.project.store(self.spark)
                if _opt(self.config, "update-golden"):
                    self._update(run, output)
                compared = api.compare_output(
                    self.spark, store, run, output, rtol=_opt(self.config, "rtol")
                )
                self.comparisons[key] = compared
                rec.record_comparison(compared)
            except HarnessError as exc:
                self.comparisons[key] = exc
                rec.record_error(str(exc), output)
        found = self.comparisons[key]
        if isinstance(found, HarnessError):
            raise found
        return found

    def _update(self, run: api.ModelRun, output: str) -> None:
        """Refresh one golden: what changed against the version it replaces (at zero
        tolerance), then a new version written atomically with that in its provenance."""
        from harness.refresh import changes_against_current, format_changes

        store = self.project.store(self.spark)
        ref = GoldenRef(run.spec.name, run.dataset, output)
        out = run.spec.outputs[output]
        if out.acceptance is not None:  # a change meant to move its numbers is reviewed
            raise GoldenError(
                f"{run.spec.spec_path}: outputs.{output} declares acceptance criteria: "
                f"--harness-update-golden refuses it; run harness propose {run.spec.name} "
                f"--dataset {run.dataset} --reason '...', review it, then harness approve"
            )
        try:
            changes = changes_against_current(
                self.spark,
                store,
                ref,
                run.outputs[output],
                keys=list(out.keys),
                type_policy=out.type_policy,
            )
            lines = format_changes(changes)
        except HarnessError as exc:
            changes, lines = None, [f"previous golden unusable: {exc}"]
        manifest = api.write_golden(
            self.spark,
            store,
            run,
            output,
            source="refresh",
            reason=_opt(self.config, "reason"),
            changes=changes,
        )
        self.updated.append(
            f"{ref} -> {manifest['version']} ({manifest['rows']:,} rows)\n    "
            + "\n    ".join(lines)
        )


STATE = pytest.StashKey[HarnessState]()
STARTED = pytest.StashKey[float]()  # when the session started, for the report


class ParityFailure(AssertionError):
    """An output differs from its golden; the message is the readable report."""


class NondeterminismFailure(AssertionError):
    """A model's outputs differ between two runs on the same inputs; the message says where."""


def checks_determinism(config: pytest.Config, spec: ModelSpec) -> bool:
    """``--harness-determinism all``, or ``spec`` and the model's spec asks for it."""
    chosen = _opt(config, "determinism")
    return chosen == "all" or (chosen == "spec" and spec.determinism)


# ------------------------------------------------------------------------- collection


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.name == SPEC_FILE and file_path.parent.parent.name == "suites":
        return ModelFile.from_parent(parent, path=file_path)
    return None


class ModelFile(pytest.File):
    def collect(self):
        try:
            spec = load_spec(self.path)
        except HarnessError as exc:
            yield SpecErrorItem.from_parent(
                self, name=f"{self.path.parent.name}-spec", error=str(exc)
            )
            return
        yield ModelSuite.from_parent(self, name=spec.name, spec=spec)


class ModelSuite(pytest.Collector):
    def __init__(self, *, spec: ModelSpec, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec

    def collect(self):
        def item(dataset: str, name: str, output: str | None, aspect: str) -> ModelItem:
            return ModelItem.from_parent(
                self,
                name=f"{dataset}-{name}",
                spec=self.spec,
                dataset=dataset,
                output=output,
                aspect=aspect,
            )

        for dataset in datasets_of(self.config):
            if dataset not in self.spec.datasets:
                continue
            yield item(dataset, "inputs", None, "inputs")
            for output in self.spec.outputs:
                for aspect in ASPECTS:
                    yield item(dataset, f"{output}-{aspect}", output, aspect)
            if checks_determinism(self.config, self.spec):  # last: it reruns the model twice
                yield item(dataset, "determinism", None, "determinism")


class ModelItem(pytest.Item):
    def __init__(self, *, spec: ModelSpec, dataset: str, output: str | None, aspect: str, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        # output None: the "inputs" and "determinism" items
        self.dataset, self.output, self.aspect = dataset, output, aspect
        self.add_marker(pytest.mark.xdist_group(spec.name))
        self.add_marker(pytest.mark.harness)
        if dataset == "full":
            self.add_marker(pytest.mark.slow)

    @property
    def model(self) -> str:
        return self.spec.name

    def runtest(self) -> None:
        state = self.config.stash[STATE]
        if self.aspect == "determinism":
            self._check_determinism(state)
            return
        if self.output is None:  # the "inputs" item
            run = state.run(self.model, self.dataset)
            warned = [c.line() for c in run.checks if not c.ok]
            for line in warned:
                self.user_properties.append(("data_quality_warning", line))
            return
        result = state.compare(self.model, self.dataset, self.output)
        cmp = result.comparison
        ok = {"schema": cmp.schema_ok, "keys": cmp.keys_ok, "values": cmp.values_ok}[self.aspect]
        if not ok:
            from harness.report.text import format_changes, format_comparison
            from harness.steplog import format_step_output

            run = state.run(self.model, self.dataset)
            text = "\n".join(
                t
                for t in (
                    format_comparison(cmp),
                    format_changes(result.fingerprint_changes),
                    format_step_output(run.step_output),
                )
                if t
            )
            raise ParityFailure(
                f"{self.model}/{self.dataset}/{self.output}: {self.aspect} "
                f"differ from the golden\n{text}"
            )

    def _check_determinism(self, state: HarnessState) -> None:
        from harness.workflows.determinism import WITHIN_TOLERANCE, check

        report = check(state.spark, state.project, self.spec, self.dataset, scale=state.scale())
        state.record(self.model, self.dataset).determinism = report.to_dict()
        if report.failed:
            raise NondeterminismFailure(report.text())
        if report.status == WITHIN_TOLERANCE:
            self.user_properties.append(("determinism", report.text()))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, (HarnessError, ParityFailure, NondeterminismFailure)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"{self.model}::{self.name}"


class SpecErrorItem(pytest.Item):
    def __init__(self, *, error: str, **kwargs):
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise HarnessError(self.error)

    def repr_failure(self, excinfo, style=None):
        return str(excinfo.value)

    def reportinfo(self):
        return self.path, None, self.name


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


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is None:
        return
    if state.updated:
        terminalreporter.section("golden refresh")
        for line in state.updated:
            terminalreporter.write_line(line)
    report_dir = _opt(config, "report-dir")
    if report_dir and not is_worker(config):
        terminalreporter.write_line(f"parity reports: {Path(report_dir).resolve()}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = config.stash.get(STATE, None)
    if state is not None and state._spark is not None:
        api.drop_scratch_database(state._spark)
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
        )


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
