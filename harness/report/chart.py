"""The report's inline SVG chart: max relative difference per column, on a log10 scale.

Horizontal bars, failing columns in red, the column's rtol as a tick; infinities, NaN,
exact zeros and unknown values are drawn distinctly instead of breaking the scale. Inline
SVG, because the page must render offline with no scripts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from harness.report.cells import esc, fmt_g, mapping, num
from harness.report.records import failing_columns

_MAX_CHART_COLUMNS = 60


def chart(comparison: Mapping[str, Any]) -> str:
    columns = mapping(comparison.get("columns"))
    failing = set(failing_columns(comparison))
    names = list(dict.fromkeys([*map(str, columns), *sorted(failing)]))
    if not names:
        return ""
    items = [
        (
            n,
            num(mapping(columns.get(n)).get("max_rel_diff")),
            num(mapping(columns.get(n)).get("rtol")),
            n in failing,
        )
        for n in names
    ]
    items.sort(key=_chart_order)
    shown = items[:_MAX_CHART_COLUMNS]
    note = (
        f'<p class="muted">Showing the {len(shown)} largest of {len(items)} columns.</p>'
        if len(items) > len(shown)
        else ""
    )
    return "<h3>Max relative difference per column (log scale)</h3>" + svg_bars(shown) + note


def _chart_order(item: tuple[str, float | None, float | None, bool]) -> tuple[int, float]:
    """inf first, then NaN, then largest finite, then exact zeros, then unknown."""
    value = item[1]
    if value is None:
        return (4, 0.0)
    if math.isnan(value):
        return (1, 0.0)
    if math.isinf(value):
        return (0, 0.0)
    if value == 0:
        return (3, 0.0)
    return (2, -abs(value))


def svg_bars(items: Iterable[tuple[str, float | None, float | None, bool]]) -> str:
    items = list(items)
    positives = [abs(v) for _, v, _, _ in items if v is not None and math.isfinite(v) and v != 0]
    positives += [t for _, _, t, _ in items if t is not None and math.isfinite(t) and t > 0]
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
    height = top + row_h * len(items) + 26

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
    for i, (name, value, rtol, is_failing) in enumerate(items):
        y = top + i * row_h
        short = name if len(name) <= 30 else name[:29] + "…"
        out.append(
            f"<g><title>{esc(name)}: {esc(fmt_g(value, 6))}</title>"
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{esc(short)}</text>'
        )
        color = "#cf222e" if is_failing else "#2da44e"
        text, text_color = fmt_g(value), "#1f2328"
        if value is None:
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
        if rtol is not None and math.isfinite(rtol) and rtol > 0:
            xt = x_of(rtol)
            out.append(
                f'<line x1="{xt:.1f}" y1="{y + 1}" x2="{xt:.1f}" y2="{y + 21}" '
                'stroke="#1f2328" stroke-width="2"/>'
            )
        out.append(
            f'<text x="{label_w + bar_w + 8}" y="{y + 15}" '
            f'style="fill:{text_color}">{esc(text)}</text></g>'
        )
    ly = height - 8
    out.append(
        f'<rect x="{label_w}" y="{ly - 9}" width="10" height="10" fill="#cf222e"/>'
        f'<text x="{label_w + 14}" y="{ly}">failing column</text>'
        f'<rect x="{label_w + 120}" y="{ly - 9}" width="10" height="10" fill="#2da44e"/>'
        f'<text x="{label_w + 134}" y="{ly}">within tolerance</text>'
        f'<line x1="{label_w + 250}" y1="{ly - 10}" x2="{label_w + 250}" y2="{ly + 2}" '
        f'stroke="#1f2328" stroke-width="2"/>'
        f'<text x="{label_w + 256}" y="{ly}">rtol</text>'
    )
    out.append("</svg>")
    return "".join(out)
