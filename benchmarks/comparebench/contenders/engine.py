"""The contender under test: ``harness.compare.compare``, in three variants.

* ``engine``: ``compare(golden, candidate, keys=[KEY], rtol, atol)`` (verdict, counts,
  statistics);
* ``engine+report``: the same + the text report (``harness.report.text.format_comparison``
  of ``result.to_dict()``), which fetches the failure examples: the cost of a failing
  comparison a person reads;
* ``engine, fresh code``: ``engine`` with an rtol nudged by 1e-7 relative each run, so that
  every run compiles new code, as each model's first comparison in a nightly run does; the
  other rows reuse the previous run's JIT-compiled classes (Spark caches generated code).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from ..data import ATOL, KEY, RTOL
from .base import Contender, Kind, Outcome

_FRESH_RUNS = itertools.count(1)


@dataclass(frozen=True)
class Engine(Contender):
    """One variant of the engine; runs in the benchmark process and reports its counts."""

    name: str
    report: bool = False
    fresh: bool = False
    kind: Kind = "engine"

    def run(self, spark: Any, golden: Any, candidate: Any) -> Outcome:
        from harness.compare import compare

        # ``fresh``: a slightly different rtol each run (1e-7 relative steps, far from every
        # perturbation in the data, so the truth holds) makes Spark generate and compile new
        # code, as a new model's comparison would, instead of reusing the JIT-compiled
        # classes of the previous identical run. Shows the warm-JVM, cold-code cost.
        rtol = RTOL * (1 + next(_FRESH_RUNS) * 1e-7) if self.fresh else RTOL
        result = compare(golden, candidate, keys=[KEY], rtol=rtol, atol=ATOL)
        if self.report:  # the examples are fetched on first use: this times them too
            from harness.report.text import format_comparison

            text = format_comparison(result.to_dict())
            if result.passed != text.startswith("parity PASSED"):
                raise RuntimeError("report disagrees with the verdict")
        extra = {
            "rows": [result.rows_expected, result.rows_actual, result.rows_matched],
            "keys_ok": result.keys_ok,
            "schema_ok": result.schema_ok,
            "engine_elapsed_s": round(result.elapsed_s, 3),
        }
        return Outcome("pass" if result.passed else "fail", dict(result.mismatch_counts), extra)
