"""Running sums and ranks over a whole column, exact and partition-parallel: the one Spark
technique every order-based acceptance metric (KS, AUC, Spearman, top-N, deciles) uses.

A window ordered over the whole frame would move every row into one partition. Instead the
rows are cut into range buckets at approximate quantiles of the ordering value (one
aggregation), each bucket's totals are summed (one aggregation, a few dozen rows on the
driver), and the running sums inside each bucket come from a window partitioned by bucket,
offset by the totals of the buckets below. Buckets are a monotone function of the value, so
ties never straddle two of them and the result is the exact one; only the cut points are
approximate, which moves work between partitions, never a result.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

BUCKETS = 64
BUCKET = "_acc_bucket"
ORDER = "_acc_order"


def bucket_of(value: Column, edges: list[float]) -> Column:
    """The number of cut points below ``value``: 0..len(edges), monotone in ``value``."""
    if not edges:
        return F.lit(0)
    return sum((F.when(value > F.lit(e), 1).otherwise(0) for e in edges), F.lit(0))


def _edges(df: DataFrame, value: Column, buckets: int) -> list[float]:
    probs = [i / buckets for i in range(1, buckets)]
    # Cut points only spread the work over partitions: a coarse sketch is enough.
    row = df.select(F.percentile_approx(value, probs, 1_000).alias("q")).first()
    found = row["q"] if row is not None and row["q"] is not None else []
    return sorted({float(e) for e in found if e is not None})


def with_running_sums(
    df: DataFrame, order: Column, sums: dict[str, Column], *, buckets: int = BUCKETS
) -> DataFrame:
    """``df`` (rows whose ``order`` is not null) plus, for each name of ``sums``, the sum of
    that expression over every row whose ``order`` is at most this row's (ties included),
    and ``<name>_tie``: the same sum over the rows that tie with it."""
    d = df.where(order.isNotNull()).withColumn(ORDER, order)
    edges = _edges(d, F.col(ORDER), buckets)
    d = d.withColumn(BUCKET, bucket_of(F.col(ORDER), edges))
    totals = sorted(
        d.groupBy(BUCKET).agg(*[F.sum(c).alias(n) for n, c in sums.items()]).collect(),
        key=lambda r: r[BUCKET],
    )
    offsets: dict[str, dict[int, float]] = {n: {} for n in sums}
    for name in sums:
        below = 0.0
        for row in totals:
            offsets[name][int(row[BUCKET])] = below
            below += float(row[name] or 0)
    upto = Window.partitionBy(BUCKET).orderBy(ORDER)  # RANGE: every tie of this row included
    tie = Window.partitionBy(BUCKET, ORDER)
    for name, expr in sums.items():
        offset = F.create_map(*[F.lit(x) for b, o in offsets[name].items() for x in (b, o)])
        d = d.withColumn(name, offset[F.col(BUCKET)] + F.sum(expr).over(upto))
        d = d.withColumn(f"{name}_tie", F.sum(expr).over(tie))
    return d


def with_rank(df: DataFrame, value: str, out: str, *, buckets: int = BUCKETS) -> DataFrame:
    """``df`` (rows with a ``value``) plus ``out``: the 1-based rank of ``value``, ties
    sharing the mean of their positions (the ranks Spearman's and Mann-Whitney's use)."""
    ranked = with_running_sums(df, F.col(value), {out: F.lit(1.0)}, buckets=buckets)
    ranked = ranked.withColumn(out, F.col(out) - (F.col(f"{out}_tie") - 1) / 2)
    return ranked.drop(f"{out}_tie", BUCKET, ORDER)
