"""What a comparison found: the result types every report reads (the contract).

Nothing here runs a Spark job. Counts and statistics arrive filled in; samples of failing
rows and the NULL-vs-value counts are diagnoses that arrive as callables, fetched on first
use by :mod:`harness.compare.examples`, so a passing comparison never pays for them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.errors import CompareError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


@dataclass(frozen=True)
class KeyDiff:
    """Keys present on one side only (or duplicated): an exact count and a bounded sample.

    ``len()`` is the count; iterate for the sampled keys (fetched on first use). The full
    set is one ``to_dataframe()`` away, computed lazily on the cluster.
    """

    count: int
    _sample: Callable[[], list[dict[str, Any]]] = field(repr=False, compare=False)
    _frame: Callable[[], DataFrame] | None = field(default=None, repr=False, compare=False)

    @property
    def sample(self) -> list[dict[str, Any]]:
        return self._sample() if self.count else []

    def __len__(self) -> int:
        return self.count

    def __iter__(self):
        return iter(self.sample)

    def __bool__(self) -> bool:
        return self.count > 0

    def to_dataframe(self) -> DataFrame:
        if self._frame is None:
            raise CompareError("this key set has no DataFrame attached (built from a dict?)")
        return self._frame()


@dataclass
class ColumnStats:
    name: str
    expected_type: str
    actual_type: str
    kind: str  # numeric | exact | nested | incomparable
    rtol: float
    atol: float
    mismatches: int = 0
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    _sample: Callable[[], list[dict[str, Any]]] | None = field(
        default=None, repr=False, compare=False
    )
    _null_mismatches: Callable[[], int] | None = field(default=None, repr=False, compare=False)

    @property
    def sample(self) -> list[dict[str, Any]]:
        """Up to ``sample_size`` mismatching rows (key, both values, differences), fetched
        from the inputs on first use: one filtered scan serves every column and key set."""
        return self._sample() if self._sample is not None and self.mismatches else []

    @property
    def null_mismatches(self) -> int:
        """How many of the mismatches are NULL on one side only. A diagnosis, not part of
        the verdict: counted with the examples, on first use (0 without mismatches)."""
        count = self._null_mismatches
        return count() if count is not None and self.mismatches else 0


@dataclass
class CompareResult:
    """Everything a person or a machine needs to know about one comparison."""

    keys: list[str]
    rows_expected: int
    rows_actual: int
    rows_matched: int
    missing_keys: KeyDiff
    extra_keys: KeyDiff
    duplicate_keys_expected: KeyDiff
    duplicate_keys_actual: KeyDiff
    missing_columns: list[str]
    extra_columns: list[str]
    type_changes: list[dict[str, Any]]
    columns: dict[str, ColumnStats]
    elapsed_s: float
    hints: list[str] = field(default_factory=list)

    @property
    def mismatch_counts(self) -> dict[str, int]:
        return {name: c.mismatches for name, c in self.columns.items()}

    @property
    def failing_columns(self) -> list[str]:
        return [
            name for name, c in self.columns.items() if c.mismatches or c.kind == "incomparable"
        ]

    @property
    def schema_ok(self) -> bool:
        return (
            not self.missing_columns
            and not self.extra_columns
            and all(t["tolerated"] for t in self.type_changes)
        )

    @property
    def keys_ok(self) -> bool:
        return not (
            self.missing_keys
            or self.extra_keys
            or self.duplicate_keys_expected
            or self.duplicate_keys_actual
        )

    @property
    def values_ok(self) -> bool:
        return not self.failing_columns

    @property
    def passed(self) -> bool:
        return self.schema_ok and self.keys_ok and self.values_ok

    def __bool__(self) -> bool:
        return self.passed

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (non-finite floats become strings) that the reports read."""
        return {
            "passed": self.passed,
            "keys": list(self.keys),
            "rows": {
                "expected": self.rows_expected,
                "actual": self.rows_actual,
                "matched": self.rows_matched,
            },
            "missing_keys": {
                "count": self.missing_keys.count,
                "sample": jsonable(self.missing_keys.sample),
            },
            "extra_keys": {
                "count": self.extra_keys.count,
                "sample": jsonable(self.extra_keys.sample),
            },
            "duplicate_keys": {
                "expected": self.duplicate_keys_expected.count,
                "actual": self.duplicate_keys_actual.count,
                "sample_expected": jsonable(self.duplicate_keys_expected.sample),
                "sample_actual": jsonable(self.duplicate_keys_actual.sample),
            },
            "schema": {
                "missing_columns": list(self.missing_columns),
                "extra_columns": list(self.extra_columns),
                "type_changes": jsonable(self.type_changes),
            },
            "columns": {
                name: {
                    "type": c.expected_type,
                    "actual_type": c.actual_type,
                    "kind": c.kind,
                    "rtol": c.rtol,
                    "atol": c.atol,
                    "mismatches": c.mismatches,
                    "null_mismatches": c.null_mismatches,
                    "max_abs_diff": jsonable(c.max_abs_diff),
                    "max_rel_diff": jsonable(c.max_rel_diff),
                }
                for name, c in self.columns.items()
            },
            "mismatch_counts": self.mismatch_counts,
            "failing_columns": self.failing_columns,
            "samples": {name: jsonable(c.sample) for name, c in self.columns.items() if c.sample},
            "hints": list(self.hints),
            "elapsed_s": round(self.elapsed_s, 3),
        }


def jsonable(value: Any) -> Any:
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if hasattr(value, "asDict"):
        return jsonable(value.asDict(recursive=True))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)  # Decimal and anything exotic: exact text, never a lossy float
