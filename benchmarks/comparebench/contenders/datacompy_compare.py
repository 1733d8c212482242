"""Peer: datacompy's Spark comparison, ``SparkSQLCompare(...)`` + ``.matches()``.

Three rows: on the data as is; with the DATE column cast to string on both sides
(``dates-as-str``); and that + ``.report()`` (its samples per column, like the engine's
report). datacompy 1.1.0 computes max_diff with ``TRY_CAST(col AS DOUBLE)`` on every column,
and Spark 4 rejects ``TRY_CAST(DATE AS DOUBLE)`` at analysis time (``DATATYPE_MISMATCH``:
TRY_CAST always uses ANSI cast rules, so ``spark.sql.ansi.enabled=false`` does not help);
casting the date to string keeps an equivalent equality test and lets it finish.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..data import ATOL, KEY, RTOL
from .base import Contender, Kind, Outcome


def dates_as_strings(df: Any) -> Any:
    """``df`` with every DATE column cast to string, the other columns as they are."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    return df.select(
        *[
            F.col(f.name).cast("string").alias(f.name)
            if isinstance(f.dataType, T.DateType)
            else F.col(f.name)
            for f in df.schema.fields
        ]
    )


@dataclass(frozen=True)
class Datacompy(Contender):
    """One datacompy variant; reports per-column counts (``unequal_cnt``)."""

    name: str
    dates_as_str: bool = False
    report: bool = False
    kind: Kind = "peer"

    def prepare(self) -> None:
        import datacompy.spark  # noqa: F401  (imported before the clock starts)

    def inputs(self, golden: Any, candidate: Any) -> tuple[Any, Any]:
        if self.dates_as_str:
            return dates_as_strings(golden), dates_as_strings(candidate)
        return golden, candidate

    def run(self, spark: Any, golden: Any, candidate: Any) -> Outcome:
        from datacompy.spark import SparkSQLCompare

        cmp = SparkSQLCompare(
            spark, golden, candidate, join_columns=[KEY], abs_tol=ATOL, rel_tol=RTOL
        )
        matches = cmp.matches()
        counts = {
            s["column"]: int(s["unequal_cnt"]) for s in cmp.column_stats if s["column"] != KEY
        }
        note = ""
        if self.report:
            note = f"report {len(cmp.report())} chars"
        return Outcome("pass" if matches else "fail", counts, note)
