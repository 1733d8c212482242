"""Why an output may differ, from the shape of its differences alone (no code needed).

Floating-point noise (an rtol that accepts it), golden whole numbers against fractional
new ones, duplicate keys, type changes, and failures where the golden is near zero (the
smallest ``atol`` that passes them). :mod:`harness.explain.attribute` prints these after
the causes it finds in the code.
"""

from __future__ import annotations

import math
from typing import Any

FP_NOISE = 1e-11  # relative differences below this are summation-order noise
NEAR_ZERO = 1e-6  # a golden value this small is "near zero" for the atol hint


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def integral(value: Any) -> bool:
    found = number(value)
    return found is not None and math.isfinite(found) and found.is_integer()


def numeric_hints(result: dict[str, Any]) -> list[str]:
    """Hints from the shape of the differences alone (no code needed)."""
    out: list[str] = []
    for name, col in result.get("columns", {}).items():
        if not col.get("mismatches"):
            continue
        rel = number(col.get("max_rel_diff"))
        if rel is not None and 0 < rel < FP_NOISE:
            out.append(
                f"{name}: max rel diff {rel:.1e} is floating-point noise (summation "
                "order differs between engines/partitionings); an rtol of 1e-11 would "
                "accept it"
            )
        samples = result.get("samples", {}).get(name, [])
        pairs = [s for s in samples if s.get("actual") is not None]
        if pairs and all(
            integral(s.get("expected")) and not integral(s.get("actual")) for s in pairs
        ):
            out.append(
                f"{name}: golden values are whole numbers, new ones are not — integer "
                "vs fractional division or a lost CAST"
            )
        near_zero = near_zero_hint(name, col, samples)
        if near_zero:
            out.append(near_zero)
    if (result.get("duplicate_keys") or {}).get("actual"):
        out.append(
            "duplicate keys in the new output: a join fanned out (duplicate reference "
            "rows?) or a dedup step behaves differently"
        )
    for change in (result.get("schema") or {}).get("type_changes", []):
        if not change.get("tolerated"):
            out.append(
                f"{change['column']}: type {change['expected']} became "
                f"{change['actual']} — Spark's type coercion differs from Hive's "
                "(e.g. int/int is DOUBLE, decimal precision)"
            )
    return out


def near_zero_hint(name: str, col: dict[str, Any], samples: list[dict[str, Any]]) -> str:
    """When every sampled failure sits where the golden is near zero (|golden| below
    1e-6): the smallest ``atol`` that passes them — exact when the samples hold every
    failing row, else the column's largest absolute difference (an upper bound)."""
    numeric = [s for s in samples if number(s.get("abs_diff")) is not None]
    if not numeric or len(numeric) != len(samples):
        return ""
    if not all(abs(number(s.get("expected")) or 0.0) < NEAR_ZERO for s in numeric):
        return ""
    complete = len(numeric) >= (col.get("mismatches") or 0)
    worst = max(number(s["abs_diff"]) or 0.0 for s in numeric)
    bound = worst if complete else number(col.get("max_abs_diff"))
    if bound is None or not math.isfinite(bound) or bound <= 0:
        return ""
    atol = _round_up(bound)
    how = "passes every failing row" if complete else "would pass them (an upper bound)"
    return (
        f"{name}: the failures sit where the golden is near zero (|golden| < {NEAR_ZERO:g}), "
        f"where a relative tolerance cannot hold; atol: {atol:.1e} {how}"
    )


def _round_up(value: float) -> float:
    """``value`` rounded up to two significant digits (an atol that still passes it)."""
    exponent = math.floor(math.log10(value)) - 1
    step = 10.0**exponent
    return math.ceil(value / step - 1e-9) * step
