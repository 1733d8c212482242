"""Plain-text rendering of a comparison: what `pytest -k model_x` prints on failure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from harness.golden.provenance import describe
from harness.report.records import failing_columns

if TYPE_CHECKING:
    from harness.compare import CompareResult


def _fmt(value: Any) -> str:
    """A data value (a key, an expected or actual value) exactly: floats in their shortest
    round-trip form, so two different values never print alike (0.9999998875 is not 1)."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    return repr(value) if isinstance(value, str) else str(value)


def _fmt_diff(value: Any) -> str:
    """A difference or a tolerance: four significant digits are enough to judge it."""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.3e}"
    return str(value)


def _keys_line(
    label: str, block: dict[str, Any] | None, count: int | None = None, sample: list | None = None
) -> str | None:
    count = block.get("count", 0) if block is not None else count
    sample = block.get("sample", []) if block is not None else sample
    if not count:
        return None
    shown = "; ".join(_fmt(k) for k in (sample or [])[:5])
    return f"  {label}: {count:,}" + (f"  e.g. {shown}" if shown else "")


def format_comparison(result: CompareResult | Mapping[str, Any], max_examples: int = 5) -> str:
    """Readable summary: verdict, rows, key problems, schema drift, failing columns, examples.

    ``result`` is a ``CompareResult`` (its failure examples are fetched now) or its
    ``to_dict()``, so a report can be rendered again from ``summary.json`` alone."""
    if not isinstance(result, Mapping):
        result = result.to_dict()
    rows = result.get("rows", {})
    verdict = "PASSED" if result.get("passed") else "FAILED"
    lines = [
        f"parity {verdict}: {rows.get('expected', 0):,} expected rows, "
        f"{rows.get('actual', 0):,} actual rows, {rows.get('matched', 0):,} matched on "
        f"({', '.join(result.get('keys', []))})"
    ]
    dup = result.get("duplicate_keys", {})
    for line in (
        _keys_line("keys missing from actual", result.get("missing_keys")),
        _keys_line("keys only in actual (extra)", result.get("extra_keys")),
        _keys_line(
            "duplicate keys in expected (golden)",
            None,
            dup.get("expected"),
            dup.get("sample_expected"),
        ),
        _keys_line("duplicate keys in actual", None, dup.get("actual"), dup.get("sample_actual")),
    ):
        if line:
            lines.append(line)
    schema = result.get("schema", {})
    if schema.get("missing_columns"):
        lines.append(f"  columns missing from actual: {', '.join(schema['missing_columns'])}")
    if schema.get("extra_columns"):
        lines.append(f"  columns only in actual: {', '.join(schema['extra_columns'])}")
    for change in schema.get("type_changes", []):
        state = "tolerated" if change.get("tolerated") else "NOT tolerated"
        lines.append(
            f"  type change {change['column']}: {change['expected']} -> "
            f"{change['actual']} ({state})"
        )

    columns = result.get("columns", {})
    failing = [(name, columns[name]) for name in failing_columns(result)]
    if failing:
        lines.append(f"  {len(failing)} of {len(columns)} compared columns differ:")
        width = max(len(name) for name, _ in failing)
        for name, c in sorted(failing, key=lambda nc: -(nc[1].get("mismatches") or 0)):
            if c.get("kind") == "incomparable":
                lines.append(
                    f"    {name:<{width}}  types {c['type']} vs {c['actual_type']} "
                    "cannot be compared"
                )
                continue
            tol = (
                f"rtol={c['rtol']:g} atol={c['atol']:g}" if c.get("kind") == "numeric" else "exact"
            )
            stats = f"{c['mismatches']:,} rows ({tol})"
            if c.get("max_rel_diff") is not None:
                stats += (
                    f", max abs diff {_fmt_diff(c['max_abs_diff'])}, "
                    f"max rel diff {_fmt_diff(c['max_rel_diff'])}"
                )
            if c.get("null_mismatches"):
                stats += f", {c['null_mismatches']:,} null vs value"
            lines.append(f"    {name:<{width}}  {stats}")
        lines.append("  examples (key: expected -> actual):")
        samples = result.get("samples", {})
        for name, _c in failing:
            for s in samples.get(name, [])[:max_examples]:
                diff = (
                    f"  (abs diff {_fmt_diff(s.get('abs_diff'))}, "
                    f"rel diff {_fmt_diff(s['rel_diff'])})"
                    if s.get("rel_diff") not in (None, 0)
                    else ""
                )
                lines.append(
                    f"    {name} @ {_fmt(s.get('key', {}))}: {_fmt(s.get('expected'))}"
                    f" -> {_fmt(s.get('actual'))}{diff}"
                )
    found = [h for h in result.get("hints", []) if h]
    if found:  # ranked causes first (harness.explain.attribute), then code-free hints
        lines.append("  why it may differ:")
        lines += [f"    {hint}" for hint in found]
    return "\n".join(lines)


def format_changes(changes: Iterable[str]) -> str:
    """What changed since the golden was made (a model's fingerprint changes), or ""."""
    changes = list(changes)
    if not changes:
        return ""
    return "  changed since the golden was made:\n    " + "\n    ".join(changes)


def format_golden_source(source: Mapping[str, Any] | None) -> str:
    """Where the golden came from (``golden.provenance``), one indented line; "" if unknown."""
    return f"  golden: {describe(source)}" if source else ""
