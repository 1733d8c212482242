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
    df: DataFrame,
    order: Column,
    sums: dict[str, Column],
    *,
    first: str | None = None,
    buckets: int = BUCKETS,
) -> DataFrame:
    """``df`` (rows whose ``order`` is not null) plus, for each name of ``sums``, the sum of
    that expression over every row whose ``order`` is at most this row's (ties included)
    and, named ``first``, the 1-based position of the first row that ties with this one.
    One window (one sort), whatever is asked of it."""
    d = df.where(order.isNotNull()).withColumn(ORDER, order)
    edges = _edges(d, F.col(ORDER), buckets)
    d = d.withColumn(BUCKET, bucket_of(F.col(ORDER), edges))
    wanted = {**sums, "_rows": F.lit(1)}
    totals = sorted(
        d.groupBy(BUCKET).agg(*[F.sum(c).alias(n) for n, c in wanted.items()]).collect(),
        key=lambda r: r[BUCKET],
    )
    offsets: dict[str, Column] = {}
    for name in wanted:
        below, pairs = 0.0, []
        for row in totals:
            pairs += [F.lit(int(row[BUCKET])), F.lit(below)]
            below += float(row[name] or 0)
        offsets[name] = F.create_map(*pairs)[F.col(BUCKET)]
    upto = Window.partitionBy(BUCKET).orderBy(ORDER)  # RANGE: every tie of this row included
    added = [(offsets[name] + F.sum(expr).over(upto)).alias(name) for name, expr in sums.items()]
    if first is not None:  # rank(): 1 + the rows before the first tie, within the bucket
        added.append((offsets["_rows"] + F.rank().over(upto)).alias(first))
    return d.select("*", *added)


def with_rank(df: DataFrame, value: str, out: str, *, buckets: int = BUCKETS) -> DataFrame:
    """``df`` (rows with a ``value``) plus ``out``: the 1-based rank of ``value``, ties
    sharing the mean of their positions (the ranks Spearman's and Mann-Whitney's use)."""
    last, first = f"{out}_last", f"{out}_first"
    ranked = with_running_sums(df, F.col(value), {last: F.lit(1.0)}, first=first, buckets=buckets)
    ranked = ranked.withColumn(out, (F.col(first) + F.col(last)) / 2)
    return ranked.drop(first, last, BUCKET, ORDER)
