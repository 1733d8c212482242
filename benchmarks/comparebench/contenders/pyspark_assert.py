"""Peer: ``pyspark.testing.assertDataFrameEqual``, Spark's own DataFrame assertion.

It collects both sides to the driver and compares them in Python (a ``difflib`` context
diff over every row on failure), so it is the slowest peer by far; it raises to say the
frames differ and reports no per-column counts.
"""

from __future__ import annotations

from typing import Any

from ..data import ATOL, RTOL
from .base import Contender, Kind, Outcome


class PysparkAssert(Contender):
    """``assertDataFrameEqual(candidate, golden, checkRowOrder=False, rtol, atol)``."""

    name = "pyspark assert"
    kind: Kind = "peer"

    def prepare(self) -> None:
        import pyspark.testing  # noqa: F401  (imported before the clock starts)

    def run(self, spark: Any, golden: Any, candidate: Any) -> Outcome:
        from pyspark.testing import assertDataFrameEqual

        assertDataFrameEqual(candidate, golden, checkRowOrder=False, rtol=RTOL, atol=ATOL)
        return Outcome("pass", None, "")
