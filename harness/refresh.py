"""What a golden refresh changes: the new output against the version it replaces.

A refresh within tolerance would otherwise say only "parity PASSED" and a reviewer would
see the change only by reading ``summary.ambr``. So a refresh compares the new output with
the golden in force *at zero tolerance* (the comparison engine, every column, nothing
ignored): per column how many values changed, the largest absolute and relative change and
how many values became or stopped being NULL; keys added and removed; columns added,
removed or retyped; and null counts that moved (from the two manifests' statistics). The
plugin prints it and records it in the new version's provenance (``changes``).
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, SparkSession

from harness.compare import compare
from harness.golden import GoldenRef, GoldenStore, column_stats


def changes_against_current(
    spark: SparkSession,
    store: GoldenStore,
    ref: GoldenRef,
    new: DataFrame,
    *,
    keys: list[str],
    type_policy: str = "widening",
) -> dict[str, Any] | None:
    """What ``new`` changes against the golden in force, or None when there is none."""
    if not store.exists(ref):
        return None
    old, manifest = store.read(spark, ref)
    result = compare(old, new, keys=keys, rtol=0.0, atol=0.0, type_policy=type_policy).to_dict()
    rows = result["rows"]
    columns = {
        name: {
            "changed": c["mismatches"],
            "max_abs_change": c["max_abs_diff"],
            "max_rel_change": c["max_rel_diff"],
            "null_changes": c["null_mismatches"],
        }
        for name, c in result["columns"].items()
        if c["mismatches"] or c["kind"] == "incomparable"
    }
    before = {n: s.get("nulls") for n, s in (manifest.get("stats") or {}).items()}
    after = {n: s.get("nulls") for n, s in column_stats(new).items()}
    return {
        "against": manifest["version"],
        "rows": {"before": rows["expected"], "after": rows["actual"], "matched": rows["matched"]},
        "keys_added": result["extra_keys"]["count"],
        "keys_removed": result["missing_keys"]["count"],
        "duplicate_keys": result["duplicate_keys"]["actual"],
        "schema": result["schema"],
        "columns": columns,
        "null_counts": {
            n: {"before": before[n], "after": after[n]}
            for n in before
            if n in after and before[n] != after[n]
        },
    }


def format_changes(changes: dict[str, Any] | None) -> list[str]:
    """The changes as report lines ("new golden" when nothing was replaced)."""
    if changes is None:
        return ["new golden (no earlier version)"]
    rows = changes["rows"]
    lines = [
        f"against {changes['against']}: {rows['before']:,} -> {rows['after']:,} rows, "
        f"{changes['keys_added']:,} keys added, {changes['keys_removed']:,} removed"
    ]
    schema = changes["schema"]
    for label, names in (
        ("added", schema["extra_columns"]),
        ("removed", schema["missing_columns"]),
    ):
        if names:
            lines.append(f"  columns {label}: {', '.join(names)}")
    for t in schema["type_changes"]:
        lines.append(f"  column {t['column']}: type {t['expected']} -> {t['actual']}")
    for name, c in changes["columns"].items():
        line = f"  {name}: {c['changed']:,} of {rows['matched']:,} values changed"
        if c["max_abs_change"] is not None:
            line += (
                f", largest change {_g(c['max_abs_change'])} absolute, "
                f"{_g(c['max_rel_change'])} relative"
            )
        if c["null_changes"]:
            line += f", {c['null_changes']:,} became or stopped being NULL"
        lines.append(line)
    for name, n in changes["null_counts"].items():
        lines.append(f"  {name}: null count {n['before']:,} -> {n['after']:,}")
    if len(lines) == 1 and not changes["duplicate_keys"]:
        lines[0] += "; no value changed"
    return lines


def _g(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
