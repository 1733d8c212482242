"""The keyed full outer join every pass of a comparison reads (counting, keys, examples).

Both inputs are first projected to the internal aliases of :mod:`harness.compare.sql`
(so names with spaces, dots or backticks never reach SQL), then joined null-safely on the
key columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from harness.compare import sql
from harness.compare.plan import Plan


@dataclass(frozen=True)
class Sides:
    """Both inputs under internal aliases, ready to join; ``columns`` are the indexes of the
    compared columns carried in the ``ev``/``av`` structs (none in a key-only pass)."""

    e: DataFrame
    a: DataFrame
    join_e: list[str]
    join_a: list[str]
    n_keys: int
    columns: tuple[int, ...]


def sides(plan: Plan, expected: DataFrame, actual: DataFrame, columns: Sequence[int]) -> Sides:
    """Project both inputs: keys cast to their join type, and the compared values packed in
    one struct per side. The struct keeps the joined row narrow whatever the column count:
    Spark passes a narrow row to the aggregate's per-function methods, a wide one it
    inlines into a single method that soon outgrows what the JIT compiles."""
    # SQL text: one selectExpr per side
    e_cols: list[str] = []
    a_cols: list[str] = []
    join_e: list[str] = []
    join_a: list[str] = []
    for i, key in enumerate(plan.keys):
        kt = key.join_type.simpleString()
        for side, name, cols, join in (
            ("e", key.expected, e_cols, join_e),
            ("a", key.actual, a_cols, join_a),
        ):
            k = f"CAST(`{sql.q(name)}` AS {kt})"
            cols += [
                f"{k} AS {side}k{i}",
                f"coalesce({k}, {sql.key_default(key.join_type)}) AS {side}j{i}",
                f"{k} IS NULL AS {side}n{i}",
            ]
            join += [f"{side}j{i}", f"{side}n{i}"]
    if columns:
        picked = [plan.columns[j] for j in columns]
        for side, cols, names in (
            ("e", e_cols, [c.expected for c in picked]),
            ("a", a_cols, [c.actual for c in picked]),
        ):
            fields = ", ".join(f"'f{j}', `{sql.q(n)}`" for j, n in zip(columns, names, strict=True))
            cols.append(f"named_struct({fields}) AS {side}v")
    return Sides(
        expected.selectExpr(*e_cols),
        actual.selectExpr(*a_cols),
        join_e,
        join_a,
        len(plan.keys),
        tuple(columns),
    )


def joined(s: Sides, windowed: bool) -> DataFrame:
    """The keyed full outer join. ``windowed`` adds per-key row counts (``_en``/``_an``)
    and row numbers from a window partitioned exactly like the join, so the join reuses
    its shuffle and sort; without it every present row counts as 1 (the engine checks that
    assumption against the input row counts)."""
    if windowed:
        we, wa = Window.partitionBy(*s.join_e), Window.partitionBy(*s.join_a)
        e = s.e.select(
            "*",
            F.count(F.lit(1)).over(we).alias("_en"),
            F.row_number().over(we.orderBy(*s.join_e)).alias("_er"),
        )
        a = s.a.select(
            "*",
            F.count(F.lit(1)).over(wa).alias("_an"),
            F.row_number().over(wa.orderBy(*s.join_a)).alias("_ar"),
        )
    else:
        e = s.e.select("*", F.lit(1).alias("_en"), F.lit(1).alias("_er"))
        a = s.a.select("*", F.lit(1).alias("_an"), F.lit(1).alias("_ar"))
    cond = [e[x] == a[y] for x, y in zip(s.join_e, s.join_a, strict=True)]
    return e.join(a, cond, "full_outer")
