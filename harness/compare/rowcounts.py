"""Each input's row count, learnt from the comparison's own query: the one place that reads
Spark's physical plan through py4j (docs/ARCHITECTURE.md names it as the exception to the
public-API rule).

The engine proves that keys line up one-to-one by checking the join's matched and
one-sided rows against these counts, so a count must never include a row the comparison
did not see; where that cannot be guaranteed the answer is "unknown", never a guess.
"""

from __future__ import annotations

import uuid
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from harness.backends import reads_plans


class RowCounts:
    """Each input's row count, learnt from the comparison's own query (no extra job).

    In-process (classic) sessions read them from the executed plan afterwards: the records
    each side wrote into the join's shuffle (:func:`shuffle_rows`). Spark Connect and
    Databricks Connect clients cannot see the plan, so there the inputs are wrapped with
    ``DataFrame.observe``; that node breaks whole-stage codegen below the shuffle, measured
    at ~9% of the join floor at 1M rows, hence the plan route where there is one.
    ``counts()`` is (None, None) when neither works, which makes ``compare`` take the
    windowed path: slower, never wrong.
    """

    def __init__(
        self, expected: DataFrame, actual: DataFrame, from_plan: bool | None = None
    ) -> None:
        self.expected, self.actual = expected, actual
        self._observations: list[Any] = []
        if from_plan is None:  # the backend says whether its sessions expose their plans
            from_plan = reads_plans(expected.sparkSession)
        self._from_plan = from_plan
        if from_plan:
            return
        try:
            from pyspark.sql import Observation

            pair = []
            for df in (expected, actual):
                obs = Observation(f"harness_rows_{uuid.uuid4().hex[:12]}")
                pair.append(df.observe(obs, F.count(F.lit(1)).alias("rows")))
                self._observations.append(obs)
            self.expected, self.actual = pair
        except Exception:  # an old or restricted backend: fall back to the windowed path
            self._observations = []

    def counts(self, ran: DataFrame) -> tuple[int | None, int | None]:
        try:
            if self._from_plan:
                return shuffle_rows(ran._jdf)
            e, a = (int(obs.get["rows"]) for obs in self._observations)
            return e, a
        except Exception:
            return None, None


_SHUFFLED_JOINS = ("SortMergeJoinExec", "ShuffledHashJoinExec")
# Nodes that pass every row through unchanged: only across these does an exchange's record
# count equal the rows reaching the join (a Filter above an input's own exchange would not).
_ROW_PRESERVING = (
    "SortExec",
    "ProjectExec",
    "InputAdapter",
    "WholeStageCodegenExec",
    "AQEShuffleReadExec",
    "ReusedExchangeExec",
)


def shuffle_rows(jdf: Any) -> tuple[int | None, int | None]:
    """Rows each side of the comparison's join wrote into its shuffle, from the executed
    (adaptive) plan of the query that ran: the topmost join is ours (everything above it
    is single-child projection and aggregation), its left side is ``expected``. None
    unless only row-preserving nodes lie between the join and that exchange: an input
    already partitioned by the key gets no shuffle of its own, and the nearest exchange
    may then sit below one of the input's filters (counts of that kind once hid a
    duplicated key; see the tests)."""

    def unwrap(node: Any) -> Any:
        while True:
            name = node.getClass().getSimpleName()
            if name == "AdaptiveSparkPlanExec":
                node = node.executedPlan()
            elif name.endswith("QueryStageExec"):  # adaptive stages hide their plan from children()
                node = node.plan()
            else:
                return node

    def rows_written(node: Any) -> int | None:
        while True:
            node = unwrap(node)
            name = node.getClass().getSimpleName()
            if name == "ShuffleExchangeExec":
                return int(node.metrics().apply("shuffleRecordsWritten").value())
            if name not in _ROW_PRESERVING:
                return None
            node = node.child()

    queue = [jdf.queryExecution().executedPlan()]
    while queue:  # breadth first: the topmost join
        node = unwrap(queue.pop(0))
        if node.getClass().getSimpleName() in _SHUFFLED_JOINS:
            return rows_written(node.left()), rows_written(node.right())
        children = node.children()
        queue += [children.apply(i) for i in range(children.size())]
    return None, None
