"""The report's inline SVG chart: max relative difference per column, on a log10 scale.

Horizontal bars, failing columns in red, the column's rtol as a tick; infinities, NaN,
exact zeros and unknown values are drawn distinctly instead of breaking the scale. A failing
column is drawn as failing whatever its max relative difference: one that fails with no
difference to draw (NULL against a value, a text column, types that cannot be compared:
max_rel_diff 0, None or NaN) gets a red outline across the scale saying why, e.g. "fails:
1,879 NULL vs value", and no rtol tick, never the green "0 (exact)" of a passing column; it
sorts near the top, and a chart cut to its largest rows keeps every failing column. Inline
SVG, because the page must render offline with no scripts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from harness.report.cells import esc, fmt_g, mapping, num
from harness.report.records import failing_columns

_MAX_CHART_COLUMNS = 60

_RED, _GREEN, _INK = "#cf222e", "#2da44e", "#1f2328"


class Bar(NamedTuple):
    """One row of the chart. ``why`` says how a failing column fails (e.g. "1,879 NULL vs
    value"); it is shown when the column has no difference to draw."""

    name: str
    value: float | None  # max relative difference
    rtol: float | None
    failing: bool
    why: str = ""


def chart(comparison: Mapping[str, Any]) -> str:
    columns = mapping(comparison.get("columns"))
    counts = mapping(comparison.get("mismatch_counts"))
    failing = set(failing_columns(comparison))
    names = list(dict.fromkeys([*map(str, columns), *sorted(failing)]))
    if not names:
        return ""
    items = []
    for n in names:
        col = mapping(columns.get(n))
        why = _why_failing(col, counts.get(n)) if n in failing else ""
        items.append(Bar(n, num(col.get("max_rel_diff")), num(col.get("rtol")), n in failing, why))
    items.sort(key=_chart_order)
    # the largest first, but never leave a failing column out
    shown = [b for i, b in enumerate(items) if i < _MAX_CHART_COLUMNS or b.failing]
    note = (
        f'<p class="muted">Showing {len(shown)} of {len(items)} columns: every failing '
        "column and the largest of the others.</p>"
        if len(items) > len(shown)
        else ""
    )
    return "<h3>Max relative difference per column (log scale)</h3>" + svg_bars(shown) + note


def _why_failing(col: Mapping[str, Any], count: Any = None) -> str:
    """How a failing column fails, from its statistics: "1,879 NULL vs value", "12 rows
    (3 NULL vs value)", "12 rows", "types cannot be compared", or "" when unknown."""
    if col.get("kind") == "incomparable":
        return "types cannot be compared"
    mismatches = num(col.get("mismatches", count))
    nulls = num(col.get("null_mismatches"))
    if mismatches is None or not math.isfinite(mismatches) or mismatches <= 0:
        return ""
    if nulls is not None and math.isfinite(nulls) and nulls > 0:
        if nulls >= mismatches:
            return f"{nulls:,.0f} NULL vs value"
        return f"{mismatches:,.0f} rows ({nulls:,.0f} NULL vs value)"
    return f"{mismatches:,.0f} rows"


def _drawable(value: float | None) -> bool:
    """A max relative difference that makes a bar: a non-zero number or infinity."""
    return value is not None and not math.isnan(value) and value != 0


def _chart_order(item: Bar) -> tuple[int, float]:
    """inf first, then NaN and failing columns with no difference to draw, then largest
    finite, then exact zeros, then unknown."""
    value, is_failing = item[1], item[3]
    if is_failing and not _drawable(value):
        return (1, 0.0)
    if value is None:
        return (4, 0.0)
    if math.isnan(value):
        return (1, 0.0)
    if math.isinf(value):
        return (0, 0.0)
    if value == 0:
        return (3, 0.0)
    return (2, -abs(value))


def svg_bars(items: Iterable[tuple[Any, ...]]) -> str:
    """The chart's SVG from :class:`Bar` rows (or plain tuples in the same order)."""
    bars = [Bar(*item) for item in items]
    values, rtols = [b.value for b in bars], [b.rtol for b in bars]
    positives = [abs(v) for v in values if v is not None and math.isfinite(v) and v != 0]
    positives += [t for t in rtols if t is not None and math.isfinite(t) and t > 0]
    if positives:
        lo = max(math.floor(math.log10(min(positives))), -320)
        # up to at least 1e0 (100 %): the largest finite bar never looks like an infinite one
        hi = max(math.ceil(math.log10(max(positives))), 0)
    else:
        lo, hi = -12, 0
    if hi <= lo:
        hi = lo + 1
    label_w, bar_w, value_w, row_h, top = 200, 520, 110, 22, 30
    width = label_w + bar_w + value_w
    height = top + row_h * len(bars) + 26

    def x_of(v: float) -> float:
        frac = (math.log10(v) - lo) / (hi - lo)
        return label_w + min(max(frac, 0.0), 1.0) * bar_w

    out = [
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'role="img" aria-label="Max relative difference per column, log scale">'
    ]
    step = max(1, math.ceil((hi - lo) / 8))
    for exp in range(lo, hi + 1, step):
        x = label_w + (exp - lo) / (hi - lo) * bar_w
        out.append(
            f'<line class="axis" x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" '
            f'y2="{height - 26}"/><text class="tick" x="{x:.1f}" y="{top - 10}" '
            f'text-anchor="middle">1e{exp}</text>'
        )
    for i, (name, value, rtol, is_failing, why) in enumerate(bars):
        y = top + i * row_h
        short = name if len(name) <= 30 else name[:29] + "…"
        fails = "fails: " + why if why else "fails"
        tip = f"{name}: max rel diff {fmt_g(value, 6)}" + (f"; {fails}" if is_failing else "")
        out.append(
            f"<g><title>{esc(tip)}</title>"
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{esc(short)}</text>'
        )
        color = _RED if is_failing else _GREEN
        text, text_color = fmt_g(value), _INK
        undrawn = is_failing and not _drawable(value)
        if undrawn:
            # fails with no difference to draw: say so across the scale, in red
            text, text_color = ("n/a" if value is None else fmt_g(value)), _RED
            out.append(
                f'<rect class="fails-undrawn" x="{label_w}" y="{y + 4}" width="{bar_w}" '
                f'height="14" fill="{_RED}" fill-opacity="0.08" stroke="{_RED}" '
                'stroke-dasharray="4 3"/>'
                f'<text x="{label_w + 8}" y="{y + 15}" '
                f'style="fill:{_RED};font-weight:700">{esc(fails)}</text>'
            )
        elif value is None:
            text, text_color = "n/a", "#57606a"
        elif math.isnan(value):
            text, text_color = "NaN", "#9a6700"
            out.append(
                f'<rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="14" '
                'fill="none" stroke="#d4a72c" stroke-dasharray="4 3"/>'
            )
        elif math.isinf(value):
            text = "∞"
            out.append(
                f'<rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="14" '
                f'fill="{color}" opacity="0.85"/>'
                f'<text x="{label_w + bar_w - 6}" y="{y + 15}" text-anchor="end" '
                'style="fill:#fff;font-weight:700">→</text>'
            )
        elif value == 0:
            text, text_color = "0 (exact)", "#1a7f37"
        else:
            bar = max(2.0, x_of(abs(value)) - label_w)
            out.append(
                f'<rect x="{label_w}" y="{y + 4}" width="{bar:.1f}" height="14" '
                f'fill="{color}" opacity="0.85"/>'
            )
        if rtol is not None and math.isfinite(rtol) and rtol > 0 and not undrawn:
            xt = x_of(rtol)
            out.append(
                f'<line x1="{xt:.1f}" y1="{y + 1}" x2="{xt:.1f}" y2="{y + 21}" '
                f'stroke="{_INK}" stroke-width="2"/>'
            )
        out.append(
            f'<text x="{label_w + bar_w + 8}" y="{y + 15}" '
            f'style="fill:{text_color}">{esc(text)}</text></g>'
        )
    ly = height - 8
    out.append(
        f'<rect x="{label_w}" y="{ly - 9}" width="10" height="10" fill="{_RED}"/>'
        f'<text x="{label_w + 14}" y="{ly}">failing column</text>'
        f'<rect x="{label_w + 120}" y="{ly - 9}" width="10" height="10" fill="{_GREEN}"/>'
        f'<text x="{label_w + 134}" y="{ly}">within tolerance</text>'
        f'<line x1="{label_w + 250}" y1="{ly - 10}" x2="{label_w + 250}" y2="{ly + 2}" '
        f'stroke="{_INK}" stroke-width="2"/>'
        f'<text x="{label_w + 256}" y="{ly}">rtol</text>'
    )
    out.append("</svg>")
    return "".join(out)
