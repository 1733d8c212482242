"""What a golden says about itself: per-column statistics and the reviewable snapshot.

Both go into a version's manifest and its ``summary.ambr`` (syrupy's amber format), so a
refresh shows up in review as a readable diff, and a refresh can say which null counts moved.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T


def column_stats(df: DataFrame) -> dict[str, dict[str, Any]]:
    """Per-column nulls, min and max (and mean for numbers), in one aggregation."""
    aggs = [F.count(F.lit(1)).alias("__rows")]
    numeric = []
    for i, f in enumerate(df.schema.fields):
        col = F.col(f"`{f.name.replace('`', '``')}`")
        aggs.append(F.count_if(col.isNull()).alias(f"n{i}"))
        if isinstance(
            f.dataType, (T.NumericType, T.DateType, T.TimestampType, T.StringType, T.BooleanType)
        ):
            aggs += [F.min(col).alias(f"lo{i}"), F.max(col).alias(f"hi{i}")]
        if isinstance(f.dataType, T.NumericType):
            numeric.append(i)
            aggs.append(F.avg(col.cast("double")).alias(f"mean{i}"))
    row = df.agg(*aggs).collect()[0].asDict()
    out = {}
    for i, f in enumerate(df.schema.fields):
        stats: dict[str, Any] = {"nulls": row[f"n{i}"]}
        if f"lo{i}" in row:
            stats["min"], stats["max"] = _plain(row[f"lo{i}"]), _plain(row[f"hi{i}"])
        if i in numeric:
            stats["mean"] = _plain(row[f"mean{i}"])
        out[f.name] = stats
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return (
            float(f"{value:.12g}") if value == value and abs(value) != float("inf") else str(value)
        )
    if value is None or isinstance(value, (int, str, bool)):
        return value
    return str(value)


def render_summary(manifest: dict[str, Any]) -> str:
    """The reviewable snapshot of a golden, in syrupy's amber format."""
    from syrupy.extensions.amber.serializer import AmberDataSerializer

    prov = manifest.get("provenance", {})
    data = {
        "golden": f"{manifest['model']}/{manifest['dataset']}/{manifest['output']}",
        "version": manifest["version"],
        "rows": manifest["rows"],
        "keys": manifest["keys"],
        "schema": {c["name"]: c["type"] for c in manifest["schema"]},
        "stats": manifest.get("stats", {}),
        "provenance": {
            k: prov.get(k)
            for k in ("source", "reason", "created_by", "created_at", "origin", "changes")
            if prov.get(k)
        },
    }
    return (
        f"# golden summary (generated; review its diff on refresh)\n"
        f"{AmberDataSerializer.serialize(data)}\n"
    )
