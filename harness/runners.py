"""Running a model's steps (sql, python, r) on Spark, as one platform or the other.

A model is a list of steps sharing one namespace of tables: inputs are registered as
temporary views, each step reads what it needs and registers what it produces, and the
model's outputs are read back from the namespace by name.

Platforms: ``spark`` runs the code as the new platform does (Spark's defaults, ANSI on).
``legacy`` emulates the Hive platform the goldens came from with the profile of the
catalogue of Hive-to-Spark differences (``harness/catalogue.yaml``): each rule Spark
can emulate contributes its legacy settings (ANSI off: Hive turns a bad cast into NULL; the
lenient date parser; ...) or Hive's own UDF (from the hive-exec jar that pyspark ships) in
place of a Spark built-in whose results differ, e.g. ``percentile_approx``. Spark refuses to
shadow a built-in, so Hive's class is registered under its own name
(``hive_percentile_approx``) and calls are rewritten token by token, leaving the rest of the
original SQL text untouched; calls of it over one column are first merged into one call with
an array of percentiles (``harness.legacy_rewrite``: same values, one histogram). Rules of
the edge node's old R contribute R code run before each R step (the pre-3.6 sampler). A
spec's ``legacy:`` settings override the profile.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import StructType

from harness import steplog
from harness.backends import sees_local_files
from harness.catalogue import LegacyProfile, emulation, legacy_profile
from harness.errors import HarnessError, ModelRunError, first_line
from harness.legacy_rewrite import FUNCTION, merge_percentile_calls
from harness.memory import PeakMemory
from harness.rconvert import conform
from harness.spec import ModelSpec, StepSpec
from harness.sqltext import rewrite_functions, split_statements, substitute
from harness.workdir import exchange_dir

PLATFORMS = ("spark", "legacy")  # what a run emulates: the new platform or legacy Hive

# How far the legacy emulation reaches into each kind of step, as an emulated golden's
# provenance records it per step: SQL text is rewritten (Hive's UDFs) and runs under the
# legacy settings; a Python step's DataFrame API calls are Spark 4's own functions (only
# the session settings apply); an R step is R's own code, the same on both platforms but
# for the R settings the profile restores (``Platform.r_setup``: the old sampler).
STEP_EMULATION = {
    "sql": "SQL text rewritten for Hive",
    "python": "DataFrame API with Spark 4 semantics",
    "r": "R's own semantics (not emulated)",
}

# The legacy profile, from the catalogue's emulatable rules: Spark settings, and Hive
# built-ins whose Spark namesakes compute something else (name -> Hive UDF class).
_PROFILE = legacy_profile()
LEGACY_CONF = _PROFILE.conf
HIVE_FUNCTIONS = _PROFILE.functions


@dataclass
class StepTiming:
    step: str
    seconds: float


@dataclass
class RunResult:
    outputs: dict[str, DataFrame]
    timings: list[StepTiming] = field(default_factory=list)
    # Where driver-side R steps spent their time: spark_to_client (toArrow), to_r, r,
    # from_r, client_to_spark (seconds, summed over steps).
    r_timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    step_output: dict[str, str] = field(default_factory=dict)  # step name -> what it printed
    # Peak resident memory (MB) of this process during each R step run on the driver.
    r_peak_mb: dict[str, float] = field(default_factory=dict)


class Platform:
    """Session settings and SQL rewrites for running as ``spark`` or as ``legacy`` Hive."""

    def __init__(self, name: str, spec: ModelSpec):
        if name not in PLATFORMS:
            raise ModelRunError(f"unknown platform '{name}' (use {', '.join(PLATFORMS)})")
        self.name = name
        profile = (
            _PROFILE.overridden(spec.legacy_conf, spec.legacy_functions, spec.legacy_r)
            if name == "legacy"
            else LegacyProfile({}, {})
        )
        self.conf = dict(profile.conf)
        self.functions = {fn: f"hive_{fn}" for fn in profile.functions}
        self.classes = {f"hive_{fn}": cls for fn, cls in profile.functions.items()}
        # R code run before each R step: the legacy edge node's R (its sampler, ...).
        self.r_setup = profile.r
        # Catalogue rule ids this platform reproduces the legacy behaviour for, and the others.
        self.emulated_rules, self.not_emulated_rules = emulation(
            profile.conf, profile.functions, r=profile.r
        )

    def step_semantics(self, spec: ModelSpec) -> list[dict[str, str]]:
        """Per step of ``spec``: which semantics its code ran with on this platform
        (``STEP_EMULATION`` on ``legacy``; Spark 4's own on ``spark``)."""
        return [
            {
                "step": step.name or step.target,
                "kind": step.kind,
                "semantics": self._semantics(step.kind),
            }
            for step in spec.steps
        ]

    def _semantics(self, kind: str) -> str:
        if self.name != "legacy":
            return "Spark 4 semantics"
        if kind == "r" and self.r_setup:
            return f"R after the legacy edge node's settings: {'; '.join(self.r_setup)}"
        return STEP_EMULATION[kind]

    def apply(self, spark: SparkSession) -> dict[str, str | None]:
        """Set the platform's conf; returns the previous values so they can be restored."""
        previous = {}
        for key, value in self.conf.items():
            previous[key] = spark.conf.get(key, None)
            spark.conf.set(key, value)
        for name, cls in self.classes.items():
            try:
                spark.sql(f"CREATE OR REPLACE TEMPORARY FUNCTION {name} AS '{cls}'")
            except Exception as exc:
                raise ModelRunError(
                    f"legacy platform: cannot register Hive's {cls} as {name} "
                    f"({first_line(exc, 200)}); the session needs Hive support "
                    "(spark.sql.catalogImplementation=hive)"
                ) from None
        return previous

    def restore(self, spark: SparkSession, previous: dict[str, str | None]) -> None:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)

    @contextmanager
    def active(self, spark: SparkSession) -> Iterator[None]:
        previous = self.apply(spark)
        try:
            yield
        finally:
            self.restore(spark, previous)

    def sql(self, text: str) -> str:
        """The statement as this platform runs it (spark: unchanged)."""
        if FUNCTION in self.functions:  # Hive's UDAF: one histogram per column, not per call
            text = merge_percentile_calls(text)
        return rewrite_functions(text, self.functions)


