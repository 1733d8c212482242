"""harness.legacy_rewrite: percentile_approx calls over one column merged into one array call.

The pure tests pin what is rewritten and that everything else comes back byte for byte; the
Spark test runs Hive's own UDAF both ways on data that fills its histograms (and breaks ties
with its seeded generator) and demands identical values and one aggregate in the plan.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.legacy_rewrite import merge_percentile_calls
from harness.runners import Platform
from harness.spec import ModelSpec
from harness.sqltext import rewrite_functions


def test_calls_over_one_column_become_one_array_call() -> None:
    sql = (
        "SELECT g, percentile_approx(pp.premium, 0.10) AS p10,\n"
        "  PERCENTILE_APPROX(pp.PREMIUM, 0.9) p90, percentile_approx(pp.premium, 0.5) AS p50,\n"
        "  round(percentile_approx(x, 0.5, 100), 2) AS x50, percentile_approx(x, 0.2, 100) x20,\n"
        "       percentile_approx(pp.premium, 0.9) AS again\n"
        "FROM pp GROUP BY g"
    )
    arr = "array(0.10, 0.9, 0.5)"
    assert merge_percentile_calls(sql) == (
        f"SELECT g, percentile_approx(pp.premium, {arr})[0] AS p10,\n"
        f"  PERCENTILE_APPROX(pp.PREMIUM, {arr})[1] p90, "
        f"percentile_approx(pp.premium, {arr})[2] AS p50,\n"
        "  round(percentile_approx(x, array(0.5, 0.2), 100)[0], 2) AS x50, "
        "percentile_approx(x, array(0.5, 0.2), 100)[1] x20,\n"
        f"       percentile_approx(pp.premium, {arr})[1] AS again\n"
        "FROM pp GROUP BY g"
    )


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT percentile_approx(x, 0.5) AS p FROM t",  # one call: nothing to share
        "SELECT percentile_approx(x, 0.5) AS a, percentile_approx(y, 0.9) AS b FROM t",
        "SELECT percentile_approx(x, 0.5) AS a, percentile_approx(x, 0.9, 100) AS b FROM t",
        "SELECT percentile_approx(x, 0.5) AS a, percentile_approx(x, 0.5) AS b FROM t",
        "SELECT percentile_approx(x, 0.5) OVER (PARTITION BY g) AS a,\n"
        "       percentile_approx(x, 0.9) OVER (PARTITION BY g) AS b FROM t",
        "SELECT percentile_approx(DISTINCT x, 0.5) AS a, percentile_approx(DISTINCT x, 0.9) b",
        "SELECT percentile_approx(x, ${p}) AS a, percentile_approx(x, 0.9 - 0.1) AS b FROM t",
        "SELECT percentile_approx(x, array(0.1, 0.5)) AS a, percentile_approx(x, 0.5D) AS b",
        "SELECT percentile_approx(x, 0.5) AS a, percentile_approx(x, 1) AS b FROM t",  # Hive: error
        "SELECT percentile_approx(x, 0.5), percentile_approx(x, 0.9) FROM t",  # unaliased
        "SELECT 'percentile_approx(x, 0.5) AS a, percentile_approx(x, 0.9) AS b' FROM t",
        "SELECT a -- percentile_approx(x, 0.5) AS a, percentile_approx(x, 0.9) AS b\nFROM t",
        "CREATE TABLE t AS SELECT approx_percentile(x, 0.5) AS a, approx_percentile(x, 0.9) b",
        "SELECT percentile_approx(x, 0.5) AS a, percentile_approx(x, 0.9 AS b FROM t",  # broken
    ],
)
def test_other_sql_comes_back_byte_identical(sql: str) -> None:
    assert merge_percentile_calls(sql) == sql


def _spec(tmp_path: Path) -> ModelSpec:
    return ModelSpec(
        name="m", team="t", description="d", directory=tmp_path, steps=(), inputs={}, outputs={}
    )


def test_only_the_legacy_platform_merges(tmp_path: Path) -> None:
    sql = "SELECT percentile_approx(x, 0.1) AS a, percentile_approx(x, 0.9) AS b FROM t"
    assert Platform("spark", _spec(tmp_path)).sql(sql) == sql
    assert Platform("legacy", _spec(tmp_path)).sql(sql) == (
        "SELECT hive_percentile_approx(x, array(0.1, 0.9))[0] AS a, "
        "hive_percentile_approx(x, array(0.1, 0.9))[1] AS b FROM t"
    )


# Rounded to cents, as premiums are: many equal gaps between bins, so Hive's trim breaks
# ties with its seeded generator; 100 bins fill at once, the default 10,000 do too.
QUERY = """
SELECT g,
       percentile_approx(v, 0.1, 100) AS a10, percentile_approx(v, 0.5, 100) AS a50,
       percentile_approx(v, 0.9, 100) AS a90, percentile_approx(v, 0.25) AS d25,
       percentile_approx(v, 0.75) AS d75, percentile_approx(v, 0.999) AS d999,
       percentile_approx(w, 0.5) AS w50, percentile_approx(w, 0.9) AS w90
FROM (SELECT pmod(id, 3) AS g,
             round(pmod(hash(id, 7), 4000000) / 1000.0 + pmod(id, 5) * 0.01, 2) AS v,
             CASE WHEN pmod(id, 3) = 2 THEN NULL ELSE id % 97 END AS w
      FROM range(0, 60000, 1, 3)) d
GROUP BY g
"""


@pytest.mark.local_only("reads the physical plan through py4j")
def test_merged_calls_give_hive_values_bit_for_bit(spark, tmp_path: Path) -> None:
    legacy = Platform("legacy", _spec(tmp_path))
    merged = legacy.sql(QUERY)
    calls = re.findall(r"hive_percentile_approx\((\w+, array\([^)]*\)[^)]*)\)\[", merged)
    assert len(calls) == 8 and len(set(calls)) == 3  # (v, 100), (v, default), (w, default)
    with legacy.active(spark):
        per_call = spark.sql(rewrite_functions(QUERY, legacy.functions))
        one_each = spark.sql(merged)
        expected = sorted(per_call.collect())
        actual = sorted(one_each.collect())
        plan = one_each._jdf.queryExecution().executedPlan().toString()
    assert actual == expected
    assert [r.w50 for r in actual if r.g == 2] == [None]  # all-NULL group: NULL, not an error
    assert len({r.a50 for r in actual}) == 3  # the groups differ, so the check has teeth
    # Spark computes equal aggregates once: one Hive histogram per column and accuracy.
    final = plan.split("== Initial Plan ==")[0]  # AQE prints the plan twice
    partial = re.findall(r"partial_hive_percentile_approx\(", final)
    assert len(partial) == 3, plan
