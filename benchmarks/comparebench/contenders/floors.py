"""The two floors: what a plain Spark scan and a plain full outer join of both inputs cost.

They give the engine's time a scale that does not depend on the machine: a comparison
cannot read less than the scan floor, and the join floor is the keyed join every keyed
comparison needs (the table's ``x_join`` column divides by it). No verdict (``-``).
"""

from __future__ import annotations

from typing import Any

from ..data import KEY
from .base import Contender, Kind, Outcome


class ScanFloor(Contender):
    """xxhash64 over every column of each input, aggregated with ``bit_xor``: a full read."""

    name = "scan floor"
    kind: Kind = "floor"

    def run(self, spark: Any, golden: Any, candidate: Any) -> Outcome:
        from pyspark.sql import functions as F

        for df in (golden, candidate):
            df.select(F.xxhash64(*[F.col(c) for c in df.columns]).alias("h")).agg(
                F.bit_xor("h")
            ).collect()
        return Outcome("-", None, "")


class JoinFloor(Contender):
    """Full outer join of both inputs on the key, all columns of both, ``noop`` write."""

    name = "join floor"
    kind: Kind = "floor"

    def run(self, spark: Any, golden: Any, candidate: Any) -> Outcome:
        from pyspark.sql import functions as F

        e = golden.select(*[F.col(c).alias(f"e_{c}") for c in golden.columns])
        a = candidate.select(*[F.col(c).alias(f"a_{c}") for c in candidate.columns])
        joined = e.join(a, F.col(f"e_{KEY}") == F.col(f"a_{KEY}"), "full_outer")
        joined.write.format("noop").mode("overwrite").save()
        return Outcome("-", None, "")
