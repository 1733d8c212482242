"""Distributed, tolerance-aware parity check of two Spark DataFrames.

Match rule for numeric columns (pytest.approx's, golden as the reference)::

    |actual - expected| <= max(rtol * |expected|, atol)

with NULL == NULL only, NaN == NaN only, +inf/-inf equal only to themselves, and
-0.0 == 0.0. With rtol == atol == 0 values must be equal in their own type (no cast, so
longs beyond 2**53 and decimals stay exact). Arrays, structs and maps compare element-,
field- and entry-wise at any nesting, with the same rule at their numeric leaves.

The package, in the order data flows through it:

* ``plan``      what to compare: names, types, tolerances, the type rules (no Spark job)
* ``sql``       the per-row rules as SQL text, and the table of internal column aliases
* ``join``      both inputs under those aliases, and the keyed full outer join
* ``rowcounts`` each input's row count from the query itself (the one reader of plans)
* ``engine``    ``compare()``: the counting queries that decide the verdict
* ``examples``  samples of every failure, fetched on first use
* ``result``    ``CompareResult`` and friends: the contract every report reads
"""

from harness.compare.engine import compare
from harness.compare.result import ColumnStats, CompareResult, KeyDiff
from harness.typerules import TYPE_POLICIES, is_numeric, type_change_tolerated

__all__ = [
    "TYPE_POLICIES",
    "ColumnStats",
    "CompareResult",
    "KeyDiff",
    "compare",
    "is_numeric",
    "type_change_tolerated",
]