# ------------------------------------------------------------------------------- steps


def _run_sql(
    spark: SparkSession,
    spec: ModelSpec,
    step: StepSpec,
    params: dict[str, Any],
    platform: Platform,
    notes: list[str],
) -> None:
    path = spec.directory / step.file
    text = substitute(path.read_text(), params, str(path))
    for n, statement in enumerate(split_statements(text), start=1):
        head = statement.split(None, 2)
        if head and head[0].upper() == "SET" and "hive." in statement.lower():
            notes.append(f"{path.name}: skipped Hive-only setting: {statement[:80]}")
            continue
        try:
            spark.sql(platform.sql(statement))  # commands (SET, DROP, CREATE) run eagerly
        except Exception as exc:
            raise ModelRunError(
                f"{path}: statement {n} failed ({platform.name} platform): {first_line(exc)}"
            ) from None


def _load_python(path: Path, function: str) -> Callable[..., Any]:
    module_name = f"harness_model_{path.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ModelRunError(f"{path}: cannot import")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ModelRunError(f"{path}: import failed: {type(exc).__name__}: {exc}") from None
    fn = getattr(module, function, None)
    if not callable(fn):
        raise ModelRunError(f"{path}: defines no function '{function}'")
    return fn


def _run_python(
    spark: SparkSession,
    spec: ModelSpec,
    step: StepSpec,
    tables: dict[str, DataFrame],
    params: dict[str, Any],
) -> dict[str, DataFrame]:
    path = spec.directory / step.file
    fn = _load_python(path, step.function or "run")
    available = {"spark": spark, "tables": tables, "params": params, **tables}
    wanted = inspect.signature(fn).parameters
    kwargs = {name: available[name] for name in wanted if name in available}
    unknown = [n for n, p in wanted.items() if n not in available and p.default is p.empty]
    if unknown:
        raise ModelRunError(
            f"{path}: {step.function}() asks for {unknown}; a python step may "
            f"take spark, tables, params or input table names {list(tables)}"
        )
    try:
        result = fn(**kwargs)
    except Exception as exc:
        raise ModelRunError(
            f"{path}: {step.function}() failed: {type(exc).__name__}: {first_line(exc)}"
        ) from None
    if isinstance(result, DataFrame) or (hasattr(result, "schema") and hasattr(result, "columns")):
        if len(step.produces) != 1:
            raise ModelRunError(
                f"{path}: {step.function}() returned one DataFrame; the step "
                f"declares produces: {list(step.produces)}"
            )
        return {next(iter(step.produces)): result}
    if not isinstance(result, dict):
        raise ModelRunError(f"{path}: {step.function}() must return a DataFrame or a dict of them")
    return result


