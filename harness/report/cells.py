"""Forgiving accessors and formatted values shared by the HTML page and its chart.

Any field of a summary may be absent, None or of the wrong type (a hand-edited or partial
``summary.json``): these read it without raising, and ``esc`` escapes anything for HTML
text or a quoted attribute.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any


def esc(value: Any) -> str:
    """Escape anything for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def seq(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def num(value: Any) -> float | None:
    """A float from a number or a numeric string ('inf', 'NaN'); None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def fmt_g(value: Any, digits: int = 3) -> str:
    """Diffs and tolerances: short, with inf/NaN spelled out instead of crashing."""
    x = num(value)
    if x is None:
        return "—"
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"
