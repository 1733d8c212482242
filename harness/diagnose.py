"""Why may an output differ? Hints from the shape of the differences and the model's code.

The Hive-to-Spark differences that break parity leave signatures: a few 1e-4..1e-2
relative drifts in a column computed with ``percentile_approx``; NULL-vs-value where the
code casts strings (Hive: NULL on a bad cast; Spark ANSI: error or a value); whole-hour
timestamp shifts (time zones); integer-vs-fraction (``/`` and ``DIV``); 1e-15..1e-12
noise (summation order). Each hint names the column, the evidence and where to look.
"""

from __future__ import annotations

import math
import re
from typing import Any

from harness.spec import ModelSpec

_CODE_PATTERNS = [
    (
        re.compile(r"\bpercentile_approx\s*\(", re.I),
        "percentile_approx",
        "uses percentile_approx: Hive's and Spark's algorithms differ (relative 1e-5..1e-2); "
        "compare with spark.sql's percentile() or approve a column tolerance",
    ),
    (
        re.compile(r"\bcast\s*\(", re.I),
        "cast",
        "casts values: Hive returns NULL for a bad cast, Spark's ANSI mode raises or (try_cast) "
        "returns NULL; check spark.sql.ansi.enabled and the input's bad values",
    ),
    (
        re.compile(
            r"\b(from_unixtime|unix_timestamp|to_utc_timestamp|from_utc_timestamp|"
            r"current_timestamp|to_date)\s*\(",
            re.I,
        ),
        "time",
        "converts times: the session time zone (Hive: the server's; here UTC) shifts results",
    ),
    (
        re.compile(r"\bround\s*\(", re.I),
        "round",
        "rounds: check HALF_UP (Hive, Spark round) vs HALF_EVEN (bround, R's round)",
    ),
    (
        re.compile(r"\bDIV\b|/\s*\d+\b", re.I),
        "division",
        "divides: Hive's '/' always returns DOUBLE, DIV is integral; decimal division precision "
        "differs between Hive and Spark",
    ),
]


def _code_text(spec: ModelSpec) -> str:
    parts = []
    for path in spec.code_files:
        if path.suffix.lower() in (".sql", ".hql", ".py", ".r"):
            try:
                parts.append(path.read_text(errors="replace"))
            except OSError:
                continue
    return "\n".join(parts)


def hints(result: dict[str, Any], spec: ModelSpec | None = None) -> list[str]:
    """Plausible causes for each failing column, most specific first."""
    code = _code_text(spec) if spec is not None else ""
    found = {tag: text for pattern, tag, text in _CODE_PATTERNS if pattern.search(code)}
    out: list[str] = []
    for name, col in result.get("columns", {}).items():
        if not col.get("mismatches"):
            continue
        rel = col.get("max_rel_diff")
        rel = rel if isinstance(rel, (int, float)) else None
        if col.get("null_mismatches"):
            msg = (
                f"{name}: {col['null_mismatches']:,} rows are NULL on one side only — "
                "typical of casts of dirty strings (Hive NULL vs Spark ANSI) or of a "
                "changed join/filter"
            )
            if "cast" in found:
                msg += "; the model " + found["cast"]
            out.append(msg)
        if rel is not None and 0 < rel < 1e-11:
            out.append(
                f"{name}: max rel diff {rel:.1e} is floating-point noise (summation "
                "order differs between engines/partitionings); an rtol of 1e-11 would "
                "accept it"
            )
        elif rel is not None and 1e-7 <= rel <= 5e-2 and "percentile_approx" in found:
            out.append(f"{name}: max rel diff {rel:.1e} — the model {found['percentile_approx']}")
        if col.get("type", "").startswith("timestamp") and "time" in found:
            out.append(f"{name}: the model {found['time']}")
        samples = result.get("samples", {}).get(name, [])
        if samples and all(
            _integral(s.get("expected")) and not _integral(s.get("actual"))
            for s in samples
            if s.get("actual") is not None
        ):
            out.append(
                f"{name}: golden values are whole numbers, new ones are not — integer "
                "vs fractional division or a lost CAST"
            )
        if rel is not None and rel >= 5e-2 and "round" in found:
            out.append(f"{name}: the model {found['round']}")
    if result.get("duplicate_keys", {}).get("actual"):
        out.append(
            "duplicate keys in the new output: a join fanned out (duplicate reference "
            "rows?) or a dedup step behaves differently"
        )
    if result.get("missing_keys", {}).get("count") or result.get("extra_keys", {}).get("count"):
        out.append(
            "keys differ: check filters on dirty values (NULL/'N/A') and date parsing, "
            "whose results differ between Hive and Spark"
        )
    for change in result.get("schema", {}).get("type_changes", []):
        if not change.get("tolerated"):
            out.append(
                f"{change['column']}: type {change['expected']} became "
                f"{change['actual']} — Spark's type coercion differs from Hive's "
                "(e.g. int/int is DOUBLE, decimal precision)"
            )
    near_zero = near_zero_hint(result)
    if near_zero:
        out.append(near_zero)
    return out


