"""The acceptance metrics of a score, each computed by Spark on the full output.

Distribution (PSI over bins fixed from the golden, two-sample KS), discrimination against
outcomes (AUC and Gini by Mann-Whitney's rank sum, the per-bin table behind lift, top-bin
capture and calibration) and agreement of the two versions on matched keys (Spearman's rank
correlation, top-N overlap). Every pass over the rows is a Spark aggregation or a
bucket-partitioned window (:mod:`.cumulative`); what reaches the driver are tables of a few
dozen rows, on which numpy does the last arithmetic (the PSI sum). No column is collected.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from harness.acceptance.cumulative import bucket_of, with_rank, with_running_sums

PSI_FLOOR = 1e-4  # an empty bin's share in the PSI sum (the usual guard against log(0))
CHART_BINS = 40  # bins of the overlaid distributions on the review page


def bin_edges(golden: DataFrame, score: str, bins: int) -> list[float]:
    """The inner cut points of ``bins`` equal-count bins of the golden's scores (deciles by
    default; approximate quantiles, duplicates merged)."""
    probs = [i / bins for i in range(1, bins)]
    row = golden.select(F.percentile_approx(F.col(score), probs, 10_000).alias("q")).first()
    found = row["q"] if row is not None and row["q"] is not None else []
    return sorted({float(e) for e in found if e is not None})


def psi(expected: list[int], actual: list[int]) -> float:
    """Population stability index of two binned counts: sum (a - e) * ln(a / e) over bins
    of the two shares, an empty bin counted as ``PSI_FLOOR``."""
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    if e.sum() == 0 or a.sum() == 0:
        return math.nan
    e = np.maximum(e / e.sum(), PSI_FLOOR)
    a = np.maximum(a / a.sum(), PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def distribution(golden: DataFrame, candidate: DataFrame, score: str, bins: int) -> dict[str, Any]:
    """PSI and KS of the two score columns, and the binned counts behind them and the
    overlaid histogram: ``{psi, ks, edges, golden_bins, candidate_bins, histogram}``."""
    both = golden.select(F.col(score).cast("double").alias("s"), F.lit(0).alias("side")).union(
        candidate.select(F.col(score).cast("double").alias("s"), F.lit(1).alias("side"))
    )
    both = both.where(F.col("s").isNotNull() & ~F.isnan("s")).persist()  # read five times
    try:
        return _distribution(golden, both, score, bins)
    finally:
        both.unpersist()


def _distribution(golden: DataFrame, both: DataFrame, score: str, bins: int) -> dict[str, Any]:
    edges = bin_edges(golden.select(F.col(score).cast("double").alias(score)), score, bins)
    counts = {0: [0] * (len(edges) + 1), 1: [0] * (len(edges) + 1)}
    span = both.agg(F.min("s").alias("lo"), F.max("s").alias("hi"), F.count("s").alias("n"))
    lo, hi, _ = span.first() or (None, None, 0)
    for row in both.groupBy("side", bucket_of(F.col("s"), edges).alias("b")).count().collect():
        counts[row["side"]][row["b"]] = row["count"]
    n_g, n_c = sum(counts[0]), sum(counts[1])
    ks = None
    if n_g and n_c:
        weights = {
            "cg": F.when(F.col("side") == 0, 1.0 / n_g).otherwise(0.0),
            "cc": F.when(F.col("side") == 1, 1.0 / n_c).otherwise(0.0),
        }
        cum = with_running_sums(both, F.col("s"), weights)
        found = cum.agg(F.max(F.abs(F.col("cg") - F.col("cc"))).alias("d")).first()
        ks = float(found["d"] or 0.0) if found is not None else None
    histogram = _histogram(both, lo, hi)
    return {
        "psi": psi(counts[0], counts[1]),
        "ks": ks,
        "edges": edges,
        "golden_bins": counts[0],
        "candidate_bins": counts[1],
        "rows": {"golden": n_g, "candidate": n_c},
        "histogram": histogram,
    }


def _histogram(both: DataFrame, lo: float | None, hi: float | None) -> dict[str, Any]:
    """Counts per side in ``CHART_BINS`` equal-width bins between the smallest and largest
    score of either version (one aggregation), for the review page's overlay."""
    if lo is None or hi is None:
        return {"lo": lo, "hi": hi, "golden": [], "candidate": []}
    width = (hi - lo) / CHART_BINS or 1.0
    index = F.least(F.floor((F.col("s") - F.lit(lo)) / F.lit(width)), F.lit(CHART_BINS - 1))
    out = {0: [0] * CHART_BINS, 1: [0] * CHART_BINS}
    for row in both.groupBy("side", index.cast("int").alias("i")).count().collect():
        out[row["side"]][row["i"]] = row["count"]
    return {"lo": lo, "hi": hi, "golden": out[0], "candidate": out[1]}


