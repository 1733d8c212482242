"""Comparison results built by hand, without Spark, for tests of what reads them (hints,
the text report): they render through the real ``CompareResult.to_dict()``, so the tests
see the dict shape a real comparison produces."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.compare.examples import mismatch
from harness.compare.result import ColumnStats, CompareResult, KeyDiff

NUMERIC = ("double", "float", "int", "bigint", "smallint", "tinyint", "decimal")


def key_diff(*sample: dict[str, Any], count: int | None = None) -> KeyDiff:
    """Keys on one side only: ``sample`` (all of them unless ``count`` says more)."""
    return KeyDiff(len(sample) if count is None else count, lambda: list(sample))


def column(
    name: str,
    dtype: str = "double",
    *,
    kind: str | None = None,
    actual_type: str | None = None,
    mismatches: int = 0,
    max_abs: float | None = None,
    max_rel: float | None = None,
    nulls: int = 0,
    examples: Sequence[tuple[dict[str, Any], Any, Any]] = (),
    rtol: float = 1e-9,
    atol: float = 0.0,
) -> ColumnStats:
    """One column's statistics; ``examples`` are (key, expected, actual) mismatches."""
    kind = kind or ("numeric" if dtype.startswith(NUMERIC) else "exact")
    samples = [mismatch(key, e, a, kind) for key, e, a in examples]
    return ColumnStats(
        name,
        dtype,
        actual_type or dtype,
        kind,
        rtol,
        atol,
        mismatches,
        max_abs,
        max_rel,
        _sample=lambda: samples,
        _null_mismatches=lambda: nulls,
    )


def comparison(
    *columns: ColumnStats,
    keys: Sequence[str] = ("id",),
    rows: tuple[int, int, int] = (3, 3, 3),
    missing: KeyDiff | None = None,
    extra: KeyDiff | None = None,
    duplicates_expected: KeyDiff | None = None,
    duplicates_actual: KeyDiff | None = None,
    missing_columns: Sequence[str] = (),
    extra_columns: Sequence[str] = (),
    type_changes: Sequence[dict[str, Any]] = (),
    hints: Sequence[str] = (),
) -> CompareResult:
    """A comparison of ``rows`` (expected, actual, matched) over ``columns``."""
    return CompareResult(
        list(keys),
        *rows,
        missing or key_diff(),
        extra or key_diff(),
        duplicates_expected or key_diff(),
        duplicates_actual or key_diff(),
        list(missing_columns),
        list(extra_columns),
        list(type_changes),
        {c.name: c for c in columns},
        elapsed_s=0.0,
        hints=list(hints),
    )