def _run_r(
    spark: SparkSession,
    spec: ModelSpec,
    step: StepSpec,
    tables: dict[str, DataFrame],
    params: dict[str, Any],
    timings: dict[str, float],
    setup: tuple[str, ...] = (),
) -> dict[str, DataFrame]:
    from harness import rbridge

    path = spec.directory / step.file
    function = step.function or "run"
    schemas: dict[str, str] = {}  # R returns data.frames: Spark needs each output's schema
    for name, ddl in step.produces.items():
        if not ddl:  # the spec loader rejects this already
            raise ModelRunError(f"{path}: r step output {name!r} needs a schema DDL")
        schemas[name] = ddl
    if step.group_by:
        if len(tables) != 1 or len(schemas) != 1:
            raise ModelRunError(f"{path}: a per-group r step reads one table and produces one")
        ((table, df),) = tables.items()
        ((output, ddl),) = schemas.items()
        struct = _struct(spark, ddl)
        worker = rbridge.grouped_worker(
            str(path),
            function,
            json.dumps(params, default=str),
            table,
            output,
            to_arrow_schema(struct),
            setup,
        )
        return {output: df.groupBy(*step.group_by).applyInArrow(worker, struct)}
    started = time.perf_counter()
    local = {name: df.toArrow() for name, df in tables.items()}
    split = {"spark_to_client": time.perf_counter() - started}
    frames = rbridge.call(path, function, local, params, list(schemas), setup)
    split.update(rbridge.take_timings())
    started = time.perf_counter()
    out = {}
    for name, ddl in schemas.items():
        struct = _struct(spark, ddl)
        try:
            table = conform(frames[name], to_arrow_schema(struct), f"{path}: {function}()")
        except ValueError as exc:
            raise ModelRunError(str(exc)) from None
        out[name] = _to_spark(spark, table, struct)
    split["client_to_spark"] = time.perf_counter() - started
    for part, seconds in split.items():
        timings[part] = timings.get(part, 0.0) + seconds
    return out


def _to_spark(spark: SparkSession, table: pa.Table, struct: StructType) -> DataFrame:
    """An R result as a DataFrame. Where Spark reads this machine's files, through a Parquet
    file its executors read: ``createDataFrame`` would hold every row in the driver (a
    local relation; 79M rows do not fit a 4 GB driver). Elsewhere (a remote cluster) the
    rows travel with the plan."""
    if not sees_local_files(spark):
        return spark.createDataFrame(table, schema=struct)
    folder = exchange_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "part-00000.parquet"
    pq.write_table(table, target)
    return spark.read.schema(struct).parquet(str(folder))