def discrimination(labelled: DataFrame, score: str, label: str, bins: int) -> dict[str, Any]:
    """AUC (Mann-Whitney: the rank sum of the positives, ties at mid-rank), Gini and the
    per-bin table of ``labelled`` (rows with a score and a 0/1 label), bins of equal count
    by score, the highest scores in the last: ``{auc, gini, rows, positives, bins: [{n,
    positives, mean_score, rate, lift}], capture, calibration_gap}``."""
    ranked = with_rank(labelled.select(score, label), score, "_rank").persist()  # read twice
    try:
        return _discrimination(ranked, score, label, bins)
    finally:
        ranked.unpersist()


def _discrimination(ranked: DataFrame, score: str, label: str, bins: int) -> dict[str, Any]:
    n_row = ranked.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(F.col(label)).alias("pos"),
        F.sum(F.when(F.col(label) == 1, F.col("_rank"))).alias("rank_sum"),
        F.sum(F.when(~F.col(label).isin(0, 1), 1).otherwise(0)).alias("not_binary"),
    ).first()
    if n_row is not None and n_row["not_binary"]:
        raise ValueError(f"{n_row['not_binary']} label values are neither 0 nor 1")
    n = int(n_row["n"] or 0) if n_row else 0
    pos = int(n_row["pos"] or 0) if n_row else 0
    neg = n - pos
    auc = None
    if n_row is not None and pos and neg:
        auc = (float(n_row["rank_sum"]) - pos * (pos + 1) / 2) / (pos * neg)
    table: list[dict[str, Any]] = []
    if n:
        which = F.least(F.ceil(F.col("_rank") * bins / n), F.lit(bins)).cast("int")
        rows = (
            ranked.groupBy(which.alias("bin"))
            .agg(
                F.count(F.lit(1)).alias("n"),
                F.sum(F.col(label)).alias("positives"),
                F.avg(F.col(score)).alias("mean_score"),
            )
            .collect()
        )
        overall = pos / n
        for row in sorted(rows, key=lambda r: r["bin"]):
            rate = row["positives"] / row["n"]
            table.append(
                {
                    "bin": row["bin"],
                    "n": row["n"],
                    "positives": int(row["positives"]),
                    "mean_score": float(row["mean_score"]),
                    "rate": rate,
                    "lift": rate / overall if overall else None,
                }
            )
    return {
        "auc": auc,
        "gini": 2 * auc - 1 if auc is not None else None,
        "rows": n,
        "positives": pos,
        "bins": table,
        "capture": table[-1]["positives"] / pos if table and pos else None,
        "calibration_gap": max((abs(b["mean_score"] - b["rate"]) for b in table), default=None),
    }


def agreement(
    joined: DataFrame, golden: str, candidate: str, top_n: int | None, bins: int
) -> dict[str, Any]:
    """On keys both versions have (``joined``: one row per key with both scores): Spearman's
    rank correlation (Pearson's of the mid-ranks) and the share of the golden's top N that
    the candidate also ranks in its top N (N defaults to one bin: rows / bins)."""
    pair = joined.select(
        F.col(golden).cast("double").alias("g"), F.col(candidate).cast("double").alias("c")
    )
    pair = pair.where(F.col("g").isNotNull() & F.col("c").isNotNull())
    # The golden's ranks are read by the three passes that rank the candidate's: kept.
    first = with_rank(pair, "g", "rg").persist()
    try:
        n = first.count()
        top = top_n or max(1, math.ceil(n / bins))
        ranked = with_rank(first, "c", "rc")
        # Descending rank = n + 1 - ascending mid-rank; the top N are those at or above N.
        in_g = (n + 1 - F.col("rg")) <= top
        in_c = (n + 1 - F.col("rc")) <= top
        row = ranked.agg(
            F.corr("rg", "rc").alias("rho"),
            F.sum(F.when(in_g, 1).otherwise(0)).alias("g"),
            F.sum(F.when(in_g & in_c, 1).otherwise(0)).alias("both"),
        ).first()
    finally:
        first.unpersist()
    rho = float(row["rho"]) if row is not None and row["rho"] is not None else None
    overlap = row["both"] / row["g"] if row is not None and row["g"] else None
    return {"matched": n, "rank_correlation": rho, "top_n": top, "top_n_overlap": overlap}
