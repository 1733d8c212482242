"""The harness as a Python API: what the pytest plugin and the CLI both call.

Usage:
    project = Project.find()
    spec = project.model("adoption_rate")
    run = run_model(spark, project, spec, "sample")          # inputs -> checks -> model
    outcome = compare_output(spark, project.store(spark), run, "rates")   # golden -> compare
    print(format_comparison(outcome.comparison))       # harness.report.text
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from harness import fingerprint as fp
from harness.backends import sees_local_files
from harness.compare import compare
from harness.ddl import schema_problems
from harness.errors import (
    HarnessError,
    ModelRunError,
    OutputSchemaError,
    SpecError,
    first_line,
)
from harness.explain.attribute import hints, with_error_causes
from harness.fixtures import (
    Bundle,
    CheckResult,
    checked,
    full_rows,
    load_bundle,
    load_full,
    load_sample,
)
from harness.golden import ROOT_ENV, GoldenRef, GoldenStore, is_uri
from harness.outcomes import ModelRun, OutputComparison
from harness.runners import Platform, RunResult, run_steps
from harness.spec import DATASETS, ModelSpec, discover
from harness.workdir import outputs_dir


class DataQualityError(HarnessError):
    """An input failed an error-severity check: the model is not run on bad data."""


@dataclass
class Project:
    """Where the suites, fixtures and goldens of a repository live."""

    root: Path
    suites: Path
    fixtures: Path
    golden: Path | str  # a folder, or a URI the cluster reads and writes (golden.is_uri)
    _models: dict[str, ModelSpec] | None = None

    @classmethod
    def find(cls, root: Path | str | None = None, *, golden: Path | str | None = None) -> Project:
        base = Path(root or os.environ.get("HARNESS_ROOT") or Path.cwd()).resolve()
        for candidate in (base, *base.parents):
            if (candidate / "suites").is_dir() and (candidate / "fixtures").is_dir():
                base = candidate
                break
        golden = golden or os.environ.get(ROOT_ENV) or base / "golden"
        return cls(
            base,
            base / "suites",
            base / "fixtures",
            golden if is_uri(golden) else Path(golden).resolve(),
        )

    @property
    def models(self) -> dict[str, ModelSpec]:
        if self._models is None:
            self._models = discover(self.suites)
        return self._models

    def model(self, name: str) -> ModelSpec:
        if name not in self.models:
            raise SpecError(
                f"unknown model '{name}'; models in {self.suites}: "
                f"{', '.join(sorted(self.models)) or '(none)'}"
            )
        return self.models[name]

    def store(self, spark: SparkSession | None = None) -> GoldenStore:
        """The golden store; a store at a URI does its I/O through ``spark`` (or, for the
        commands that bring none, the session the store opens on first need)."""
        return GoldenStore(self.golden, (lambda: spark) if spark is not None else None)


_SCRATCH: dict[int, str] = {}
_SESSIONS = itertools.count(1)  # this process's sessions, in order


def scratch_database(spark: SparkSession) -> str:
    """Make a private database current, so tables that SQL steps create never collide with
    another worker's on a shared Spark Connect server or cluster. One per session, numbered:
    a session rebuilt after its server restarted never meets the folders the lost one left
    in the warehouse."""
    key = id(spark)
    if key not in _SCRATCH:
        raw = f"harness_{socket.gethostname()}_{os.getpid()}_{next(_SESSIONS)}".lower()
        name = re.sub(r"[^a-z0-9_]", "_", raw)
        spark.sql(f"CREATE DATABASE IF NOT EXISTS `{name}`")
        _SCRATCH[key] = name
    spark.catalog.setCurrentDatabase(_SCRATCH[key])
    return _SCRATCH[key]


def forget_scratch_database(spark: SparkSession) -> str | None:
    """Forget a lost session's scratch database (its server is gone: nothing to drop), so a
    new session that happens to get the same ``id`` gets a database of its own."""
    return _SCRATCH.pop(id(spark), None)


def drop_scratch_database(spark: SparkSession) -> None:
    name = forget_scratch_database(spark)
    if name:
        with contextlib.suppress(Exception):  # the session may already be gone at shutdown
            spark.sql(f"DROP DATABASE IF EXISTS `{name}` CASCADE")


def input_bundles(project: Project, spec: ModelSpec) -> dict[str, Bundle]:
    """The fixture bundle of each of the model's inputs (read and verified; no Spark)."""
    return {t: load_bundle(project.fixtures, i.fixture, i.version) for t, i in spec.inputs.items()}


def current_fingerprint(project: Project, spec: ModelSpec) -> dict[str, Any]:
    """What a run of the model would record as its bundle fingerprint now, without running
    it: spec, code, fixture manifests, installed package versions."""
    return fp.compute(spec, input_bundles(project, spec))