NEAR_ZERO_MAX_ABS = 1e-6  # absolute differences this small are "tiny" ...
NEAR_ZERO_MIN_REL = 1e-3  # ... while relative ones this large are "huge": the golden is ~0


def near_zero_hint(result: dict[str, Any]) -> str | None:
    """An absolute tolerance for columns that fail only where the golden is near zero, or None.

    Where a value is ~0 a relative tolerance means nothing: R floors fitted probabilities at
    2.2e-16 while statsmodels goes down to 1e-21, a relative difference of 1 for an absolute
    one of 2e-16. Such a column shows huge relative differences (>= 1e-3) and tiny absolute
    ones (<= 1e-6) and no NULL-vs-value rows. Its largest absolute difference (the engine's
    ``max_abs_diff`` over the compared rows), rounded up to two digits, is an ``atol`` that
    makes every row pass: |actual - expected| <= max(rtol * |expected|, atol).
    Self-contained (reads only ``CompareResult.to_dict()``), so it can move with the hints.
    """
    found = []
    for name, col in (result.get("columns") or {}).items():
        if col.get("kind") != "numeric" or not col.get("mismatches") or col.get("null_mismatches"):
            continue
        abs_diff, rel_diff = _number(col.get("max_abs_diff")), _number(col.get("max_rel_diff"))
        if abs_diff is None or rel_diff is None or math.isnan(rel_diff):
            continue
        if not (0 < abs_diff <= NEAR_ZERO_MAX_ABS and rel_diff >= NEAR_ZERO_MIN_REL):
            continue
        atol = _round_up(abs_diff)
        pairs = [
            (e, a)
            for s in (result.get("samples") or {}).get(name, [])
            if isinstance(e := s.get("expected"), (int, float))
            and isinstance(a := s.get("actual"), (int, float))
        ]
        example = ""
        if pairs:
            e, a = min(pairs, key=lambda pair: abs(pair[0]))
            example = f", e.g. golden {e!r} vs new {a!r}"
        found.append(
            f"{name}: the failing rows sit where the golden is near zero (max rel diff "
            f"{rel_diff:.3g}, max abs diff {abs_diff:.3g}{example}); a relative tolerance "
            f"means little there: an atol of {atol:g} (the largest absolute difference, "
            f"rounded up) passes every row: columns: {{{name}: {{atol: {atol:g}, reason: ...}}}}"
        )
    return "; ".join(found) or None


def _number(value: Any) -> float | None:
    """A float from a number or the strings to_dict() writes for inf/NaN; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _round_up(value: float) -> float:
    """``value`` rounded up to two significant digits (never below it)."""
    step = 10 ** (math.floor(math.log10(value)) - 1)
    rounded = float(f"{math.ceil(value / step) * step:.2g}")
    return rounded if rounded >= value else float(f"{rounded + step:.2g}")


def _integral(value: Any) -> bool:
    return isinstance(value, (int, float)) and float(value).is_integer()