def _struct(spark: SparkSession, ddl: str) -> StructType:
    """A step's output schema (DDL) as Spark parses it: the session does, on any backend."""
    return spark.createDataFrame([], ddl).schema


def _run_step(
    spark: SparkSession,
    spec: ModelSpec,
    step: StepSpec,
    tables: dict[str, DataFrame],
    params: dict[str, Any],
    platform: Platform,
    result: RunResult,
) -> dict[str, DataFrame]:
    """One step, by kind; returns the tables it produced."""
    if step.kind == "python":
        return _run_python(spark, spec, step, tables, params)
    if step.kind == "r" and not step.group_by:  # in this process: its peak sizes the driver
        with PeakMemory() as peak:
            produced = _run_r(spark, spec, step, tables, params, result.r_timings, platform.r_setup)
        result.r_peak_mb[step.name or step.target] = peak.mb
        return produced
    if step.kind == "r":
        return _run_r(spark, spec, step, tables, params, result.r_timings, platform.r_setup)
    _run_sql(spark, spec, step, params, platform, result.notes)
    produced = {}
    for t in step.produces:
        try:
            produced[t] = spark.table(t)
        except Exception:
            raise ModelRunError(
                f"{spec.directory / step.file}: did not create "
                f"table or view '{t}' (declared in produces)"
            ) from None
    return produced


def _keep_output(result: RunResult, step: StepSpec, printed: list[str]) -> None:
    """What the step printed, Python's then R's (an R step's console output): kept on the
    run when there is any. R called per group runs in Spark's workers and is not seen here."""
    text = "".join(printed)
    if step.kind == "r" and not step.group_by:
        from harness.rsession import take_output

        text += take_output()
    if text.strip():
        result.step_output[step.name] = steplog.clip(text)


def run_steps(
    spark: SparkSession,
    spec: ModelSpec,
    inputs: dict[str, DataFrame],
    *,
    platform: Platform | None = None,
    params: dict[str, Any] | None = None,
) -> RunResult:
    """Run every step of ``spec`` on ``inputs``; returns the declared outputs (lazy frames).

    The caller applies ``platform`` (``with platform.active(spark):``) around the run *and* the
    use of the outputs: on Spark Connect plans are analysed when they execute.
    """
    params = {**spec.parameters, **(params or {})}
    prof = platform or Platform("spark", spec)
    result = RunResult({})
    namespace = dict(inputs)
    # Temp views left by an earlier run in this session would shadow the tables that SQL
    # steps create (DROP TABLE would drop the view, then CREATE TABLE fails).
    for step in spec.steps:
        for name in step.produces:
            spark.catalog.dropTempView(name)
    for name in spec.outputs:
        spark.catalog.dropTempView(name)
    for name, df in inputs.items():
        df.createOrReplaceTempView(name)
    for step in spec.steps:
        started = time.perf_counter()
        step_params = {**params, **step.parameters}
        tables = {t: namespace[t] for t in (step.inputs or namespace)}
        printed: list[str] = []
        try:
            with steplog.python_output() as printed:
                produced = _run_step(spark, spec, step, tables, step_params, prof, result)
        except HarnessError as exc:
            _keep_output(result, step, printed)
            shown = steplog.format_step_output({step.name: result.step_output.get(step.name, "")})
            if shown:
                raise type(exc)(f"{exc}\n{shown}") from None
            raise
        _keep_output(result, step, printed)
        for name, df in produced.items():
            if step.kind != "sql":  # SQL already made its tables/views under these names
                df.createOrReplaceTempView(name)
            namespace[name] = df
        result.timings.append(StepTiming(step.name, time.perf_counter() - started))
    for out in spec.outputs:
        if out not in namespace:
            try:
                namespace[out] = spark.table(out)
            except Exception:
                raise ModelRunError(
                    f"model {spec.name} produced no table '{out}' (its steps "
                    f"made: {sorted(set(namespace) - set(inputs))})"
                ) from None
        result.outputs[out] = namespace[out]
    return result