def load_inputs(
    spark: SparkSession, project: Project, spec: ModelSpec, dataset: str, *, scale: float = 1.0
) -> tuple[dict[str, DataFrame], dict[str, Bundle]]:
    if dataset not in DATASETS:
        raise SpecError(f"unknown dataset '{dataset}' (use {', '.join(DATASETS)})")
    if dataset not in spec.datasets:
        raise SpecError(
            f"{spec.spec_path}: model {spec.name} does not run on '{dataset}' "
            f"(datasets: {', '.join(spec.datasets)})"
        )
    bundles = input_bundles(project, spec)
    frames = {}
    if dataset == "sample":
        for table, bundle in bundles.items():
            frames[table] = load_sample(spark, bundle)
    else:
        rows = {t: full_rows(b, scale) for t, b in bundles.items() if b.recipe is not None}
        rows.update({b.name: rows[t] for t, b in bundles.items() if b.recipe is not None})
        rows.update(_referenced_rows(project, bundles, rows, scale))
        cache = sees_local_files(spark)
        for table, bundle in bundles.items():
            frames[table] = load_full(spark, bundle, scale=scale, other_rows=rows, cache=cache)
    return frames, bundles


def _referenced_rows(
    project: Project, bundles: dict[str, Bundle], known: dict[str, int], scale: float
) -> dict[str, int]:
    """Row counts of fixtures that recipes reference (${rows:customers}) but the model does
    not read: their newest version decides, so foreign keys stay within range."""
    out: dict[str, int] = {}
    for bundle in bundles.values():
        for expr in bundle.recipe.columns.values() if bundle.recipe else ():
            for name in re.findall(r"\$\{rows:([A-Za-z0-9_]+)\}", expr):
                if name in known or name in out:
                    continue
                versions = sorted(
                    (p.name for p in (project.fixtures / name).glob("*") if p.is_dir()),
                    key=lambda v: (len(v), v),
                )
                if versions:
                    other = load_bundle(project.fixtures, name, versions[-1])
                    if other.recipe is not None:
                        out[name] = full_rows(other, scale)
    return out


def input_checks(
    spark: SparkSession,
    inputs: dict[str, DataFrame],
    bundles: dict[str, Bundle],
    dataset: str,
    *,
    scale: float = 1.0,
) -> dict[str, list[CheckResult]]:
    """Each input's data-quality checks. A generated table that load_full cached on this
    machine (full data, a backend that sees its files) reuses the results kept beside it."""
    cached = dataset != "sample" and sees_local_files(spark)
    out = {}
    for table, df in inputs.items():
        bundle = bundles[table]
        rows = full_rows(bundle, scale) if cached and bundle.recipe is not None else None
        out[table] = checked(df, table, bundle, rows=rows)
    return out


def run_model(
    spark: SparkSession,
    project: Project,
    spec: ModelSpec,
    dataset: str,
    *,
    platform: str | Platform = "spark",
    scale: float = 1.0,
    check_inputs: bool = True,
    materialize: bool = True,
) -> ModelRun:
    """Build inputs, check their quality, run the model. Outputs stay lazy (Spark)."""
    started = time.perf_counter()
    scratch_database(spark)
    inputs, bundles = load_inputs(spark, project, spec, dataset, scale=scale)
    timings = {"inputs": time.perf_counter() - started}
    checks: list[CheckResult] = []
    rows_in: dict[str, int] = {}
    if check_inputs:
        for table, results in input_checks(spark, inputs, bundles, dataset, scale=scale).items():
            checks += results
            rows_in[table] = results[0].rows if results else inputs[table].count()
        errors = [c for c in checks if c.severity == "error" and not c.ok]
        if errors:
            raise DataQualityError(
                f"model {spec.name} not run: input data fails its checks on '{dataset}': "
                + "; ".join(c.line() for c in errors)
            )
    chosen = platform if isinstance(platform, Platform) else Platform(platform, spec)
    mark = time.perf_counter()
    timings["checks"] = mark - started - timings["inputs"]
    try:
        result: RunResult = run_steps(spark, spec, inputs, platform=chosen)
    except ModelRunError as exc:  # name the construct that can raise it, if lint finds one
        raise ModelRunError(with_error_causes(spec, str(exc))) from None
    timings["steps"] = time.perf_counter() - mark
    mark = time.perf_counter()
    outputs, rows_out = dict(result.outputs), {}
    if materialize and sees_local_files(spark):
        # Run the model once, here: the comparison then reads Parquet (and a failing one can
        # fetch its examples without re-running the model), and run and compare times are
        # measured apart. The files stay for inspection under .harness/outputs/.
        base = outputs_dir(project.root) / spec.name / dataset / chosen.name
        for name, df in result.outputs.items():
            try:
                df.write.mode("overwrite").parquet(str(base / name))
            except Exception as exc:
                message = f"model {spec.name} failed producing '{name}': {first_line(exc)}"
                raise ModelRunError(with_error_causes(spec, message)) from None
            outputs[name] = spark.read.parquet(str(base / name))
            rows_out[name] = outputs[name].count()
    timings["materialize"] = time.perf_counter() - mark
    timings.update({f"r.{part}": seconds for part, seconds in result.r_timings.items()})
    return ModelRun(
        spec,
        dataset,
        chosen.name,
        outputs,
        bundles,
        checks,
        rows_in,
        fp.compute(spec, bundles),
        time.perf_counter() - started,
        result.notes,
        rows_out,
        result.step_output,
        timings,
        result.r_peak_mb,
    )


