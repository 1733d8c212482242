"""The pytest plugin's per-process state: one Spark session, one run per model x dataset,
one comparison per output, and the one retry of a model whose session was lost.

Every generated test asks this object for its model's run or output's comparison, so a
model runs once per process however many tests use it. In the controller the same object
also hears every test's report (registered as a plugin), so the run summary can never call
passed what pytest failed, such as a model whose xdist worker crashed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import pytest

from harness import api
from harness.errors import GoldenError, HarnessError, first_line
from harness.golden import GoldenRef
from harness.pytest_options import chosen_backend, golden_root
from harness.pytest_options import opt as _opt
from harness.report.records import ModelRecord
from harness.spec import DATASETS, SPEC_FILE

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from harness.backends import ConnectServer
    from harness.backends.watchdog import ServerWatchdog
    from harness.workflows.resume import ResumePlan

T = TypeVar("T")


class HarnessState:
    """Per-process cache: one Spark session, one run per model x dataset, one compare
    per output."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.server: ConnectServer | None = None
        self.watchdog: ServerWatchdog | None = None
        self.project = api.Project.find(config.rootpath, golden=golden_root(config))
        self._spark: SparkSession | None = None
        self.runs: dict[tuple[str, str], api.ModelRun | HarnessError] = {}
        self.comparisons: dict[tuple[str, str, str], api.OutputComparison | HarnessError] = {}
        self.records: dict[tuple[str, str], ModelRecord] = {}
        self.updated: list[str] = []
        self.retried: dict[tuple[str, str], str] = {}  # model x dataset -> the fault
        self.resume: ResumePlan | None = None  # --harness-resume: what the last run settled
        # What pytest itself reported failed, per model x dataset (controller): the summary
        # must never call passed what pytest did not (a crashed xdist worker, say).
        self.pytest_failures: dict[tuple[str, str], str] = {}

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

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Remember every generated test pytest calls failed, with its first line (for a
        worker that crashed while running it, xdist's report says which)."""
        pair = pair_of(report.nodeid) if report.failed else None
        if pair is None:
            return
        text = str(report.longrepr or "").strip()
        line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "failed")
        if "crashed while running" in text:
            line = line.replace("'", "")  # worker gw0 crashed while running suites/...
        self.pytest_failures.setdefault(pair, f"{report.nodeid.split('::')[-1]}: {line}")

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
            try:
                self.runs[key] = self._retried(key, lambda: self._run(model, dataset))
            except HarnessError as exc:
                self.runs[key] = exc
                self.record(model, dataset).record_error(str(exc))
        found = self.runs[key]
        if isinstance(found, HarnessError):
            raise found
        return found

    def _run(self, model: str, dataset: str) -> api.ModelRun:
        spec = self.project.model(model)
        run = api.run_model(self.spark, self.project, spec, dataset, scale=self.scale())
        from harness.fingerprint import engine_versions

        self.record(model, dataset).record_run(run, engine_versions(self.spark, r=spec.uses_r))
        return run

    def _retried(self, key: tuple[str, str], attempt: Callable[[], T]) -> T:
        """``attempt()``, and once more on a new session when the first lost its session
        (a Connect server restarted under it): the model's record says after what. A second
        loss, or any other error, is the model's error, naming the fault."""
        from harness.backends.recovery import last_event, lost_session

        try:
            return attempt()
        except Exception as exc:
            fault = lost_session(exc)
            if fault is None:
                raise
            if key in self.retried:
                again = f"{fault} (again, after a retry for: {self.retried[key]})"
                raise HarnessError(again) from None
            fault = last_event() or fault
        self.retried[key] = fault
        self.record(*key).retried_after = fault
        self._renew_spark()
        try:
            return attempt()
        except HarnessError as exc:
            raise HarnessError(f"{first_line(exc)} (on the retry after: {fault})") from None
        except Exception as exc:
            again = lost_session(exc) or f"{type(exc).__name__}: {first_line(exc)}"
            raise HarnessError(f"{again} (on the retry after: {fault})") from None

    def _renew_spark(self) -> None:
        """Forget the lost session and everything made in it: the next use builds a new one
        once the server answers again (bounded wait), and models run again from scratch."""
        from harness.backends import stop_spark
        from harness.backends.recovery import wait_for_server

        if self._spark is not None:
            api.forget_scratch_database(self._spark)
        stop_spark()
        self._spark = None
        self.runs = {k: v for k, v in self.runs.items() if isinstance(v, HarnessError)}
        self.comparisons = {
            k: v for k, v in self.comparisons.items() if isinstance(v, HarnessError)
        }
        url = _opt(self.config, "remote") or os.environ.get("SPARK_REMOTE")
        if url and chosen_backend(self.config) != "local":
            wait_for_server(url)

    def compare(self, model: str, dataset: str, output: str) -> api.OutputComparison:
        key = (model, dataset, output)
        if key not in self.comparisons:
            rec = self.record(model, dataset)
            try:
                compared = self._retried(
                    (model, dataset), lambda: self._compare(model, dataset, output)
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

    def _compare(self, model: str, dataset: str, output: str) -> api.OutputComparison:
        run = self.run(model, dataset)
        if _opt(self.config, "update-golden"):
            self._update(run, output)
        store = self.project.store(self.spark)
        return api.compare_output(self.spark, store, run, output, rtol=_opt(self.config, "rtol"))

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


def pair_of(nodeid: str) -> tuple[str, str] | None:
    """The model x dataset of a generated test's node id
    (``suites/<model>/model.yaml::<model>::<dataset>-<what>``), else None."""
    parts = nodeid.split("::")
    if len(parts) != 3 or not parts[0].endswith(SPEC_FILE):
        return None
    dataset = parts[2].split("-", 1)[0]
    return (parts[1], dataset) if dataset in DATASETS else None
