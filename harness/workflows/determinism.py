"""Is a model deterministic? Run it twice under different physical plans; compare exactly.

A column that differs between two runs of the *same* code on the *same* inputs is computed
nondeterministically by the model itself (collect_list order, ties in row_number, rand(),
floating sums added in another order), and keys present in one run only mean its row set
is (a filter on a tied row_number, a LIMIT without ORDER BY). Such a difference against a
golden is no migration problem: this check names it before anyone blames the platform.

Each run starts from the same fixture inputs (``api.load_inputs``), laid out as its
``Plan`` says (as loaded, reversed, scattered over N partitions), under the plan's session
settings (shuffle partitions, adaptive execution). Nothing of one run serves the other:
Spark's cache is cleared before each run, SQL steps drop and recreate their tables, and
each run's outputs are written to tables of its own before the next run starts (a lazy
frame would be computed again, under the other plan). The outputs are then compared with
``compare()`` at rtol = atol = 0 and exact types. An output whose runs differ only in
numbers, within the output's own tolerances (floating sums added in another order), is
"within tolerance": reported, but no failure, as no golden comparison can fail on it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from harness import api
from harness.compare import compare
from harness.errors import HarnessError, ModelRunError, first_line
from harness.explain.determinism_report import (
    DETERMINISTIC,
    NONDETERMINISTIC,
    STATUSES,
    WITHIN_TOLERANCE,
    ColumnDiff,
    DeterminismReport,
    OutputDeterminism,
    add_suspects,
)
from harness.runners import Platform, run_steps
from harness.spec import ModelSpec

__all__ = [
    "DETERMINISTIC",
    "NONDETERMINISTIC",
    "PLANS",
    "STATUSES",
    "WITHIN_TOLERANCE",
    "ColumnDiff",
    "DeterminismReport",
    "OutputDeterminism",
    "Plan",
    "add_suspects",
    "check",
]

SHUFFLE = "spark.sql.shuffle.partitions"
ADAPTIVE = "spark.sql.adaptive.enabled"
COALESCE = "spark.sql.adaptive.coalescePartitions.enabled"
INPUT_LAYOUTS = ("as-loaded", "reversed", "scattered")  # how a plan lays out the inputs


@dataclass(frozen=True)
class Plan:
    """One way to run a model: session settings and the layout of its inputs."""

    name: str
    conf: Mapping[str, str]
    layout: str = "as-loaded"  # one of INPUT_LAYOUTS
    partitions: int = 1  # input partitions for "reversed" and "scattered"

    def describe(self) -> str:
        inputs = (
            "inputs as loaded"
            if self.layout == "as-loaded"
            else f"inputs {self.layout} in {self.partitions} partitions"
        )
        settings = ", ".join(
            f"{k.rsplit('.', 2)[-2]}.{k.rsplit('.', 1)[-1]}={v}" for k, v in self.conf.items()
        )
        return f"{self.name} ({inputs}; {settings})"


# The plans, as data. The first is the reference every other plan's run is compared with.
# "reshaped" changes everything at once: inputs in reverse order over another partition
# count (ties in a window or in collect_list come out the other way round), other shuffle
# partitions and no adaptive execution (other join strategies, other partial sums).
PLANS: tuple[Plan, ...] = (
    Plan("reference", {SHUFFLE: "200", ADAPTIVE: "true", COALESCE: "true"}),
    Plan(
        "reshaped",
        {SHUFFLE: "7", ADAPTIVE: "false", COALESCE: "false"},
        layout="reversed",
        partitions=3,
    ),
    Plan(
        "scattered",
        {SHUFFLE: "13", ADAPTIVE: "true", COALESCE: "false"},
        layout="scattered",
        partitions=5,
    ),
)
DEFAULT_VARIANTS = ("reshaped",)  # what a check runs against the reference by default


def variant_named(name: str) -> Plan:
    """The plan ``name`` among those a run is compared with (not the reference itself)."""
    for plan in PLANS[1:]:
        if plan.name == name:
            return plan
    raise HarnessError(
        f"unknown determinism plan '{name}' (use {', '.join(p.name for p in PLANS[1:])})"
    )


# ------------------------------------------------------------------------------- runs


def lay_out(df: DataFrame, plan: Plan) -> DataFrame:
    """An input as ``plan`` lays it out: the same rows, in another order and partitioning."""
    if plan.layout == "as-loaded":
        return df
    if plan.layout == "reversed":
        pos = F.monotonically_increasing_id()
        tagged = df.withColumn("__harness_pos", pos)
        order = F.col("__harness_pos").desc()
        return (
            tagged.repartitionByRange(plan.partitions, order)
            .sortWithinPartitions(order)
            .drop("__harness_pos")
        )
    if plan.layout == "scattered":  # round robin (Spark sorts the rows before dealing them)
        return df.repartition(plan.partitions)
    raise HarnessError(f"plan {plan.name}: unknown layout '{plan.layout}' ({INPUT_LAYOUTS})")


@contextmanager
def _settings(spark: SparkSession, conf: Mapping[str, str]) -> Iterator[None]:
    previous = {key: spark.conf.get(key, None) for key in conf}
    try:
        for key, value in conf.items():
            try:
                spark.conf.set(key, value)
            except Exception as exc:
                raise HarnessError(
                    f"determinism check: this session refuses {key}={value} "
                    f"({first_line(exc, 200)})"
                ) from None
        yield
    finally:
        for key, old in previous.items():
            if old is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, old)


def _table(spec: ModelSpec, plan: Plan, output: str) -> str:
    return f"determinism_{spec.name}_{plan.name}_{output}".lower()


def run_under(
    spark: SparkSession,
    project: api.Project,
    spec: ModelSpec,
    dataset: str,
    plan: Plan,
    *,
    platform: Platform,
    scale: float = 1.0,
) -> dict[str, DataFrame]:
    """Run the model once under ``plan``; its outputs, written to tables of their own."""
    spark.catalog.clearCache()  # nothing cached by an earlier run serves this one
    database = api.scratch_database(spark)
    outputs: dict[str, DataFrame] = {}
    with _settings(spark, plan.conf):
        inputs, _ = api.load_inputs(spark, project, spec, dataset, scale=scale)
        laid_out = {name: lay_out(df, plan) for name, df in inputs.items()}
        result = run_steps(spark, spec, laid_out, platform=platform)
        for name, df in result.outputs.items():
            table = f"`{database}`.`{_table(spec, plan, name)}`"
            try:
                df.write.mode("overwrite").saveAsTable(table)
            except Exception as exc:
                raise ModelRunError(
                    f"model {spec.name} failed producing '{name}' under determinism plan "
                    f"{plan.name}: {first_line(exc)}"
                ) from None
            outputs[name] = spark.table(table)
    return outputs


def _drop(spark: SparkSession, spec: ModelSpec, plans: Sequence[Plan]) -> None:
    database = api.scratch_database(spark)
    for plan in plans:
        for output in spec.outputs:
            with contextlib.suppress(Exception):  # never hide the error that ended a check
                spark.sql(f"DROP TABLE IF EXISTS `{database}`.`{_table(spec, plan, output)}`")


def compare_runs(
    spec: ModelSpec, output: str, plan: str, reference: DataFrame, other: DataFrame
) -> OutputDeterminism:
    """Two runs' output at zero tolerance, examples fetched now (the tables go); when only
    numbers differ, compared again with the output's own tolerances, to tell noise that no
    golden comparison sees from a difference that fails one."""
    out = spec.outputs[output]
    exact = compare(
        reference,
        other,
        keys=list(out.keys),
        rtol=0.0,
        atol=0.0,
        ignore_columns=list(out.ignore),
        type_policy="exact",
    )
    d = exact.to_dict()
    columns = [
        ColumnDiff(
            name,
            d["columns"][name]["mismatches"],
            d["columns"][name]["max_abs_diff"],
            d["columns"][name]["max_rel_diff"],
            d["samples"].get(name, []),
        )
        for name in d["failing_columns"]
    ]
    dup = d["duplicate_keys"]
    key_examples = [
        {"in": where, "key": key}
        for where, keys in (
            ("reference run only", d["missing_keys"]["sample"]),
            (f"{plan} run only", d["extra_keys"]["sample"]),
            ("reference run, duplicated", dup["sample_expected"]),
            (f"{plan} run, duplicated", dup["sample_actual"]),
        )
        for key in keys
    ]
    schema = [f"columns only in the reference run: {c}" for c in d["schema"]["missing_columns"]]
    schema += [f"columns only in the {plan} run: {c}" for c in d["schema"]["extra_columns"]]
    schema += [
        f"type of {t['column']}: {t['expected']} vs {t['actual']}"
        for t in d["schema"]["type_changes"]
    ]
    within = (
        bool(columns)
        and exact.schema_ok
        and exact.keys_ok
        and compare(reference, other, **api.tolerances(spec, output)).passed
    )
    return OutputDeterminism(
        output,
        plan,
        (d["rows"]["expected"], d["rows"]["actual"]),
        columns,
        d["missing_keys"]["count"],
        d["extra_keys"]["count"],
        (dup["expected"], dup["actual"]),
        key_examples,
        schema,
        within,
    )


def check(
    spark: SparkSession,
    project: api.Project,
    spec: ModelSpec,
    dataset: str = "sample",
    *,
    platform: str = "spark",
    variants: Sequence[str] = DEFAULT_VARIANTS,
    scale: float = 1.0,
) -> DeterminismReport:
    """Run ``spec`` under the reference plan and each of ``variants``; compare every output
    of each variant's run with the reference run's, exactly."""
    reference, others = PLANS[0], [variant_named(v) for v in variants]
    if not others:
        raise HarnessError("determinism check: name at least one plan to compare with")
    chosen = Platform(platform, spec)
    seconds: dict[str, float] = {}
    reports: list[OutputDeterminism] = []
    try:
        with chosen.active(spark):
            runs = {}
            for plan in (reference, *others):
                started = time.perf_counter()
                runs[plan.name] = run_under(
                    spark, project, spec, dataset, plan, platform=chosen, scale=scale
                )
                seconds[plan.name] = time.perf_counter() - started
            for plan in others:
                for output in spec.outputs:
                    reports.append(
                        compare_runs(
                            spec,
                            output,
                            plan.name,
                            runs[reference.name][output],
                            runs[plan.name][output],
                        )
                    )
    finally:
        _drop(spark, spec, (reference, *others))
    note = add_suspects(spec, reports)
    return DeterminismReport(
        spec.name,
        dataset,
        platform,
        reference.describe(),
        [p.describe() for p in others],
        reports,
        seconds,
        note,
    )