def tolerances(spec: ModelSpec, output: str, rtol: float | None = None) -> dict[str, Any]:
    """The compare() keyword arguments an output's spec asks for (``rtol`` overrides all)."""
    out = spec.outputs[output]
    columns = {c: t.as_dict() for c, t in out.columns.items()}
    if rtol is not None:
        columns = {c: {**t, "rtol": rtol} for c, t in columns.items()}
    return {
        "keys": list(out.keys),
        "rtol": out.rtol if rtol is None else rtol,
        "atol": out.atol,
        "column_tolerances": columns,
        "ignore_columns": list(out.ignore),
        "type_policy": out.type_policy,
    }


def check_declared_schema(run: ModelRun, output: str) -> None:
    """The output has the columns and types its spec declares (``outputs.<name>.schema``),
    if it declares any; otherwise one error naming the model, output and column."""
    expected = run.spec.outputs[output].schema
    if not expected:
        return
    actual = [(f.name, f.dataType.simpleString()) for f in run.outputs[output].schema.fields]
    problems = schema_problems(expected, actual)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise OutputSchemaError(
            f"{run.spec.spec_path}: outputs.{output}.schema: model "
            f"{run.spec.name} output '{output}': {problems[0]}{more}"
        )


def compare_output(
    spark: SparkSession,
    store: GoldenStore,
    run: ModelRun,
    output: str,
    *,
    rtol: float | None = None,
    strict: bool = False,
) -> OutputComparison:
    """Check one output's declared schema, then compare it with its verified golden.
    ``strict`` drops per-column overrides."""
    check_declared_schema(run, output)
    ref = GoldenRef(run.spec.name, run.dataset, output)
    golden, manifest = store.read(spark, ref)
    started = time.perf_counter()
    kwargs = tolerances(run.spec, output, rtol)
    if strict:
        kwargs["column_tolerances"] = {}
    result = compare(golden, run.outputs[output], **kwargs)
    changes = fp.changes(manifest["provenance"].get("fingerprint"), run.fingerprint)
    result.hints = hints(result.to_dict(), run.spec, output)
    return OutputComparison(output, result, manifest, changes, time.perf_counter() - started)


def write_golden(
    spark: SparkSession,
    store: GoldenStore,
    run: ModelRun,
    output: str,
    *,
    source: str,
    reason: str = "",
    engine: dict[str, str] | None = None,
    changes: dict[str, Any] | None = None,
    platform: Platform | None = None,
    candidate: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write one output of ``run`` as a new golden version. ``changes`` (what it changes
    against the version it replaces, :mod:`harness.refresh`), ``extra`` and, for a legacy
    capture, the catalogue rules ``platform`` emulated or not go into its provenance.
    ``candidate`` names the version a proposal is written as, not put in force
    (``harness propose``; :mod:`harness.workflows.approval`)."""
    check_declared_schema(run, output)  # a golden of the wrong shape is never written
    emulation: dict[str, Any] = {}
    if source == "legacy-emulation":
        emulation["note"] = (
            "emulated legacy platform: Spark with the Hive semantics the catalogue can "
            "emulate (settings, Hive UDFs; see emulated_rules), not the real HDInsight cluster"
        )
    if platform is not None and platform.name == "legacy":
        emulation["emulated_rules"] = list(platform.emulated_rules)
        emulation["not_emulated_rules"] = list(platform.not_emulated_rules)
        emulation["steps"] = platform.step_semantics(run.spec)
    return store.write(
        spark,
        run.outputs[output],
        GoldenRef(run.spec.name, run.dataset, output),
        keys=list(run.spec.outputs[output].keys),
        provenance={
            "source": source,
            "reason": reason,
            "platform": run.platform,
            "fingerprint": run.fingerprint,
            "engine": engine or fp.engine_versions(spark, r=run.spec.uses_r),
            **({"changes": changes} if changes is not None else {}),
            **emulation,
            **(extra or {}),
        },
        candidate=candidate is not None,
        version=candidate,
    )


def capture(
    spark: SparkSession,
    project: Project,
    spec: ModelSpec,
    dataset: str,
    *,
    scale: float = 1.0,
    only_missing: bool = True,
    reason: str = "",
) -> list[str]:
    """Capture goldens by running the model on the emulated legacy (Hive) platform."""
    store = project.store(spark)
    wanted = [
        o
        for o in spec.outputs
        if not (only_missing and store.exists(GoldenRef(spec.name, dataset, o)))
    ]
    if not wanted:
        return []
    legacy = Platform("legacy", spec)
    with legacy.active(spark):
        run = run_model(spark, project, spec, dataset, platform=legacy, scale=scale)
        for output in wanted:
            write_golden(
                spark,
                store,
                run,
                output,
                source="legacy-emulation",
                reason=reason or "captured from the emulated legacy platform",
                platform=legacy,
            )
    return wanted
