"""The engine's speed in any Spark session, checked without a clock.

HotSpot never JIT-compiles a method over 8,000 bytes of bytecode unless the JVM runs with
-XX:-DontCompileHugeMethods, which a user's session, a cluster or a Spark Connect server do
not. The size of the code Spark generates does not depend on JVM options, so measuring the
largest method of the comparison's hot stage (the join and the aggregate, whose row loop
every input row passes through) says what every session gets: interpreted (measured ~4x
slower) or compiled. The queries are planned and their code compiled, never run.
"""

from __future__ import annotations

import pytest

from harness.compare import engine
from harness.compare.plan import make_plan

pytestmark = pytest.mark.local_only("compiles generated code through py4j")

HUGE_METHOD_LIMIT = 8000  # HotSpot's: bytes of bytecode
CODEGEN_DEFAULTS = (
    "spark.sql.codegen.methodSplitThreshold",
    "spark.sql.codegen.splitConsumeFuncByOperator",
    "spark.sql.codegen.aggregate.splitAggregateFunc.enabled",
    "spark.sql.subexpressionElimination.enabled",
    "spark.sql.codegen.wholeStage",
    "spark.sql.codegen.maxFields",
)


@pytest.fixture(scope="module")
def spark(spark):
    for key in CODEGEN_DEFAULTS:  # Spark's defaults, as in a session a user built
        spark.conf.unset(key)
    return spark


def hot_stage_sizes(spark, e, a, windowed: bool) -> list[int]:
    """The largest generated method of the hot stage, per counting query, planned with
    Spark's default ``spark.sql.codegen.maxFields`` (the engine never changes it): a query
    whose join or aggregate had too many fields would have no such stage."""
    plan = make_plan(e.schema, a.schema, ["id"], 1e-9, 0.0, {}, [], "widening", False)
    chunks = engine.column_chunks(plan, plan.compared, windowed=windowed)
    assert sorted(j for chunk in chunks for j in chunk) == plan.compared
    debug = spark._jvm.org.apache.spark.sql.execution.debug.package
    sizes = []
    conf = spark.conf
    assert conf.get(engine.MAX_FIELDS, None) in (None, str(engine.DEFAULT_MAX_FIELDS))
    conf.set("spark.sql.adaptive.enabled", "false")  # the final plan without running it
    try:
        for i, chunk in enumerate(chunks):
            frame, _ = engine.count_frame(plan, e, a, windowed, 5, chunk, keys=i == 0)
            seq = debug.codegenStringSeq(frame._jdf.queryExecution().executedPlan())
            stages = [seq.apply(k) for k in range(seq.size())]
            hot = [s._3().maxMethodCodeSize() for s in stages if _is_hot(s._1())]
            assert len(hot) == 1, "expected one codegen stage with the join and the aggregate"
            sizes.append(max(hot))
    finally:
        conf.unset("spark.sql.adaptive.enabled")
    return sizes


def _is_hot(tree: str) -> bool:
    """The stage whose first operator is the partial aggregate, fed by the join in the same
    stage (the final aggregate's stage merges one row per partition: not hot)."""
    head, _, rest = tree.partition("\n")
    return "partial_" in head and "SortMergeJoin" in rest.split("Exchange")[0]


def doubles(n: int) -> list[str]:
    return [f"CAST(id * {i} AS DOUBLE) AS d{i}" for i in range(n)]


CASES = {
    "20 mixed": doubles(14)
    + [f"CAST(id AS STRING) AS s{i}" for i in range(4)]
    + ["DATE'2024-01-01' AS dt", "id * 3 AS n"],
    "one pass of doubles": doubles(engine.COLUMNS_PER_PASS),
    "one pass of decimals": [
        f"CAST(id / {i + 1} AS DECIMAL(18, 6)) AS d{i}" for i in range(engine.COLUMNS_PER_PASS)
    ],
    "one pass of strings": [f"CAST(id AS STRING) AS s{i}" for i in range(engine.COLUMNS_PER_PASS)],
    "200 doubles": doubles(200),
    "nested": [
        "array(CAST(id AS DOUBLE)) AS arr",
        "named_struct('p', id / 3.0D, 'm', map('k', id)) AS st",
        "map('k', array(id / 7.0D)) AS mp",
    ],
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("windowed", [False, True], ids=["one-to-one", "windowed"])
def test_every_generated_method_of_the_hot_loop_is_small_enough_to_compile(spark, case, windowed):
    e = spark.range(0, 10).selectExpr("id", *CASES[case])
    sizes = hot_stage_sizes(spark, e, e, windowed)
    assert max(sizes) < HUGE_METHOD_LIMIT, (case, sizes)


def test_a_column_group_fills_the_field_budget_and_never_passes_it(spark) -> None:
    """The groups are as large as the budget allows (no needless joins), and within it."""
    e = spark.range(0, 1).selectExpr("id", *doubles(200))
    plan = make_plan(e.schema, e.schema, ["id"], 1e-9, 0.0, {}, [], "widening", False)
    for windowed in (False, True):
        chunks = engine.column_chunks(plan, plan.compared, windowed=windowed)
        # a double: 2 fields of the joined row (one per side), 3 aggregate buffers
        assert [len(c) for c in chunks[1:-1]] == [(100 - 3) // 3] * (len(chunks) - 2)
    wide = engine.column_chunks(plan, plan.compared, max_fields=10_000)
    assert [len(c) for c in wide] == [64, 64, 64, 8]  # COLUMNS_PER_PASS caps a group
